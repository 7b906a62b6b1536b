"""The SMTP connector's configuration: Logto's keys (camelCase), validated strictly.

Unknown keys are rejected rather than ignored: a typo such as ``requireTls`` silently dropped
would send mail in clear text. Header-bearing values are checked for line breaks here so the
admin sees the problem when saving, not when the first user signs in.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from portico.connectors import mail
from portico.connectors.errors import ConnectorError
from portico.connectors.http import ProviderUrl
from portico.connectors.kit import CONFIDENTIAL
from portico.connectors.templates import CODE_USAGE_TYPES, codeless_message, places_code
from portico.connectors.types import TemplateType

REQUIRED_TEMPLATES = (
    TemplateType.Register,
    TemplateType.SignIn,
    TemplateType.ForgotPassword,
    TemplateType.Generic,
)
GOOGLE_TOKEN_URL = "https://accounts.google.com/o/oauth2/token"
RESERVED_HEADERS = {
    "from", "to", "cc", "bcc", "subject", "reply-to", "sender", "content-type",
    "content-transfer-encoding", "mime-version", "message-id", "date",
}  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)


def _one_line(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return mail.check_header(value, what)
    except ConnectorError as exc:
        raise ValueError(exc.admin_message) from None


def _mailbox(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        mail.parse_mailbox(value, what)
    except ConnectorError as exc:
        raise ValueError(exc.admin_message) from None
    return value


class LoginAuth(_Model):
    """User name and password (PLAIN or LOGIN, whichever the server offers); both may be
    omitted for a relay that authorises by IP address."""

    user: str | None = None
    pass_: SecretStr | None = Field(None, alias="pass", json_schema_extra=CONFIDENTIAL)
    type: Literal["login", "Login", "LOGIN"] | None = None


class OAuth2Auth(_Model):
    """XOAUTH2 with an access token, or with refresh-token credentials to fetch one."""

    type: Literal["oauth2", "OAuth2", "OAUTH2"] | None = None
    user: str
    clientId: str | None = None
    clientSecret: SecretStr | None = Field(None, json_schema_extra=CONFIDENTIAL)
    refreshToken: SecretStr | None = Field(None, json_schema_extra=CONFIDENTIAL)
    accessToken: SecretStr | None = Field(None, json_schema_extra=CONFIDENTIAL)
    expires: int | None = Field(None, description="access token expiry, epoch ms")
    # Called over HTTP with the client secret: https, and guarded like every provider URL.
    accessUrl: ProviderUrl = GOOGLE_TOKEN_URL

    @model_validator(mode="after")
    def _has_a_way_to_a_token(self) -> OAuth2Auth:
        if self.accessToken is None and not (
            self.clientId and self.clientSecret and self.refreshToken
        ):
            raise ValueError("needs accessToken, or clientId + clientSecret + refreshToken")
        return self


class Template(_Model):
    usage_type: str = Field(alias="usageType")
    content_type: Literal["text/plain", "text/html"] = Field(alias="contentType")
    subject: str
    content: str
    sendFrom: str | None = None
    replyTo: str | None = None

    @field_validator("subject")
    @classmethod
    def _subject_one_line(cls, value: str) -> str:
        return _one_line(value, "subject") or ""

    @field_validator("sendFrom", "replyTo")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return _mailbox(value, "template address")


class SmtpConfig(_Model):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    auth: LoginAuth | OAuth2Auth | None = Field(
        None,
        description=(
            'A user name and password: {"user": "...", "pass": "..."}. OAuth2: {"type": '
            '"oauth2", "user": "...", "accessToken": "..."}, or clientId, clientSecret and '
            "refreshToken instead of accessToken. Empty for a relay that trusts this server."
        ),
        # A string: the schema generator sorts an object's keys, "pass" before "user".
        examples=['{"user": "apikey", "pass": "your SMTP password"}'],
    )
    fromEmail: str = Field(description='"Name <address>" or an address')
    replyTo: str | None = None
    templates: list[Template]
    secure: bool = Field(False, description="implicit TLS from the first byte (port 465)")
    requireTLS: bool | None = None
    ignoreTLS: bool | None = None
    tls: dict[str, Any] = Field(default_factory=dict)
    servername: str | None = None
    name: str | None = Field(None, description="host name announced in EHLO")
    localAddress: str | None = None
    connectionTimeout: int = Field(120_000, ge=0)
    greetingTimeout: int = Field(30_000, ge=0)
    socketTimeout: int = Field(600_000, ge=0)
    dnsTimeout: int = Field(30_000, ge=0)
    customHeaders: dict[str, str | list[str]] | None = None
    logger: bool | None = None
    debug: bool | None = None
    disableFileAccess: bool | None = None
    disableUrlAccess: bool | None = None

    @field_validator("host", "servername", "name", "localAddress")
    @classmethod
    def _plain_names(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c.isspace() for c in value)):
            raise ValueError("must be a host name or address without spaces")
        return _one_line(value, "host name")

    @field_validator("fromEmail", "replyTo")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return _mailbox(value, "address")

    @field_validator("templates")
    @classmethod
    def _required_templates(cls, value: list[Template]) -> list[Template]:
        present = {t.usage_type for t in value}
        missing = [t.value for t in REQUIRED_TEMPLATES if t.value not in present]
        if missing:
            raise ValueError(f"templates for usage types {', '.join(missing)} are required")
        codeless = [
            t.usage_type
            for t in value
            if t.usage_type in CODE_USAGE_TYPES and not places_code(t.subject, t.content)
        ]
        if codeless:
            raise ValueError(codeless_message(codeless))
        return value

    @field_validator("customHeaders")
    @classmethod
    def _custom_headers(cls, value: dict[str, str | list[str]] | None) -> Any:
        for name, values in (value or {}).items():
            try:
                mail.check_field_name(name)
            except ConnectorError as exc:
                raise ValueError(exc.admin_message) from None
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the connector and cannot be custom")
            for item in [values] if isinstance(values, str) else values:
                _one_line(item, f"custom header {name}")
        return value

    @model_validator(mode="after")
    def _tls_modes_agree(self) -> SmtpConfig:
        if self.requireTLS and self.ignoreTLS:
            raise ValueError("requireTLS and ignoreTLS cannot both be true")
        return self
