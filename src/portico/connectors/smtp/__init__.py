"""The SMTP email connector (Logto's ``simple-mail-transfer-protocol``): any provider that
speaks SMTP: Gmail, SendGrid, Aliyun Direct Mail, a local relay."""

from __future__ import annotations

from typing import Any

from portico.connectors.kit import MessageConnector
from portico.connectors.smtp import message, transport
from portico.connectors.smtp.config import SmtpConfig
from portico.connectors.types import ConnectorMetadata, ConnectorType

README = """Send verification codes through any SMTP server.

Set host and port, fromEmail ("Name <address>" or an address), templates for Register, SignIn,
ForgotPassword and Generic (each must contain {{code}} where the code goes; only an
OrganizationInvitation template may leave it out) and auth {"user": ..., "pass": ...}.
Port 465 uses implicit TLS (secure: true); 587 upgrades with STARTTLS (secure: false,
requireTLS: true is recommended). See docs/connectors.md for Gmail, SendGrid and Aliyun.
"""


class SmtpConnector(MessageConnector[SmtpConfig]):
    type = ConnectorType.Email
    config_model = SmtpConfig
    metadata = ConnectorMetadata(
        id="simple-mail-transfer-protocol",
        target="smtp",
        platform=None,
        name={"en": "SMTP", "es": "SMTP", "ko": "SMTP", "zh-CN": "SMTP"},
        description={
            "en": "Send email through any SMTP server (Gmail, SendGrid, Aliyun, a relay).",
            "es": "Envía correo por cualquier servidor SMTP (Gmail, SendGrid, Aliyun, relé).",
        },
        logo="/static/connectors/smtp.svg",
        readme=README,
    )

    async def send_message(self, to: str, template_type: str, payload: dict[str, Any]) -> None:
        email, sender, recipient = message.build(self.config, to, template_type, payload)
        await transport.deliver(self.config, email, sender, recipient)
