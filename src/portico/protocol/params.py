"""Request parameters as ``name -> [values]``, with the rules every endpoint shares."""

from __future__ import annotations

from portico.protocol.errors import invalid_request

Params = dict[str, list[str]]

# RFC 8707 allows ``resource`` to repeat; Logto also splits ``a,b`` into two.
REPEATABLE = frozenset({"resource"})


def single(params: Params, name: str) -> str | None:
    """The one value of ``name``; repeated parameters are an error (RFC 6749 §3.1)."""
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1 and name not in REPEATABLE:
        raise invalid_request(f"'{name}' parameter must not be provided multiple times")
    value = values[0]
    if "\x00" in value:
        raise invalid_request(f"'{name}' parameter contains a null byte")
    return value or None


def required(params: Params, name: str) -> str:
    value = single(params, name)
    if value is None:
        raise invalid_request(f"missing required parameter '{name}'")
    return value


def resources(params: Params) -> list[str]:
    """``resource`` values, repeated or comma-separated, in order, without duplicates."""
    found: list[str] = []
    for value in params.get("resource", []):
        found.extend(part.strip() for part in value.split(",") if part.strip())
    return list(dict.fromkeys(found))


def scope_set(value: str | None) -> list[str]:
    return list(dict.fromkeys((value or "").split()))
