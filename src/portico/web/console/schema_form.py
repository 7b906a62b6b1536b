"""A connector's set-up form, made from its config model's JSON schema.

Each top-level property becomes one field: strings, integers and enums get inputs,
booleans a checkbox (a three-way choice when ``null`` means "the default"), confidential
strings a password input that keeps the stored value when left blank, and everything
structured (objects, arrays such as ``templates``, unions of models such as SMTP ``auth``)
a JSON textarea checked on submit. Errors come back per field: JSON syntax here, the rest
from the connector's own Pydantic validation (``ConnectorError.data``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portico.connectors.secrets import MASK, confidential_paths
from portico.web.console.language import Phrases

TEXT, SECRET, INTEGER, BOOLEAN, TRISTATE, CHOICE, JSON = (
    "text", "secret", "integer", "boolean", "tristate", "choice", "json",
)  # fmt: skip


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str
    required: bool
    description: str = ""
    options: tuple[str, ...] = ()
    default: Any = None
    holds_secret: bool = False
    example: str = ""  # the schema's first ``examples`` entry, shown as the placeholder

    @property
    def advanced(self) -> bool:
        """Optional settings go under "Advanced", except those holding a credential."""
        return not (self.required or self.holds_secret)


def label_of(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    return " ".join([words[0].capitalize(), *(w if w.isupper() else w.lower() for w in words[1:])])


def _plain(prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property without its ``null`` alternative, and whether null was allowed."""
    options = prop.get("anyOf")
    if not options:
        return prop, False
    concrete = [o for o in options if o.get("type") != "null"]
    nullable = len(concrete) < len(options)
    if len(concrete) == 1:
        return {**prop, **concrete[0]}, nullable
    return {**prop, "type": "union"}, nullable


def _kind(prop: dict[str, Any], nullable: bool) -> str:
    if prop.get("isConfidential") and prop.get("type") == "string":
        return SECRET
    if "enum" in prop:
        return CHOICE
    kind = prop.get("type")
    if kind == "boolean":
        return TRISTATE if nullable and prop.get("default") is None else BOOLEAN
    if kind == "integer":
        return INTEGER
    if kind == "string":
        return TEXT
    return JSON


def fields_of(schema: dict[str, Any]) -> list[FormField]:
    required = set(schema.get("required") or [])
    secret_holders = {path[0] for path in confidential_paths(schema)}
    fields = []
    for name, raw in (schema.get("properties") or {}).items():
        prop, nullable = _plain(raw)
        fields.append(
            FormField(
                name=name,
                label=label_of(name),
                kind=_kind(prop, nullable),
                required=name in required,
                description=prop.get("description") or "",
                options=tuple(str(o) for o in prop.get("enum") or ()),
                default=prop.get("default"),
                holds_secret=name in secret_holders,
                example=_example(prop),
            )
        )
    return fields


def _example(prop: dict[str, Any]) -> str:
    examples = prop.get("examples") or [None]
    first = examples[0] if isinstance(examples, list) else None
    if first is None:
        return ""
    return first if isinstance(first, str) else json.dumps(first, ensure_ascii=False)


def values_of(fields: list[FormField], config: dict[str, Any]) -> dict[str, str]:
    """What each input shows for a (masked) config; secrets are never shown, only whether
    one is stored."""
    values: dict[str, str] = {}
    for f in fields:
        value = config.get(f.name, f.default)
        if f.kind == SECRET:
            values[f.name] = ""
        elif f.kind == JSON:
            values[f.name] = "" if value in (None, {}, []) else json.dumps(value, indent=2)
        elif f.kind in (BOOLEAN, TRISTATE):
            values[f.name] = "" if value is None else ("true" if value else "false")
        else:
            values[f.name] = "" if value is None else str(value)
    return values


def parse(
    fields: list[FormField],
    get: Callable[[str], str],
    t: Phrases,
    stored: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config the form describes, and an error per field it cannot be read from (in the
    admin's language ``t``). ``stored`` is the masked stored config: a blank secret input
    keeps its value."""
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        text = get(f.name)
        if f.kind == BOOLEAN:
            config[f.name] = text in ("true", "on")
        elif f.kind == TRISTATE:
            if text in ("true", "false"):
                config[f.name] = text == "true"
        elif not text.strip():
            if f.kind == SECRET and stored and stored.get(f.name) == MASK:
                config[f.name] = MASK  # keep: the service puts the stored value back
            elif f.required:
                errors[f.name] = t("connector.required")
        elif f.kind == INTEGER:
            try:
                config[f.name] = int(text)
            except ValueError:
                errors[f.name] = t("sie.whole_number")
        elif f.kind == CHOICE and text not in f.options:
            errors[f.name] = t("connector.choose_one_of", options=", ".join(f.options))
        elif f.kind == JSON:
            try:
                config[f.name] = json.loads(text)
            except json.JSONDecodeError as error:
                errors[f.name] = t(
                    "connector.not_json", reason=error.msg, line=error.lineno, column=error.colno
                )
        else:
            config[f.name] = text.strip() if f.kind != SECRET else text
    return config, errors


def validation_errors(data: Any) -> dict[str, str]:
    """The connector's ``[{path, message}]`` validation errors, keyed by top-level field."""
    errors: dict[str, str] = {}
    for item in data or []:
        path = str(item.get("path") or "config")
        top, _, rest = path.partition(".")
        message = f"{rest}: {item['message']}" if rest else item["message"]
        errors[top] = f"{errors[top]} {message}" if top in errors else message
    return errors
