"""The SMTP connector against real SMTP servers (aiosmtpd): transport security, AUTH,
templates, Unicode, and every failure reported precisely, quickly and without secrets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico.connectors import ConnectorError
from portico.connectors.smtp import SmtpConnector
from portico.net import outbound
from tests.smtp_server import (
    Certificate,
    Recorder,
    XOAuth2Recorder,
    refused_port,
    self_signed,
    silent_server,
    smtp_config,
    smtp_server,
    token_endpoint,
)
from tests.support import LOOPBACK_TARGETS

PASSWORD = "s3cret-app-password"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def plain() -> Iterator[Any]:
    with smtp_server() as server:
        yield server


async def send(config: dict[str, Any], to: str = "alice@example.com", **payload: Any) -> None:
    connector = SmtpConnector.from_config(config)
    await connector.send_message(to, payload.pop("usage", "SignIn"), payload or {"code": "123456"})


async def failure(config: dict[str, Any], **kwargs: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await send(config, **kwargs)
    return caught.value


async def test_plain_delivery_uses_the_usage_template(plain: Any) -> None:
    await send(smtp_config(plain.port), usage="Register", code="424242")
    [message] = plain.handler.messages
    assert message["Subject"] == "Register code"
    assert message.get_content().strip() == "Your Register code is 424242."
    assert plain.handler.envelopes == [("no-reply@example.com", ["alice@example.com"])]


async def test_unknown_usage_falls_back_to_generic(plain: Any) -> None:
    await send(smtp_config(plain.port), usage="MfaVerification", code="1")
    assert plain.handler.messages[0]["Subject"] == "Generic code"


async def test_html_template_and_unicode_subject_and_display_name(plain: Any) -> None:
    config = smtp_config(plain.port, fromEmail="Pórtico 認証 <no-reply@example.com>")
    config["templates"][1] = {
        "usageType": "SignIn",
        "contentType": "text/html",
        "subject": "Código de acceso para {{application.name}} ✓",
        "content": "<p>Código: <b>{{code}}</b> {{user.name}} {{unknown}}</p>",
    }
    payload = {"code": "987654", "application": {"name": "Café"}, "user": {"name": "<x>"}}
    await send(config, **payload)
    [message] = plain.handler.messages
    assert message["Subject"] == "Código de acceso para Café ✓"
    assert message["From"].addresses[0].display_name == "Pórtico 認証"
    assert message.get_content_type() == "text/html"
    body = message.get_content()
    assert "Código: <b>987654</b> &lt;x&gt; {{unknown}}" in body


async def test_starttls_with_self_signed_certificate_when_verification_is_off(
    certificate: Certificate,
) -> None:
    with smtp_server(certificate=certificate) as server:
        config = smtp_config(server.port, requireTLS=True, tls={"rejectUnauthorized": False})
        await send(config)
    assert len(server.handler.messages) == 1


async def test_starttls_verification_failure_is_a_clear_tls_error(
    certificate: Certificate,
) -> None:
    with smtp_server(certificate=certificate) as server:
        error = await failure(smtp_config(server.port, tls={"rejectUnauthorized": True}))
    assert error.reason == "tls"
    assert "TLS with 127.0.0.1" in error.admin_message
    assert "certificate" in error.admin_message
    assert server.handler.messages == []


async def test_starttls_trusts_a_given_ca(certificate: Certificate) -> None:
    with smtp_server(certificate=certificate) as server:
        config = smtp_config(server.port, servername="localhost", tls={"ca": certificate.cert_pem})
        await send(config)
    assert len(server.handler.messages) == 1


async def test_require_tls_refuses_a_server_without_starttls(plain: Any) -> None:
    error = await failure(smtp_config(plain.port, requireTLS=True))
    assert error.reason == "tls"
    assert "does not offer STARTTLS" in error.admin_message


async def test_implicit_tls_with_secure_true(certificate: Certificate) -> None:
    with smtp_server(certificate=certificate, implicit_tls=True) as server:
        await send(smtp_config(server.port, secure=True, tls={"rejectUnauthorized": False}))
        error = await failure(smtp_config(server.port, secure=True))
    assert len(server.handler.messages) == 1
    assert error.reason == "tls"


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_auth_login_and_plain(mechanism: str) -> None:
    with smtp_server(users={"mailer": PASSWORD}, only_mechanism=mechanism) as server:
        await send(smtp_config(server.port, auth={"user": "mailer", "pass": PASSWORD}))
    assert server.authenticator is not None
    assert server.authenticator.mechanisms == [mechanism]
    assert len(server.handler.messages) == 1


async def test_rejected_credentials_are_reported_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with smtp_server(users={"mailer": PASSWORD}) as server:
        config = smtp_config(server.port, auth={"user": "mailer", "pass": "wrong-password-xyz"})
        error = await failure(config, code="555111")
    assert error.reason == "auth_rejected"
    assert "535" in error.admin_message
    assert error.code == "connector.general"
    assert "try again" in error.user_message
    for text in (error.admin_message, error.user_message, repr(error), caplog.text):
        assert "wrong-password-xyz" not in text and "555111" not in text


async def test_connection_refused() -> None:
    error = await failure(smtp_config(refused_port()))
    assert error.reason == "connection_refused"
    assert "refused" in error.admin_message


@pytest.mark.parametrize(
    "recorder",
    [Recorder(data_reply="451 4.3.0 Try again later"), Recorder(mail_reply="421 4.7.0 Busy")],
    ids=["451-data", "421-mail"],
)
async def test_temporary_refusal_is_retried_then_reported(recorder: Recorder) -> None:
    with smtp_server(recorder) as server:
        started = time.monotonic()
        error = await failure(smtp_config(server.port))
    assert error.reason == "temporary"
    assert server.handler.attempts == 3
    assert time.monotonic() - started < 5
    assert recorder.data_reply or recorder.mail_reply
    assert (recorder.data_reply or recorder.mail_reply or "")[:3] in error.admin_message


async def test_permanent_refusal_is_not_retried() -> None:
    with smtp_server(Recorder(rcpt_reply="550 5.1.1 No such user")) as server:
        error = await failure(smtp_config(server.port))
    assert error.reason == "permanent"
    assert "550 5.1.1 No such user" in error.admin_message
    assert server.handler.attempts == 1


async def test_silent_server_times_out_quickly_without_blocking_other_sends(plain: Any) -> None:
    with silent_server() as port:
        started = time.monotonic()
        stuck = asyncio.create_task(failure(smtp_config(port, greetingTimeout=500)))
        await asyncio.sleep(0.05)
        await send(smtp_config(plain.port))  # meanwhile, another send completes
        other_done = time.monotonic() - started
        error = await stuck
        elapsed = time.monotonic() - started
    assert error.reason == "timeout"
    assert "did not answer in time" in error.admin_message
    assert other_done < 0.45 < elapsed < 3
    assert len(plain.handler.messages) == 1


INJECTIONS = {
    "subject": ("templates", "Hello\r\nBcc: evil@example.net"),
    "subject-encoded": ("templates", "Hi =?UTF-8?Q?=0A?=Bcc: evil@example.net"),
    "subject-trailing": ("templates", "Hello\n"),
    "subject-u2028": ("templates", "Hello\u2028Bcc: evil@example.net"),
    "from-name": ("fromEmail", "Evil\r\nBcc: x@example.net <no-reply@example.com>"),
    "from-encoded": ("fromEmail", "=?UTF-8?B?RXZpbAo=?= <no-reply@example.com>"),
    "reply-to": ("replyTo", "a@example.com\nBcc: evil@example.net"),
    "custom-header": ("customHeaders", {"X-Tag": "ok\r\nBcc: evil@example.net"}),
    "custom-header-name": ("customHeaders", {"X-Bad Name": "ok"}),
    "custom-header-bcc": ("customHeaders", {"Bcc": "evil@example.net"}),
}


@pytest.mark.parametrize("field,value", INJECTIONS.values(), ids=INJECTIONS.keys())
async def test_header_injection_in_config_is_rejected_before_connecting(
    field: str, value: Any
) -> None:
    config = smtp_config(refused_port())
    if field == "templates":
        config["templates"][1]["subject"] = value
    else:
        config[field] = value
    error = await failure(config)
    assert error.code == "connector.invalid_config"  # no connection was attempted
    assert error.data and error.data[0]["path"].startswith(field)


@pytest.mark.parametrize(
    "to",
    [
        "alice@example.com\r\nRCPT TO:<evil@example.net>",
        "alice@example.com, evil@example.net",
        "Alice <alice@example.com>",
        "alice@example.com\n",
        "not-an-address",
    ],
)
async def test_recipient_must_be_exactly_one_valid_address(to: str, plain: Any) -> None:
    error = await failure(smtp_config(plain.port), to=to)
    assert error.reason in ("invalid_address", "unsafe_header")
    assert plain.handler.attempts == 0


async def test_payload_cannot_inject_through_a_placeholder(plain: Any) -> None:
    config = smtp_config(plain.port)
    config["templates"][1]["subject"] = "Welcome to {{application.name}}"
    error = await failure(config, application={"name": "App =?UTF-8?Q?=0D=0A?=Bcc: x@y.z"})
    assert error.reason == "unsafe_header"
    assert plain.handler.attempts == 0


def test_required_templates_and_unknown_keys_are_precise_config_errors() -> None:
    config = smtp_config(25, requireTls=True)
    config["templates"] = config["templates"][:2]
    with pytest.raises(ConnectorError) as caught:
        SmtpConnector.parse_config(config)
    paths = {e["path"]: e["message"] for e in caught.value.data}
    assert "ForgotPassword, Generic" in paths["templates"]
    assert "requireTls" in paths


@pytest.mark.parametrize("usage", ["SignIn", "Generic", "MfaVerification", "BindNewIdentifier"])
async def test_a_code_template_without_code_is_refused_before_any_mail(
    usage: str, plain: Any
) -> None:
    config = smtp_config(plain.port)
    config["templates"] = [t for t in config["templates"] if t["usageType"] != usage]
    config["templates"].append(
        {"usageType": usage, "contentType": "text/html", "subject": "Hello",
         "content": "<p>Welcome! Your code: {{ application.name }}</p>"}
    )  # fmt: skip
    error = await failure(config, usage=usage)
    assert error.code == "connector.invalid_config"
    [problem] = error.data
    assert problem["path"] == "templates"
    assert problem["message"] == (
        f"the {usage} template must contain {{{{code}}}} where the verification code goes: "
        "without it the message arrives with no code"
    )
    assert plain.handler.attempts == 0 and plain.handler.messages == []


async def test_code_may_be_in_the_subject_and_an_invitation_needs_none(plain: Any) -> None:
    config = smtp_config(plain.port)
    config["templates"][0]["subject"] = "Your code: {{ code }}"
    config["templates"][0]["content"] = "Enter the code from the subject."
    config["templates"].append(
        {"usageType": "OrganizationInvitation", "contentType": "text/plain",
         "subject": "Join us", "content": "Accept: {{link}}"}
    )  # fmt: skip
    await send(config, usage=config["templates"][0]["usageType"], code="515151")
    [message] = plain.handler.messages
    assert message["Subject"] == "Your code: 515151"


def test_password_is_confidential_in_the_schema_and_hidden_in_repr() -> None:
    schema = SmtpConnector.config_schema()
    login = schema["$defs"]["LoginAuth"]["properties"]["pass"]
    assert login["isConfidential"] is True
    parsed = SmtpConnector.parse_config(smtp_config(25, auth={"user": "u", "pass": PASSWORD}))
    assert PASSWORD not in repr(parsed)


def test_logto_timeout_keys_are_accepted_and_capped(tmp_path: Path) -> None:
    from portico.connectors.smtp.transport import Timeouts

    config = SmtpConnector.parse_config(smtp_config(25))  # Logto defaults: 120 s, 30 s, 600 s
    timeouts = Timeouts.of(config)
    assert timeouts.connection <= 10 and timeouts.socket <= 15 and timeouts.greeting <= 10
    short = SmtpConnector.parse_config(smtp_config(25, greetingTimeout=500))
    assert Timeouts.of(short).greeting == 0.5


async def test_xoauth2_with_an_access_token_and_with_refresh_credentials() -> None:
    recorder = XOAuth2Recorder(user="me@example.com", token="fresh-access-token")
    with (
        smtp_server(recorder) as server,
        token_endpoint("the-refresh-token", "fresh-access-token") as token_url,
        outbound.allowing(LOOPBACK_TARGETS),  # the token endpoint is a local fake
    ):
        direct = {"type": "oauth2", "user": "me@example.com", "accessToken": "fresh-access-token"}
        await send(smtp_config(server.port, auth=direct))
        refreshing = {
            "type": "OAuth2",
            "user": "me@example.com",
            "clientId": "client",
            "clientSecret": "client-secret",
            "refreshToken": "the-refresh-token",
            "accessUrl": token_url,
        }
        await send(smtp_config(server.port, auth=refreshing))
        revoked = {**refreshing, "refreshToken": "revoked-token"}
        error = await failure(smtp_config(server.port, auth=revoked))
    assert len(recorder.messages) == 2
    assert recorder.presented == ["Bearer fresh-access-token"] * 2
    assert error.reason == "oauth_token" and "400" in error.admin_message
    assert "revoked-token" not in error.admin_message
