"""The console's Custom JWT page: both token kinds listed, a script saved with its
environment variables (sealed in the database, audit entries as /api's, the claims in the
next token), the test runner's result and errors, and deletion."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from portico.services import rbac
from portico.storage.tables import logs, logto_configs
from tests.conftest import make_app
from tests.console import ConsoleClient, flash_of
from tests.support import browser_client, unique

PAGE = "/console/custom-jwt/client-credentials"
SCRIPT = """const getCustomJwtClaims = async ({ token, context, environmentVariables }) => {
  return { tier: environmentVariables.TIER, app: context.application.id };
}"""


@pytest.fixture
def m2m_token(console: ConsoleClient) -> Iterator[object]:
    """``ask()`` -> the claims of a new client-credentials token of the console's server."""
    server = console.server
    indicator = f"https://{unique('api')}.example.com"
    role = unique("service")

    async def work(conn):  # type: ignore[no-untyped-def]
        await rbac.create_resource(conn, "default", indicator=indicator, scopes=["read"])
        await rbac.create_role(
            conn,
            "default",
            name=role,
            role_type=rbac.RoleType.M2M,
            indicator=indicator,
            scope_names=["read"],
        )

    server.db(work)
    app = make_app(server, "MachineToMachine", roles=[role])

    def ask() -> dict[str, object]:
        response = httpx.post(
            f"{server.issuer}/token",
            auth=(app.id, app.secret or ""),
            data={"grant_type": "client_credentials", "resource": indicator},
        )
        assert response.status_code == 200, response.text
        import base64

        body = response.json()["access_token"].split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))

    ask.app_id = app.id  # type: ignore[attr-defined]
    yield ask
    shown = console.get(PAGE)
    if "/delete" in shown.text:
        console.submit(PAGE, f"{PAGE}/delete")


def test_the_page_lists_both_token_kinds_behind_sign_in(console: ConsoleClient) -> None:
    with browser_client() as anonymous:
        shown = anonymous.get(console.url("/console/custom-jwt"))
        assert shown.status_code == 303 and "/console/sign-in" in shown.headers["location"]
    index = console.get("/console/custom-jwt")
    assert index.status_code == 200
    assert 'href="/console/custom-jwt"' in index.text  # the nav entry
    assert "User access token" in index.text and "Machine-to-machine access token" in index.text
    assert console.get("/console/custom-jwt/id-token").status_code == 404
    editor = console.get(PAGE)
    assert "getCustomJwtClaims" in editor.text and "ClientCredentials" in editor.text


def test_saving_a_script_seals_its_variables_and_tokens_carry_its_claims(
    console: ConsoleClient, m2m_token: object
) -> None:
    saved = console.submit(PAGE, PAGE, {"script": SCRIPT, "environment": "TIER=gold-secret\n"})
    assert saved.status_code == 303
    shown = console.get(PAGE)
    assert "Custom JWT saved" in " ".join(flash_of(shown.text))
    assert "TIER=gold-secret" in html.unescape(shown.text)

    async def stored(conn):  # type: ignore[no-untyped-def]
        row = await conn.execute(
            select(logto_configs.c.value).where(
                logto_configs.c.tenant_id == "default",
                logto_configs.c.key == "jwt.clientCredentials",
            )
        )
        keys = await conn.execute(
            select(logs.c.key).where(logs.c.key.like("ManagementApi.%JwtCustomizer"))
        )
        return row.scalar_one_or_none(), [k[0] for k in keys]

    value, audit_keys = console.server.db(stored)
    assert "gold-secret" not in json.dumps(value) and value["script"] == SCRIPT
    assert "ManagementApi.UpsertJwtCustomizer" in audit_keys
    claims = m2m_token()  # type: ignore[operator]
    assert claims["tier"] == "gold-secret" and claims["app"] == m2m_token.app_id  # type: ignore[attr-defined]
    deleted = console.submit(PAGE, f"{PAGE}/delete")
    assert deleted.status_code == 303
    assert "tier" not in m2m_token()  # type: ignore[operator]
    _, audit_keys = console.server.db(stored)
    assert "ManagementApi.DeleteJwtCustomizer" in audit_keys


def test_the_test_runner_shows_the_result_or_the_error(console: ConsoleClient) -> None:
    token = json.dumps({"jti": "x", "aud": "a", "clientId": "my_app", "kind": "ClientCredentials"})
    context = json.dumps({"application": {"id": "my_app"}})
    form = {"script": SCRIPT, "environment": "TIER=silver", "token": token, "context": context}
    ran = console.submit(PAGE, f"{PAGE}/test", form)
    assert ran.status_code == 200
    result = re.search(r'<pre class="json" id="test-result">(.*?)</pre>', ran.text, re.S)
    assert result and json.loads(html.unescape(result.group(1))) == {
        "tier": "silver",
        "app": "my_app",
    }
    denied = console.submit(
        PAGE,
        f"{PAGE}/test",
        {**form, "script": "const getCustomJwtClaims = ({ api }) => api.denyAccess('Not for you')"},
    )
    assert 'id="test-error"' in denied.text and "Not for you" in denied.text
    slow = console.submit(
        PAGE,
        f"{PAGE}/test",
        {**form, "script": "const getCustomJwtClaims = () => { while (true) {} }"},
    )
    assert "timed out after 1000ms" in slow.text
    not_json = console.submit(PAGE, f"{PAGE}/test", {**form, "context": "{nope"})
    assert not_json.status_code == 400 and "must be JSON objects" in not_json.text
    bad_env = console.submit(PAGE, PAGE, {**form, "environment": "no equals sign"})
    assert bad_env.status_code == 400 and "NAME=value" in html.unescape(bad_env.text)
    assert "/delete" not in console.get(PAGE).text  # nothing was saved
