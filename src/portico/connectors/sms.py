"""What SMS connectors share: text templates (``usageType`` + ``content``), the recipient in
E.164, and the rendered message's bounds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from portico.connectors import templates
from portico.connectors.errors import ConnectorError
from portico.connectors.types import TemplateType
from portico.services.phones import E164_DIGITS

REQUIRED_TEMPLATES = (
    TemplateType.Register,
    TemplateType.SignIn,
    TemplateType.ForgotPassword,
    TemplateType.Generic,
)
# Twilio refuses longer bodies (error 21617); a code message is far shorter anyway.
MAX_BODY = 1600


class SmsTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    usage_type: str = Field(alias="usageType", min_length=1)
    content: str = Field(min_length=1, max_length=MAX_BODY)


def check_templates(value: list[SmsTemplate]) -> list[SmsTemplate]:
    """Register, SignIn, ForgotPassword and Generic must exist, and each template of a usage
    type that sends a code must place it (``{{code}}``): a message without it would spend a
    send and leave the user stuck."""
    present = {t.usage_type for t in value}
    missing = [t.value for t in REQUIRED_TEMPLATES if t.value not in present]
    if missing:
        raise ValueError(f"templates for usage types {', '.join(missing)} are required")
    codeless = [
        t.usage_type
        for t in value
        if t.usage_type in templates.CODE_USAGE_TYPES and not templates.places_code(t.content)
    ]
    if codeless:
        raise ValueError(templates.codeless_message(codeless))
    return value


def e164(to: str) -> str:
    """``+`` and digits: Portico stores numbers as E.164 digits without the ``+`` (as Logto
    does); providers want the ``+``."""
    digits = to.removeprefix("+")
    if not E164_DIGITS.match(digits):
        raise ConnectorError(
            "connector.invalid_request_parameters",
            "The recipient is not an E.164 phone number.",
            reason="invalid_recipient",
        )
    return f"+{digits}"


def body(items: list[SmsTemplate], template_type: str, payload: dict[str, Any]) -> str:
    """The text for ``template_type`` (Generic when it has none), placeholders filled."""
    text = templates.render(templates.select(items, template_type).content, payload)
    if len(text) > MAX_BODY:
        raise ConnectorError(
            "connector.invalid_config",
            f"The rendered message is longer than {MAX_BODY} characters.",
            reason="too_long",
        )
    return text
