"""Build the email for one send: template rendered, every header checked, one recipient."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from portico.connectors import mail, templates
from portico.connectors.smtp.config import SmtpConfig


def build(
    config: SmtpConfig, to: str, template_type: str, payload: dict[str, Any]
) -> tuple[EmailMessage, str, str]:
    """The message, its envelope sender and its one recipient; raises ``ConnectorError``
    before any connection is made when an address or a header (after placeholder
    replacement) is unsafe."""
    template = templates.select(config.templates, template_type)
    recipient = mail.validate_address(to)
    sender = mail.parse_mailbox(
        templates.render(template.sendFrom or config.fromEmail, payload), "sender (fromEmail)"
    )
    html = template.content_type == "text/html"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    reply_to = template.replyTo or config.replyTo
    if reply_to:
        message["Reply-To"] = mail.parse_mailbox(templates.render(reply_to, payload), "replyTo")
    message["Subject"] = mail.check_header(templates.render(template.subject, payload), "subject")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.domain or None)
    for name, values in (config.customHeaders or {}).items():
        for value in [values] if isinstance(values, str) else values:
            message[mail.check_field_name(name)] = mail.check_header(value, f"header {name}")
    body = templates.render(template.content, payload, escape_html=html)
    message.set_content(body, subtype="html" if html else "plain", charset="utf-8")
    return message, sender.addr_spec, recipient
