"""Twilio SMS (Logto's ``twilio-short-message-service``): Twilio's Programmable Messaging
REST API, ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth
(Account SID and Auth Token) and a form body (``To``, ``MessagingServiceSid`` or ``From``,
``Body``, ``RiskCheck``). Twilio's error JSON (``{code, message, more_info, status}``) is
mapped to Logto's connector error codes in :mod:`.errors`.

``apiBaseUrl`` is Portico's addition (Logto has only ``host``): the whole base URL, so that
tests, or an egress proxy, can stand in for Twilio.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from portico.connectors import http, sms
from portico.connectors.errors import ConnectorError
from portico.connectors.kit import CONFIDENTIAL, MessageConnector
from portico.connectors.twilio.errors import twilio_error
from portico.connectors.types import ConnectorMetadata, ConnectorType

# A Messaging Service's SID ("MG" + 32 hex digits); any other sender (a number, or an
# alphanumeric sender ID such as "MGShop") goes out as ``From``.
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")

DEFAULT_HOST = "api.twilio.com"
README = """Send verification codes by SMS through Twilio.

1. In the Twilio console, copy the Account SID and Auth Token (Account > API keys & tokens).
2. Messaging > Services: create a Messaging Service with your sender number(s); copy its
   SID (MG...) as fromMessagingServiceSID. A sender number (+15550100) works there too.
3. Templates: one per usage type (Register, SignIn, ForgotPassword and Generic are
   required), each with {{code}} where the code goes.
4. For Twilio's Ireland region set host to api.dublin.ie1.twilio.com.
"""


class TwilioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, str_strip_whitespace=True)

    accountSID: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$", description="Account SID (AC...)")
    authToken: SecretStr = Field(min_length=1, max_length=256, json_schema_extra=CONFIDENTIAL)
    fromMessagingServiceSID: str = Field(
        pattern=r"^(MG[0-9a-fA-F]{32}|\+[1-9][0-9]{6,14}|[A-Za-z0-9][A-Za-z0-9 ]{0,10})$",
        description="Messaging Service SID (MG...), or a sender number or alphanumeric ID",
    )
    templates: list[sms.SmsTemplate]
    disableRiskCheck: bool | None = None
    host: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"(?i)^api(\.[0-9a-z]([0-9a-z-]{0,61}[0-9a-z])?)*\.twilio\.com$",
        description="Twilio API host name, e.g. api.dublin.ie1.twilio.com (default api.twilio.com)",
    )
    apiBaseUrl: http.ProviderUrl | None = Field(
        default=None, description="Whole API base URL instead of host (tests, egress proxies)"
    )

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: list[sms.SmsTemplate]) -> list[sms.SmsTemplate]:
        return sms.check_templates(value)

    def messages_url(self) -> str:
        base = self.apiBaseUrl or f"https://{(self.host or DEFAULT_HOST).lower()}"
        return f"{base.rstrip('/')}/2010-04-01/Accounts/{self.accountSID}/Messages.json"


class TwilioSmsConnector(MessageConnector[TwilioConfig]):
    type = ConnectorType.Sms
    config_model = TwilioConfig
    metadata = ConnectorMetadata(
        id="twilio-short-message-service",
        target="twilio-sms",
        platform=None,
        name={"en": "Twilio SMS Service", "es": "Servicio SMS de Twilio", "ko": "Twilio SMS"},
        description={
            "en": "Send verification codes by text message through Twilio.",
            "es": "Envía códigos de verificación por SMS con Twilio.",
        },
        logo="/static/connectors/twilio.svg",
        readme=README,
    )

    async def send_message(self, to: str, template_type: str, payload: dict[str, Any]) -> None:
        config = self.config
        sender = config.fromMessagingServiceSID
        form = {
            "To": sms.e164(to),
            "MessagingServiceSid" if MESSAGING_SERVICE_SID.fullmatch(sender) else "From": sender,
            "Body": sms.body(config.templates, template_type, payload),
            "RiskCheck": "disable" if config.disableRiskCheck else "enable",
        }
        status, raw = await http.fetch(
            "POST",
            config.messages_url(),
            data=form,
            headers={"Accept": "application/json"},
            auth=(config.accountSID, config.authToken.get_secret_value()),
            what="Twilio API",
        )
        if not 200 <= status < 300:  # Twilio answers 201 Created
            raise twilio_error(status, _json(raw))
        answer = _json(raw)
        if not isinstance(answer, dict) or not str(answer.get("sid", "")).startswith(("SM", "MM")):
            raise ConnectorError(
                "connector.invalid_response",
                f"Twilio answered HTTP {status} without a message SID.",
                reason="invalid_response",
            )


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None
