"""Console connectors: forms made from the config schema, per-field JSON and validation
errors, a real test send through the local SMTP server, masked secrets kept on edit, the
social redirect URI, deletion behind re-authentication, audit entries."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from portico.storage.tables import connectors, logs
from tests.console import ADMIN_PASSWORD, ConsoleClient
from tests.management import client_with, token_for
from tests.smtp_server import Running, smtp_config, smtp_server
from tests.support import csrf_of, unique
from tests.test_console_applications import age_reauth

SMTP = "simple-mail-transfer-protocol"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Running]:
    with smtp_server(users={"mailer": "s3cret-smtp-pass"}) as running:
        yield running


def smtp_form(port: int, **overrides: str) -> dict[str, str]:
    config = smtp_config(port)
    return {
        "host": config["host"],
        "port": str(port),
        "fromEmail": config["fromEmail"],
        "templates": json.dumps(config["templates"]),
        "auth": json.dumps({"user": "mailer", "pass": "s3cret-smtp-pass"}),
        **overrides,
    }


def wait_for_mail(mailbox: Running, address: str) -> str:
    deadline = time.time() + 10
    while time.time() < deadline:
        for message in mailbox.handler.messages:
            if address in str(message["To"]):
                return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {address}")


def log_keys(console: ConsoleClient) -> list[str]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return [
            r.key
            for r in await conn.execute(select(logs.c.key).where(logs.c.tenant_id == "default"))
        ]

    return console.server.db(work)


def test_lists_and_factory_cards(console: ConsoleClient) -> None:
    page = console.get("/console/connectors").text
    assert "Email and SMS connectors" in page and "Social connectors" in page
    pick = console.get("/console/connectors/new?type=Email").text
    assert f"/console/connectors/new/{SMTP}" in pick
    social = console.get("/console/connectors/new?type=Social").text
    assert "/console/connectors/new/kakao-universal" in social
    # Each card shows its connector's logo (served by Portico: the console's CSP).
    assert '<img class="logo" src="/static/connectors/kakao.svg" alt="">' in social
    assert '<img class="logo" src="/static/connectors/smtp.svg" alt="">' in pick
    form = console.get(f"/console/connectors/new/{SMTP}").text
    assert 'name="templates" data-json' in form and "{{code}}" in form
    assert 'name="host"' in form and "Send a test code" in form


def test_errors_are_shown_per_field(console: ConsoleClient, mailbox: Running) -> None:
    path = f"/console/connectors/new/{SMTP}"
    response = console.submit(
        path, path, {**smtp_form(mailbox.port), "host": "", "templates": "[{", "port": "x"}
    )
    assert response.status_code == 400
    errors = dict(
        re.findall(r'<span class="field-error" id="([^"]+)-error">([^<]+)<', response.text)
    )
    assert errors["host"] == "Required."
    assert errors["templates"].startswith("Not valid JSON")
    assert errors["port"] == "Enter a whole number."
    # What the connector's own model refuses comes back on the field too.
    response = console.submit(
        path, path, {**smtp_form(mailbox.port), "port": "70000", "templates": "[]"}
    )
    errors = dict(
        re.findall(r'<span class="field-error" id="([^"]+)-error">([^<]+)<', response.text)
    )
    assert "port" in errors and "templates" in errors
    # The typed values are kept.
    assert "70000" in response.text


def test_auth_shows_its_json_shape_and_model_errors_read_plainly(
    console: ConsoleClient, mailbox: Running
) -> None:
    path = f"/console/connectors/new/{SMTP}"
    form = console.get(path).text
    auth = re.search(r'<textarea id="cfg-auth"[^>]*>', form).group(0)  # type: ignore[union-attr]
    assert html.unescape(re.search(r'placeholder="([^"]*)"', auth).group(1)) == (  # type: ignore[union-attr]
        '{"user": "apikey", "pass": "your SMTP password"}'
    )
    assert 'aria-describedby="auth-hint"' in auth
    assert '{"user": "...", "pass": "..."}' in html.unescape(form)
    templates = json.loads(smtp_form(mailbox.port)["templates"])[:2]
    refused = console.submit(
        path, path, {**smtp_form(mailbox.port), "templates": json.dumps(templates)}
    )
    assert refused.status_code == 400
    assert "Value error" not in refused.text
    assert "templates for usage types ForgotPassword, Generic are required" in refused.text


def _mail_count(mailbox: Running) -> int:
    return len(mailbox.handler.messages)


def _connector_ids(console: ConsoleClient) -> set[str]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return {r.id for r in await conn.execute(select(connectors.c.id))}

    return console.server.db(work)  # type: ignore[no-any-return]


def test_a_code_template_without_code_is_refused_on_save_test_and_api(
    console: ConsoleClient, mailbox: Running
) -> None:
    templates = json.loads(smtp_form(mailbox.port)["templates"])
    templates[1]["content"] = "Welcome back!"  # SignIn, no {{code}}
    form = {**smtp_form(mailbox.port), "templates": json.dumps(templates)}
    path = f"/console/connectors/new/{SMTP}"
    before = _connector_ids(console)
    refused = console.submit(path, path, form)
    assert refused.status_code == 400
    errors = dict(
        re.findall(r'<span class="field-error" id="([^"]+)-error">([^<]+)<', refused.text)
    )
    assert html.unescape(errors["templates"]) == (
        "the SignIn template must contain {{code}} where the verification code goes: "
        "without it the message arrives with no code"
    )
    assert _connector_ids(console) == before
    sent_before = _mail_count(mailbox)
    address = f"{unique('codeless')}@example.com"
    tested = console.submit(path, path, {**form, "action": "test", "test_to": address})
    assert tested.status_code == 400 and "must contain {{code}}" in html.unescape(tested.text)
    time.sleep(0.2)
    assert _mail_count(mailbox) == sent_before
    # The Management API refuses the same config, in Logto's error shape.
    config = {**smtp_config(mailbox.port), "templates": templates}
    _, token = token_for(console.server, ["Logto Management API access"])
    with client_with(console.server, token) as api:
        answer = api.post("/connectors", json={"connectorId": SMTP, "config": config})
    body = answer.json()
    assert answer.status_code == 400 and body["code"] == "connector.invalid_config"
    assert body["data"] == [{"path": "templates", "message": html.unescape(errors["templates"])}]
    assert _connector_ids(console) == before


def test_send_a_test_code_through_the_unsaved_form(
    console: ConsoleClient, mailbox: Running
) -> None:
    address = f"{unique('test')}@example.com"
    path = f"/console/connectors/new/{SMTP}"
    response = console.submit(
        path, path, {**smtp_form(mailbox.port), "action": "test", "test_to": address}
    )
    assert response.status_code == 200 and f"Test code sent to {address}" in response.text
    assert "000000" in wait_for_mail(mailbox, address)
    assert "ManagementApi.TestConnector" in log_keys(console)
    # A wrong password is reported to the admin, precisely.
    failed = console.submit(
        path,
        path,
        {
            **smtp_form(mailbox.port),
            "action": "test",
            "test_to": address,
            "auth": json.dumps({"user": "mailer", "pass": "wrong"}),
        },
    )
    assert failed.status_code == 400 and "The test message was not sent" in failed.text
    assert "wrong" not in failed.text.split("auth")[0]


def test_save_seals_secrets_and_keeps_them_on_edit(
    console: ConsoleClient, mailbox: Running
) -> None:
    path = f"/console/connectors/new/{SMTP}"
    saved = console.submit(path, path, smtp_form(mailbox.port))
    assert saved.status_code == 303
    connector_id = saved.headers["location"].rsplit("/", 1)[1]

    async def stored(conn):  # type: ignore[no-untyped-def]
        return (
            await conn.execute(select(connectors.c.config).where(connectors.c.id == connector_id))
        ).scalar_one()

    assert "s3cret-smtp-pass" not in json.dumps(console.server.db(stored))
    page = console.get(f"/console/connectors/{connector_id}").text
    assert "s3cret-smtp-pass" not in page and "******" in page
    # Saving the page as shown keeps the stored password: a test send still authenticates.
    form = {k: v for k, v in smtp_form(mailbox.port).items() if k != "auth"}
    shown = re.search(r'name="auth"[^>]*>([^<]*)<', page).group(1)  # type: ignore[union-attr]
    form["auth"] = html.unescape(shown)  # {"user": "mailer", "pass": "******"}
    assert json.loads(form["auth"])["pass"] == "******"
    edited = console.post(
        f"/console/connectors/{connector_id}", {"csrf_token": csrf_of(page), **form}
    )
    assert edited.status_code == 303
    address = f"{unique('kept')}@example.com"
    page = console.get(f"/console/connectors/{connector_id}").text
    sent = console.post(
        f"/console/connectors/{connector_id}",
        {"csrf_token": csrf_of(page), **form, "action": "test", "test_to": address},
    )
    assert sent.status_code == 200, sent.text[:2000]
    assert "000000" in wait_for_mail(mailbox, address)
    assert {"ManagementApi.CreateConnector", "ManagementApi.UpdateConnector"} <= set(
        log_keys(console)
    )
    assert connector_id in console.get("/console/connectors").text


def test_social_connector_shows_redirect_uri_and_keeps_blank_secret(console: ConsoleClient) -> None:
    path = "/console/connectors/new/kakao-universal"
    saved = console.submit(
        path, path, {"clientId": "kakao-rest-key", "clientSecret": "kakao-secret-1"}
    )
    assert saved.status_code == 303
    connector_id = saved.headers["location"].rsplit("/", 1)[1]
    page = console.get(f"/console/connectors/{connector_id}").text
    assert f"{console.server.endpoint}/callback/{connector_id}" in page
    assert "kakao-secret-1" not in page and "Stored: leave blank to keep" in page
    edited = console.post(
        f"/console/connectors/{connector_id}",
        {"csrf_token": csrf_of(page), "clientId": "kakao-rest-key-2", "clientSecret": ""},
    )
    assert edited.status_code == 303
    assert (
        console.server.db(_plain_config(console, connector_id))["clientSecret"] == "kakao-secret-1"
    )

    age_reauth(console)
    action = f"/console/connectors/{connector_id}/delete"
    assert "Type <strong>Kakao</strong> to confirm" in page
    asked = console.post(action, {"csrf_token": csrf_of(page), "confirm_name": "Kakao"})
    assert "Confirm it is you" in asked.text
    refused = console.post(
        action,
        {"csrf_token": csrf_of(page), "reauth_password": ADMIN_PASSWORD, "confirm_name": "kakao"},
    )
    assert refused.status_code == 400
    assert "Type the connector&#39;s name exactly as shown" in refused.text
    assert console.get(f"/console/connectors/{connector_id}").status_code == 200
    gone = console.post(
        action,
        {"csrf_token": csrf_of(page), "reauth_password": ADMIN_PASSWORD, "confirm_name": "Kakao"},
    )
    assert gone.status_code == 303
    assert console.get(f"/console/connectors/{connector_id}").status_code == 404
    assert "ManagementApi.DeleteConnector" in log_keys(console)


def _plain_config(console: ConsoleClient, connector_id: str):  # type: ignore[no-untyped-def]
    from portico.connectors import Connectors

    async def work(conn):  # type: ignore[no-untyped-def]
        service = Connectors(conn.engine, console.server.settings.encryption_key_bytes())
        rows = await service._rows("default")  # the opened (unmasked) row
        return next(r["config"] for r in rows if r["id"] == connector_id)

    return work
