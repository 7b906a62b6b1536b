"""HTTP SMS (Logto's ``http-sms``): hand each message to the admin's own HTTP endpoint, which
sends it through whatever SMS service they use.

``POST <endpoint>`` with JSON ``{"to": "+15550100", "type": "SignIn", "payload": {"code":
"123456", "locale": ..., "uiLocales": ..., "application": {...}}}`` and, when configured,
``Authorization: <authorization>`` (Logto's config). Portico adds an optional HMAC signature
(``signingSecret``) so the endpoint can prove the request came from Portico and is fresh:
``X-Portico-Timestamp: <unix seconds>`` and ``X-Portico-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<raw body>">``. Any 2xx answer means sent; the body is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from portico.connectors import http, sms
from portico.connectors.errors import ConnectorError
from portico.connectors.kit import CONFIDENTIAL, MessageConnector
from portico.connectors.types import ConnectorMetadata, ConnectorType

SIGNATURE = "X-Portico-Signature"
TIMESTAMP = "X-Portico-Timestamp"
README = """Send verification codes through your own HTTP endpoint.

Portico POSTs {"to", "type", "payload": {"code", ...}} as JSON to endpoint (https) and expects
any 2xx once your service has accepted the message. authorization is sent as the
Authorization header (e.g. "Bearer <token>"). With signingSecret, verify X-Portico-Signature
(sha256=HMAC-SHA256 of "<X-Portico-Timestamp>.<raw body>") and refuse old timestamps.
"""


class HttpSmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, str_strip_whitespace=True)

    endpoint: http.ProviderUrl = Field(max_length=2048, description="https URL that sends SMS")
    authorization: SecretStr | None = Field(
        default=None,
        max_length=4096,
        description="Authorization header value, e.g. Bearer <token>",
        json_schema_extra=CONFIDENTIAL,
    )
    signingSecret: SecretStr | None = Field(
        default=None,
        min_length=16,
        max_length=512,
        description="HMAC-SHA256 key for X-Portico-Signature (Portico's addition)",
        json_schema_extra=CONFIDENTIAL,
    )

    @field_validator("authorization")
    @classmethod
    def _one_line(cls, value: SecretStr | None) -> SecretStr | None:
        # A line break would let the value add headers of its own to the request.
        if value is not None and any(c in value.get_secret_value() for c in "\r\n\0"):
            raise ValueError("must be one line")
        return value


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: what the endpoint recomputes to check a request."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class HttpSmsConnector(MessageConnector[HttpSmsConfig]):
    type = ConnectorType.Sms
    config_model = HttpSmsConfig
    metadata = ConnectorMetadata(
        id="http-sms",
        target="http-sms",
        platform=None,
        name={"en": "HTTP SMS"},
        description={
            "en": "Send SMS through your own HTTP endpoint.",
            "es": "Envía SMS mediante tu propio punto de acceso HTTP.",
        },
        logo="/static/connectors/http-sms.svg",
        readme=README,
    )

    async def send_message(self, to: str, template_type: str, payload: dict[str, Any]) -> None:
        document = {"to": sms.e164(to), "type": str(template_type), "payload": payload}
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        status, _ = await http.fetch(
            "POST",
            self.config.endpoint,
            content=body,
            headers=self._headers(body),
            what="HTTP SMS endpoint",
        )
        if 200 <= status < 300:
            return
        # The status only: the body may echo the request, and with it the code
        # (connectors/http.py: never a provider's body in a message or log).
        summary = f"The HTTP SMS endpoint answered HTTP {status}."
        if status in (401, 403):
            raise ConnectorError("connector.invalid_config", summary, reason="auth_rejected")
        if status == 429:
            raise ConnectorError("connector.rate_limit_exceeded", summary, reason="rate_limited")
        raise ConnectorError("connector.general", summary, reason="rejected")

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.authorization is not None:
            headers["Authorization"] = self.config.authorization.get_secret_value()
        if self.config.signingSecret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP] = timestamp
            headers[SIGNATURE] = signature(
                self.config.signingSecret.get_secret_value(), timestamp, body
            )
        return headers
