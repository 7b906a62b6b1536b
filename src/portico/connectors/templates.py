"""Message templates: ``{{ code }}`` placeholders with dotted paths, chosen by usage type.

Facts kept from Logto: a placeholder whose root key is not in the payload is left as written
(so a typo shows up in the test message instead of vanishing); a null value renders as ''; the
template for a usage type falls back to ``Generic``. One deliberate difference: values put into
an HTML template are HTML-escaped, since payloads may carry names users chose themselves.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from portico.connectors.errors import ConnectorError
from portico.connectors.types import TemplateType

PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_MISSING = object()
# The usage types whose message carries a verification code: all but the invitation (a link).
CODE_USAGE_TYPES = frozenset(t.value for t in TemplateType) - {TemplateType.OrganizationInvitation}


def places_code(*texts: str) -> bool:
    """Whether one of ``texts`` has a ``{{code}}`` placeholder."""
    return any(m.group(1) == "code" for text in texts for m in PLACEHOLDER.finditer(text))


def codeless_message(usage_types: Sequence[str]) -> str:
    """What a config check says of code-sending templates that would send no code."""
    names = ", ".join(dict.fromkeys(usage_types))
    return (
        f"the {names} template{'s' if len(set(usage_types)) > 1 else ''} must contain "
        "{{code}} where the verification code goes: without it the message arrives with no code"
    )


def _lookup(payload: dict[str, Any], path: str) -> Any:
    root, *rest = path.split(".")
    if root not in payload:
        return _MISSING
    value: Any = payload[root]
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
        if value is None:
            return None
    return value


def render(template: str, payload: dict[str, Any], *, escape_html: bool = False) -> str:
    """Replace every ``{{ path }}`` of ``template`` with its value in ``payload``."""

    def replace(match: re.Match[str]) -> str:
        value = _lookup(payload, match.group(1))
        if value is _MISSING:
            return match.group(0)
        text = "" if value is None else str(value)
        return html.escape(text) if escape_html else text

    return PLACEHOLDER.sub(replace, template)


class UsageTemplate(Protocol):
    @property
    def usage_type(self) -> str: ...


T = TypeVar("T", bound=UsageTemplate)


def select(templates: Sequence[T], template_type: str) -> T:
    """The template for ``template_type``, else the Generic one."""
    for wanted in (str(template_type), TemplateType.Generic.value):
        for template in templates:
            if template.usage_type == wanted:
                return template
    raise ConnectorError(
        "connector.template_not_found",
        f"No template for usage type {template_type!r} and no Generic template.",
        reason="template_not_found",
    )
