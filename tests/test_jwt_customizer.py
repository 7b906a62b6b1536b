# ruff: noqa: E501  (Logto's sample scripts are kept verbatim, long lines and all)
"""Custom token claims (Logto's JWT customizer): the ``/api/configs/jwt-customizer`` routes,
Logto's sample scripts run unchanged, their claims in tokens from the code flow and from
client credentials, ``api.denyAccess``, reserved claims, the sandbox's limits and what it
lacks, environment variables sealed at rest, and no caching across users."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.storage.tables import logs, logto_configs
from tests.conftest import Api, App, User, make_app, make_user
from tests.flows import get_code, redeem
from tests.management import error
from tests.support import Browser, Server, csrf_of

# Logto's integration-test scripts (packages/integration-tests/src/__mocks__/jwt-customizer.ts)
ACCESS_TOKEN_SAMPLE = """const getCustomJwtClaims = async ({ token, context, environmentVariables }) => {
  const { interaction } = context;

  const verificationRecord = interaction?.verificationRecords?.[0];

  return { user_id: context?.user?.id ?? 'unknown', hasPassword: context?.user?.hasPassword, interactionEvent: interaction?.interactionEvent, verificationType: verificationRecord?.type };
};"""
CLIENT_CREDENTIALS_SAMPLE = """const getCustomJwtClaims = async ({ token, context, environmentVariables }) => {
  return { ...environmentVariables };
}"""
DENY = """const getCustomJwtClaims = async ({ token, context, environmentVariables, api }) => {
  return api.denyAccess('You are not allowed to access this resource');
};"""
ENVIRONMENT = {"foo": "bar", "API_KEY": "12345-very-secret"}
TOKEN_SAMPLE = {"jti": "f1d3", "aud": "http://localhost:3000/api/test", "scope": "read write",
                "clientId": "my_app", "kind": "ClientCredentials"}  # fmt: skip


def _payload(token: str) -> dict[str, Any]:
    """The claims, unverified (the server's signatures are checked by other tests)."""
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


@pytest.fixture
def customizers(admin: httpx.Client) -> Iterator[httpx.Client]:
    """The admin client; both customizers removed afterwards (the server is shared)."""
    yield admin
    for kind in ("access-token", "client-credentials"):
        admin.delete(f"/configs/jwt-customizer/{kind}")


def put(admin: httpx.Client, kind: str, script: str, **more: Any) -> None:
    response = admin.put(f"/configs/jwt-customizer/{kind}", json={"script": script, **more})
    assert response.status_code in (200, 201), response.text


def m2m_token(server: Server, app: App, api: Api) -> httpx.Response:
    return httpx.post(
        f"{server.endpoint}/oidc/token",
        headers=app.basic(),
        data={"grant_type": "client_credentials", "resource": api.indicator, "scope": "read"},
        timeout=30,
    )


@pytest.fixture
def m2m(server: Server, api_resource: Api) -> App:
    return make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])


def user_token(browser: Browser, server: Server, app: App, user: User, api: Api) -> httpx.Response:
    code, verifier = get_code(
        browser, server, app, user, resource=api.indicator, scope="openid read"
    )
    with httpx.Client(base_url=server.endpoint, timeout=30) as http:
        return redeem(http, app, code, verifier, resource=api.indicator)


# The routes ---------------------------------------------------------------------------------
def test_put_get_patch_delete_as_logto(customizers: httpx.Client) -> None:
    admin = customizers
    error(admin.get("/configs/jwt-customizer/access-token"), 404, "entity.not_exists_with_id")
    error(admin.delete("/configs/jwt-customizer/access-token"), 404, "entity.not_found")
    error(admin.patch("/configs/jwt-customizer/access-token", json={"script": "x"}), 404,
          "entity.not_exists_with_id")  # fmt: skip
    body = {"script": "new script", "environmentVariables": ENVIRONMENT,
            "blockIssuanceOnError": False,
            "tokenSample": {**TOKEN_SAMPLE, "kind": "AccessToken", "accountId": "uid_123"},
            "contextSample": {"user": {"id": "123", "username": "foo"}}}  # fmt: skip
    created = admin.put("/configs/jwt-customizer/access-token", json=body)
    assert created.status_code == 201 and created.json() == body
    assert admin.put("/configs/jwt-customizer/access-token", json=body).status_code == 200
    patched = admin.patch("/configs/jwt-customizer/access-token", json={"script": "abc"})
    assert patched.json() == {**body, "script": "abc"}
    assert admin.get("/configs/jwt-customizer/access-token").json() == {**body, "script": "abc"}
    put(admin, "client-credentials", CLIENT_CREDENTIALS_SAMPLE)
    listed = admin.get("/configs/jwt-customizer").json()
    assert [e["key"] for e in listed] == ["jwt.accessToken", "jwt.clientCredentials"]
    assert admin.delete("/configs/jwt-customizer/access-token").status_code == 204
    assert [e["key"] for e in admin.get("/configs/jwt-customizer").json()] == [
        "jwt.clientCredentials"
    ]


def test_bodies_are_checked_as_strictly_as_logtos_guards(customizers: httpx.Client) -> None:
    admin = customizers
    for kind, body in (
        ("access-token", {"script": "x", "unknown": 1}),
        ("access-token", {"environmentVariables": {"a": "b"}}),  # no script
        ("client-credentials", {"script": "x", "environmentVariables": {"a": 1}}),
        ("client-credentials", {"script": "x", "tokenSample": {"kind": "AccessToken"}}),
    ):
        error(admin.put(f"/configs/jwt-customizer/{kind}", json=body), 400, "guard.invalid_input")
    error(admin.put("/configs/jwt-customizer/id-token", json={"script": "x"}), 400,
          "guard.invalid_input")  # fmt: skip
    assert admin.get("/configs/jwt-customizer").json() == []  # nothing half-written


def test_environment_variables_are_sealed_at_rest_and_readable_by_the_script(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api
) -> None:
    put(customizers, "client-credentials", CLIENT_CREDENTIALS_SAMPLE,
        environmentVariables=ENVIRONMENT)  # fmt: skip

    async def stored(conn):  # type: ignore[no-untyped-def]
        query = select(logto_configs.c.value).where(
            logto_configs.c.tenant_id == "default", logto_configs.c.key == "jwt.clientCredentials"
        )
        return (await conn.execute(query)).scalar_one()

    row = server.db(stored)
    assert "12345-very-secret" not in json.dumps(row)
    assert set(row["environmentVariables"]) == {"$sealed"}
    shown = customizers.get("/configs/jwt-customizer/client-credentials").json()
    assert shown["environmentVariables"] == ENVIRONMENT  # Logto's API answers them
    response = m2m_token(server, m2m, api_resource)
    assert response.status_code == 200, response.text
    claims = _payload(response.json()["access_token"])
    assert claims["foo"] == "bar" and claims["API_KEY"] == "12345-very-secret"


# Tokens -------------------------------------------------------------------------------------
def test_logtos_sample_script_adds_claims_to_code_flow_tokens(
    server: Server, customizers: httpx.Client, browser: Browser, web_app: App, api_resource: Api
) -> None:
    put(customizers, "access-token", ACCESS_TOKEN_SAMPLE)
    alice = make_user(server, roles=(api_resource.role,))
    response = user_token(browser, server, web_app, alice, api_resource)
    assert response.status_code == 200, response.text
    claims = _payload(response.json()["access_token"])
    assert claims["user_id"] == alice.id and claims["hasPassword"] is True
    assert claims["sub"] == alice.id and claims["scope"] == "read"


def test_context_is_the_users_own_never_cached_across_users(
    server: Server, customizers: httpx.Client, browser: Browser, web_app: App, api_resource: Api
) -> None:
    script = """const getCustomJwtClaims = ({ token, context }) => ({
      who: context.user.username, email: context.user.primaryEmail,
      roles: context.user.roles.map((r) => r.name),
      scopes: context.user.roles.flatMap((r) => r.scopes.map((s) => s.resource.indicator + ' ' + s.name)),
      app: context.application.id, gty: token.gty, kind: token.kind, account: token.accountId,
    })"""
    put(customizers, "access-token", script)
    for _ in range(2):
        for person in (make_user(server, roles=(api_resource.role,)), make_user(server)):
            with browser_session(server) as fresh:
                response = user_token(fresh, server, web_app, person, api_resource)
            claims = _payload(response.json()["access_token"])
            assert (claims["who"], claims["email"], claims["account"]) == (
                person.username, person.email, person.id
            )  # fmt: skip
            assert claims["app"] == web_app.id and claims["gty"] == "authorization_code"
            assert claims["kind"] == "AccessToken"
            has_role = api_resource.role in claims["roles"]
            assert has_role == bool(claims["scopes"])


def browser_session(server: Server) -> Any:
    from contextlib import contextmanager

    from tests.support import browser_client

    @contextmanager
    def made() -> Iterator[Browser]:
        with browser_client() as client:
            yield Browser(server, client)

    return made()


def test_client_credentials_context_and_reserved_claims(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api
) -> None:
    script = """const getCustomJwtClaims = async ({ token, context }) => ({
      iss: 'https://evil.example', sub: 'someone', aud: 'elsewhere', exp: 4102444800,
      iat: 1, jti: 'mine', scope: 'admin', client_id: 'other', cnf: {jkt: 'x'},
      app_name: context.application.name, token_kind: token.kind, token_client: token.clientId,
    })"""
    put(customizers, "client-credentials", script)
    response = m2m_token(server, m2m, api_resource)
    assert response.status_code == 200, response.text
    claims = _payload(response.json()["access_token"])
    assert claims["iss"] == server.issuer and claims["sub"] == m2m.id
    assert claims["aud"] == api_resource.indicator and claims["scope"] == "read"
    assert claims["client_id"] == m2m.id and claims["jti"] != "mine" and "cnf" not in claims
    assert claims["exp"] - claims["iat"] <= 3600 and claims["iat"] > 1
    assert claims["token_kind"] == "ClientCredentials" and claims["token_client"] == m2m.id
    assert claims["app_name"].startswith("app")


def test_deny_access_refuses_the_token_with_logtos_error(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api,
    browser: Browser, web_app: App, user: User,
) -> None:  # fmt: skip
    put(customizers, "client-credentials", DENY)
    response = m2m_token(server, m2m, api_resource)
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"
    assert response.json()["error_description"] == "You are not allowed to access this resource"
    put(customizers, "access-token", DENY)
    refused = user_token(browser, server, web_app, user, api_resource)
    assert refused.status_code == 400 and refused.json()["error"] == "access_denied"
    entries = audit_entries(server, "JwtCustomizer.ClientCredentials", m2m.id)
    assert entries and entries[-1]["result"] == "Error"
    assert entries[-1]["customJwtError"]["message"] == "You are not allowed to access this resource"


def audit_entries(server: Server, key: str, app_id: str) -> list[dict[str, Any]]:
    async def read(conn):  # type: ignore[no-untyped-def]
        query = (
            select(logs.c.payload)
            .where(logs.c.key == key, logs.c.application_id == app_id)
            .order_by(logs.c.created_at)
        )
        return [row[0] for row in await conn.execute(query)]

    return list(server.db(read))


def test_a_failing_script_gives_the_token_without_custom_claims_and_an_audit_entry(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api
) -> None:
    put(
        customizers,
        "client-credentials",
        "const getCustomJwtClaims = () => { throw new Error('boom') }",
    )
    response = m2m_token(server, m2m, api_resource)
    assert response.status_code == 200, response.text
    assert set(_payload(response.json()["access_token"])) == {
        "jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"
    }  # fmt: skip
    entry = audit_entries(server, "JwtCustomizer.ClientCredentials", m2m.id)[-1]
    assert entry["result"] == "Error" and entry["customJwtError"]["message"] == "boom"
    put(customizers, "client-credentials", "const getCustomJwtClaims = () => ({ ok: 1 })")
    assert m2m_token(server, m2m, api_resource).status_code == 200
    entry = audit_entries(server, "JwtCustomizer.ClientCredentials", m2m.id)[-1]
    assert entry["result"] == "Success" and entry["customTokenClaims"] == {"ok": 1}


def test_block_issuance_on_error_refuses_the_token(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api
) -> None:
    put(customizers, "client-credentials", "const getCustomJwtClaims = () => { throw new Error('boom') }",
        blockIssuanceOnError=True)  # fmt: skip
    response = m2m_token(server, m2m, api_resource)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert response.json()["error_description"] == "Custom claims script error: boom"


@pytest.mark.parametrize(
    "script",
    [
        "const getCustomJwtClaims = async () => { while (true) {} }",
        "const getCustomJwtClaims = async () => { await null; while (true) {} }",
        "const getCustomJwtClaims = () => new Promise(() => {})",
        "const getCustomJwtClaims = () => { const a = []; while (true) a.push(new Array(1e6).fill(1.5)) }",
        "const getCustomJwtClaims = () => ({ n: new Uint8Array(2e9).fill(1).length })",
        "const getCustomJwtClaims = () => ({ n: new Array(2 ** 31 - 1).fill(0).length })",
    ],
    ids=["loop", "microtask-loop", "never-settles", "heap", "array-buffer", "huge-array"],
)
def test_runaway_scripts_are_stopped_within_the_limits_and_the_server_answers_meanwhile(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api, script: str
) -> None:
    put(customizers, "client-credentials", script)
    result: dict[str, Any] = {}

    def ask() -> None:
        started = time.monotonic()
        result["response"] = m2m_token(server, m2m, api_resource)
        result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=ask)
    worker.start()
    answered = 0
    while worker.is_alive():
        status = httpx.get(f"{server.endpoint}/oidc/.well-known/openid-configuration", timeout=2)
        assert status.status_code == 200
        answered += 1
        time.sleep(0.05)
    worker.join()
    assert result["response"].status_code == 200, result["response"].text
    assert "n" not in _payload(result["response"].json()["access_token"])
    assert result["seconds"] < 3.0  # 1 s limit + 0.5 s grace + the request itself
    assert answered >= 1
    put(customizers, "client-credentials", "const getCustomJwtClaims = () => ({ after: 1 })")
    after = m2m_token(server, m2m, api_resource)  # a fresh helper took over
    assert _payload(after.json()["access_token"])["after"] == 1


# The test endpoint --------------------------------------------------------------------------
def test_the_test_endpoint_runs_logtos_samples(customizers: httpx.Client) -> None:
    ran = customizers.post("/configs/jwt-customizer/test", json={
        "tokenType": "access-token", "script": ACCESS_TOKEN_SAMPLE,
        "environmentVariables": ENVIRONMENT,
        "token": {**TOKEN_SAMPLE, "kind": "AccessToken", "accountId": "uid_123",
                  "grantId": "grant_123", "gty": "authorization_code"},
        "context": {"user": {"id": "123", "username": "foo", "hasPassword": False},
                    "interaction": {"interactionEvent": "SignIn", "userId": "123",
                                    "verificationRecords": [{"type": "Password"}]}},
    })  # fmt: skip
    assert ran.status_code == 200, ran.text
    assert ran.json() == {"user_id": "123", "hasPassword": False, "interactionEvent": "SignIn",
                          "verificationType": "Password"}  # fmt: skip
    m2m = customizers.post("/configs/jwt-customizer/test", json={
        "tokenType": "client-credentials", "script": CLIENT_CREDENTIALS_SAMPLE,
        "environmentVariables": ENVIRONMENT, "token": TOKEN_SAMPLE,
        "context": {"application": {"id": "my-app", "name": "My M2M App"}},
    })  # fmt: skip
    assert m2m.status_code == 200 and m2m.json() == ENVIRONMENT


def _test(admin: httpx.Client, script: str) -> httpx.Response:
    return admin.post("/configs/jwt-customizer/test", json={
        "tokenType": "client-credentials", "script": script, "token": TOKEN_SAMPLE, "context": {},
    })  # fmt: skip


def test_the_test_endpoint_answers_failures_as_logto(customizers: httpx.Client) -> None:
    denied = error(_test(customizers, DENY), 403, "jwt_customizer.general")
    assert denied["data"] == {
        "message": "You are not allowed to access this resource",
        "error": {"code": "AccessDenied", "message": "You are not allowed to access this resource"},
    }
    syntax = error(
        _test(customizers, "const getCustomJwtClaims = ("), 422, "jwt_customizer.general"
    )
    assert "SyntaxError" in syntax["data"]["message"]
    missing = error(_test(customizers, "const x = 1"), 422, "jwt_customizer.general")
    assert (
        missing["data"]["message"]
        == "The script does not have a function named `getCustomJwtClaims`"
    )
    slow = error(_test(customizers, "const getCustomJwtClaims = () => { while (true) {} }"), 422,
                 "jwt_customizer.general")  # fmt: skip
    assert slow["data"]["message"] == "Script execution timed out after 1000ms."
    not_object = error(_test(customizers, "const getCustomJwtClaims = () => 42"), 422,
                       "jwt_customizer.general")  # fmt: skip
    assert not_object["data"]["message"] == "Invalid input"
    bad = customizers.post(
        "/configs/jwt-customizer/test", json={"tokenType": "id-token", "script": ""}
    )
    error(bad, 400, "guard.invalid_input")


def test_no_require_process_fetch_or_file_access_in_the_sandbox(customizers: httpx.Client) -> None:
    probe = """const getCustomJwtClaims = () => ({
      require: typeof require, process: typeof process, fetch: typeof fetch,
      importScripts: typeof importScripts, XMLHttpRequest: typeof XMLHttpRequest,
      Deno: typeof Deno, Bun: typeof Bun, module: typeof module, globalProcess: typeof globalThis.process,
    })"""
    found = _test(customizers, probe)
    assert found.status_code == 200, found.text
    assert set(found.json().values()) == {"undefined"}
    for script in (
        "const getCustomJwtClaims = async () => (await fetch('file:///etc/passwd')).text()",
        "const getCustomJwtClaims = () => require('fs').readFileSync('/etc/passwd', 'utf8')",
        "const getCustomJwtClaims = () => process.env",
        "const getCustomJwtClaims = async () => import('fs')",
    ):
        refused = error(_test(customizers, script), 422, "jwt_customizer.general")
        assert "/etc/passwd" not in json.dumps(refused) or "root:" not in json.dumps(refused)
        assert refused["data"]["message"]


def test_variables_sealed_with_another_key_neither_open_nor_stop_tokens(
    server: Server, customizers: httpx.Client, m2m: App, api_resource: Api
) -> None:
    import os

    from portico.connectors.secrets import Sealer
    from portico.jwt_customizer import config
    from portico.storage import configs

    put(customizers, "client-credentials", CLIENT_CREDENTIALS_SAMPLE)
    foreign = config.seal(Sealer(os.urandom(32)), "default", "jwt.clientCredentials",
                          {"script": CLIENT_CREDENTIALS_SAMPLE, "environmentVariables": ENVIRONMENT})  # fmt: skip

    async def store(conn):  # type: ignore[no-untyped-def]
        await configs.put(conn, "default", "jwt.clientCredentials", foreign)

    server.db(store)
    time.sleep(0.6)  # the server's cache of the customizer (0.5 s)
    error(
        customizers.get("/configs/jwt-customizer/client-credentials"), 500, "jwt_customizer.general"
    )
    response = m2m_token(server, m2m, api_resource)
    assert response.status_code == 200 and "foo" not in _payload(response.json()["access_token"])


def test_token_exchange_and_device_tokens_tell_the_script_where_they_came_from(
    server: Server, customizers: httpx.Client, api_resource: Api, device_app: str
) -> None:
    """As Logto: a token traded for a subject token carries ``context.grant`` (its type and
    the subject token's ``context``); other grants have none. A device's token says
    ``gty: device_code``."""
    from tests.test_rfc8628_device_flow import _confirm_on_the_page

    script = """const getCustomJwtClaims = ({ token, context }) => ({
      gty: token.gty, grantType: context.grant ? context.grant.type : 'none',
      why: context.grant ? context.grant.subjectTokenContext.why : 'none',
    })"""
    put(customizers, "access-token", script)
    user = make_user(server, roles=(api_resource.role,))
    exchanger = make_app(server, "Traditional")
    allowed = customizers.patch(f"/applications/{exchanger.id}",
                                json={"customClientMetadata": {"allowTokenExchange": True}})  # fmt: skip
    assert allowed.status_code == 200, allowed.text
    created = customizers.post(
        "/subject-tokens", json={"userId": user.id, "context": {"why": "support ticket 42"}}
    )
    assert created.status_code == 201, created.text
    with httpx.Client(base_url=server.endpoint, timeout=30) as http:
        traded = http.post("/oidc/token", headers=exchanger.basic(), data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": created.json()["subjectToken"],
            "subject_token_type": "urn:logto:token-type:impersonation_token",
            "resource": api_resource.indicator, "scope": "read"})  # fmt: skip
        assert traded.status_code == 200, traded.text
        claims = _payload(traded.json()["access_token"])
        assert claims["grantType"] == "urn:ietf:params:oauth:grant-type:token-exchange"
        assert claims["why"] == "support ticket 42"

        started = http.post("/oidc/device/auth", data={
            "client_id": device_app, "scope": "openid read", "resource": api_resource.indicator})  # fmt: skip
        assert started.status_code == 200, started.text
        body = started.json()
        with browser_session(server) as device_browser:
            assert _confirm_on_the_page(device_browser, body["user_code"]).status_code == 303
            page = device_browser.get("/sign-in")
            device_browser.follow_until_external(device_browser.client.post(
                f"{server.endpoint}/sign-in", data={"csrf_token": csrf_of(page.text),
                "identifier": user.username, "password": user.password}))  # fmt: skip
        polled = http.post("/oidc/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": device_app, "device_code": body["device_code"],
            "resource": api_resource.indicator})  # fmt: skip
        assert polled.status_code == 200, polled.text
        claims = _payload(polled.json()["access_token"])
        assert (claims["gty"], claims["grantType"], claims["why"]) == (
            "device_code",
            "none",
            "none",
        )
