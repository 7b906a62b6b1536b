"""Confidential config values: encrypted at rest, masked on the way out.

Which values are confidential is read from the connector's JSON schema (``isConfidential``),
so a connector author marks a field once and gets both. Values are sealed with AES-256-GCM;
the associated data binds each ciphertext to its tenant, connector row and path, so a value
copied into another row or field does not decrypt.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portico.connectors.errors import ConnectorError

MASK = "******"
SEALED = "$sealed"  # stored shape of a confidential value: {"$sealed": "v1.<base64url>"}
Path = tuple[str, ...]  # "*" stands for every item of a list or every key of a map


def confidential_paths(schema: dict[str, Any]) -> set[Path]:
    """Every path whose schema says ``isConfidential``, through $ref, anyOf and arrays."""
    defs = schema.get("$defs", {})
    found: set[Path] = set()

    def walk(node: dict[str, Any], path: Path, depth: int) -> None:
        if depth > 12:
            return
        if "$ref" in node:
            walk(defs.get(node["$ref"].rsplit("/", 1)[-1], {}), path, depth + 1)
        if node.get("isConfidential"):
            found.add(path)
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, []):
                walk(branch, path, depth + 1)
        for name, child in node.get("properties", {}).items():
            walk(child, (*path, name), depth + 1)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key], (*path, "*"), depth + 1)

    walk(schema, (), 0)
    return found


def _locate(value: Any, path: Path, here: Path = ()) -> Iterator[tuple[Any, str | int, Path]]:
    """(container, key, concrete path) for each value at ``path`` that exists."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        keys: list[Any] = (
            list(range(len(value)))
            if isinstance(value, list)
            else list(value)
            if isinstance(value, dict)
            else []
        )
    else:
        keys = [head] if isinstance(value, dict) and head in value else []
    for key in keys:
        if rest:
            yield from _locate(value[key], rest, (*here, str(key)))
        else:
            yield value, key, (*here, str(key))


def _transform(config: dict[str, Any], paths: AbstractSet[Path], fn: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(config))
    for path in sorted(paths, key=len):
        for container, key, concrete in list(_locate(copy, path)):
            if container[key] is not None:
                container[key] = fn(container[key], concrete)
    return copy


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the encryption key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(
        self, config: dict[str, Any], paths: AbstractSet[Path], context: str
    ) -> dict[str, Any]:
        def seal_one(value: Any, path: Path) -> Any:
            if isinstance(value, dict) and SEALED in value:
                return value  # already sealed (kept from the stored row)
            nonce = os.urandom(12)
            data = self._aead.encrypt(nonce, json.dumps(value).encode(), _aad(context, path))
            return {SEALED: "v1." + base64.urlsafe_b64encode(nonce + data).decode()}

        return _transform(config, paths, seal_one)

    def open(
        self, config: dict[str, Any], paths: AbstractSet[Path], context: str
    ) -> dict[str, Any]:
        def open_one(value: Any, path: Path) -> Any:
            if not (isinstance(value, dict) and SEALED in value):
                return value
            raw = base64.urlsafe_b64decode(value[SEALED].removeprefix("v1."))
            try:
                plain = self._aead.decrypt(raw[:12], raw[12:], _aad(context, path))
            except InvalidTag:
                raise ConnectorError(
                    "connector.general",
                    f"Cannot decrypt the stored value of {'.'.join(path)}: the encryption key "
                    "(PORTICO_ENCRYPTION_KEY) differs from the one it was saved with.",
                    reason="decrypt_failed",
                ) from None
            return json.loads(plain)

        return _transform(config, paths, open_one)


def _aad(context: str, path: Path) -> bytes:
    return f"{context}|{'.'.join(path)}".encode()


def mask(config: dict[str, Any], paths: AbstractSet[Path]) -> dict[str, Any]:
    """The config as the API shows it: confidential values replaced by :data:`MASK`."""
    return _transform(config, paths, lambda value, path: MASK)


def keep_masked(
    new: dict[str, Any], stored: dict[str, Any], paths: AbstractSet[Path]
) -> dict[str, Any]:
    """A console sends the masked config back untouched: where ``new`` still holds the mask,
    take the stored value, so saving a form never overwrites a password with asterisks."""
    result = json.loads(json.dumps(new))
    for path in paths:
        for container, key, concrete in list(_locate(result, path)):
            if container[key] == MASK:
                container[key] = _get(stored, concrete)
    return result


def _get(value: Any, path: Path) -> Any:
    for part in path:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value
