"""Bad input never breaks the server: schemathesis drives every operation of the Management
API's own OpenAPI document (``/api/swagger.json``, whatever it lists), and a fuzz of the
protocol endpoints and sign-in forms sends oversized bodies, invalid UTF-8, wrong content
types and repeated parameters. No answer may be a 5xx or carry a stack trace."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.conftest import App, make_app
from tests.support import Browser, Server, authorize_url, browser_client, create_database

# What a response must never carry: a Python or driver stack trace, SQL, a DSN. Driver names
# are matched as module paths ("sqlalchemy.exc"): a generated name such as "AIOSQLITE",
# echoed back in a created role, is not a leak.
STACK = re.compile(
    r"Traceback \(most recent|File \"/|\b(?:sqlalchemy|asyncpg|aiosqlite|sqlite3)\.\w|"
    r"postgresql://|"
    r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b",
    re.IGNORECASE,
)
MIB = 1024 * 1024
MANAGEMENT_API = "https://default.logto.app/api"


def assert_handled(response: httpx.Response | object, label: str) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert status < 500, f"{label}: {status} {text[:300]}"
    assert not STACK.search(text), f"{label}: {text[:500]}"


# --- Management API: schemathesis -------------------------------------------------------------


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: generated requests change its configuration."""
    data_dir = str(tmp_path_factory.mktemp("portico-fuzz"))
    url, drop = create_database(data_dir)
    srv = Server(url, data_dir).start()
    try:
        yield srv
    finally:
        srv.stop()
        drop()


@pytest.fixture(scope="module")
def api_token(api_server: Server) -> str:
    m2m = make_app(api_server, "MachineToMachine", roles=["Logto Management API access"])
    response = httpx.post(
        f"{api_server.endpoint}/oidc/token",
        headers=m2m.basic(),
        data={
            "grant_type": "client_credentials",
            "resource": "https://default.logto.app/api",
            "scope": "all",
        },
    )
    return str(response.json()["access_token"])


# Requests per operation and mode: with some 250 operations, 12 keep both runs near two
# minutes each on CI's two cores (20 took four and a half) and still reach every handler.
EXAMPLES_PER_OPERATION = 12


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_management_api_answers_generated_requests_without_5xx(
    api_server: Server, api_token: str, mode: GenerationMode
) -> None:
    """Every operation the document lists, with data that fits its schema and data that
    does not; authenticated, so requests reach the handlers."""
    api_schema = schemathesis.openapi.from_url(f"{api_server.endpoint}/api/swagger.json")
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            response = case.call(
                base_url=f"{api_server.endpoint}/api",
                headers={"Authorization": f"Bearer {api_token}"},
                timeout=30,
            )
            assert_handled(response, f"{case.method} {case.formatted_path}")

        try:
            check()
        except Unsatisfiable:  # nothing of this operation can be made invalid (no inputs)
            assert mode == GenerationMode.NEGATIVE


# --- protocol endpoints and sign-in forms: a fuzz ---------------------------------------------

FORM = "application/x-www-form-urlencoded"
# (label, content-type, body): each sent to every endpoint below.
BODIES: list[tuple[str, str | None, bytes]] = [
    ("invalid UTF-8 form", FORM, b"grant_type=authorization_code&code=\xff\xfe\xfd"),
    ("invalid UTF-8 JSON", "application/json", b'{"grant_type": "\xff"}'),
    ("invalid JSON", "application/json", b'{"grant_type": '),
    ("JSON array", "application/json", b'["grant_type", "client_credentials"]'),
    ("JSON nested", "application/json", b'{"grant_type": {"a": [1, {"b": null}]}}'),
    ("JSON null", "application/json", b"null"),
    ("JSON 50,000 deep", "application/json", b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    ("JSON left open", "application/json", b'{"grant_type": ' + b"[" * 50_000),
    ("XML", "application/xml", b"<grant_type>client_credentials</grant_type>"),
    ("plain text", "text/plain", b"grant_type=client_credentials"),
    ("multipart garbage", "multipart/form-data; boundary=zz", b"--zz\r\ngarbage\r\n--zz--"),
    ("multipart without boundary", "multipart/form-data", b"grant_type=x"),
    ("form with latin-1 charset", f"{FORM}; charset=latin-1", b"code=caf\xe9"),
    ("no content type", None, b"grant_type=client_credentials"),
    ("repeated parameters", FORM,
     b"grant_type=authorization_code&grant_type=refresh_token&code=a&code=b"
     b"&client_id=x&client_id=y&redirect_uri=a&redirect_uri=b&scope=openid&scope=email"),
    ("broken percent-encoding", FORM, b"grant_type=%ZZ%&code=%&refresh_token=%%%"),
    ("NUL and control characters", FORM, b"grant_type=%00&code=%0d%0a%1b&client_id=\x00"),
    ("one long value", FORM, b"code=" + b"A" * 50_000),
    ("many parameters", FORM, b"&".join(b"p%d=%d" % (i, i) for i in range(5_000))),
    ("over the form limit", FORM, b"code=" + b"A" * 100_000),
    ("over the request limit", FORM, b"code=" + b"A" * (2 * MIB)),
]  # fmt: skip
ENDPOINTS = [
    ("POST", "/oidc/token"),
    ("POST", "/oidc/token/revocation"),
    ("POST", "/oidc/token/introspection"),
    ("POST", "/oidc/me"),
    ("POST", "/oidc/auth"),
    ("POST", "/oidc/session/end"),
    ("POST", "/oidc/session/end/confirm"),
    ("POST", "/sign-in"),
    ("POST", "/register"),
    ("POST", "/verification-code"),
    ("POST", "/consent"),
    ("PATCH", "/api/sign-in-exp"),
    ("POST", "/api/connectors"),
    ("PUT", "/api/experience"),
    ("POST", "/api/experience/verification/password"),
    ("POST", "/api/experience/identification"),
    ("POST", "/api/experience/profile"),
]


@pytest.fixture(scope="module")
def api_token_of_server(server: Server) -> str:
    m2m = make_app(server, "MachineToMachine", roles=["Logto Management API access"])
    response = httpx.post(
        f"{server.endpoint}/oidc/token",
        headers=m2m.basic(),
        data={"grant_type": "client_credentials", "resource": MANAGEMENT_API, "scope": "all"},
    )
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def interaction(server: Server) -> Iterator[httpx.Client]:
    """A browser inside a real sign-in interaction, so that forms parse their bodies."""
    app = make_app(server, "Traditional")
    with browser_client() as client:
        browser = Browser(server, client)
        page = browser.follow_until_external(
            client.get(authorize_url(server, app.id, app.redirect_uri))
        )
        assert page.status_code == 200
        yield client


@pytest.mark.parametrize("label,content_type,body", BODIES, ids=[b[0] for b in BODIES])
def test_protocol_endpoints_refuse_malformed_bodies_cleanly(
    server: Server, interaction: httpx.Client, web_app: App, label: str,
    content_type: str | None, body: bytes,
) -> None:  # fmt: skip
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in ENDPOINTS:
        # A known client authenticates, so token requests get past client authentication.
        auth = web_app.basic() if path.startswith("/oidc/token") else {}
        response = interaction.request(
            method, f"{server.endpoint}{path}", content=body, headers={**headers, **auth}
        )
        assert_handled(response, f"{label} -> {method} {path}")
        if len(body) > MIB:
            assert response.status_code == 413, f"{label} -> {path}: {response.status_code}"


def test_oversized_chunked_body_is_refused_without_being_read_whole(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&x="
        for _ in range(64):
            yield b"A" * 65536  # 4 MiB in all, no Content-Length

    for path in ("/oidc/token", "/api/sign-in-exp", "/sign-in"):
        response = httpx.post(
            f"{server.endpoint}{path}", content=chunks(), headers={"Content-Type": FORM}
        )
        assert response.status_code == 413, (path, response.status_code, response.text[:200])
        assert_handled(response, path)


NUL_REQUESTS = [
    ("POST", "/sign-in", FORM, b"identifier=a%00b&password=x"),
    ("POST", "/register", FORM, b"identifier=ab%00c&password=violet-harbour-cactus-49"),
    ("POST", "/oidc/token", FORM, b"grant_type=client_credentials&client_id=a%00&client_secret=x"),
    ("POST", "/oidc/auth", FORM, b"client_id=a\x00b&response_type=code"),
    ("GET", "/oidc/auth?client_id=a%00&response_type=code", None, b""),
    ("GET", "/api/applications/a%00b", None, b""),
    ("PATCH", "/api/sign-in-exp", "application/json", b'{"customCss": "a\\u0000b"}'),
    ("PUT", "/api/custom-phrases/en", "application/json", b'{"action": {"x": "\\u0000"}}'),
]


@pytest.mark.parametrize("method,path,content_type,body", NUL_REQUESTS)
def test_nul_characters_are_refused_on_every_surface(
    server: Server, interaction: httpx.Client, api_token_of_server: str, method: str, path: str,
    content_type: str | None, body: bytes,
) -> None:  # fmt: skip
    """PostgreSQL cannot store NUL (the statement fails); both databases refuse it alike."""
    headers = {"Authorization": f"Bearer {api_token_of_server}"} if path.startswith("/api") else {}
    if content_type:
        headers["Content-Type"] = content_type
    response = interaction.request(method, f"{server.endpoint}{path}", content=body,
                                   headers=headers)  # fmt: skip
    assert response.status_code == 400, (response.status_code, response.text[:200])
    assert_handled(response, path)


@pytest.mark.parametrize(
    "path", ["/api/users", "/api/applications", "/api/experience/verification/password"]
)
def test_json_nested_too_deep_is_refused_before_it_is_parsed(
    server: Server, interaction: httpx.Client, api_token_of_server: str, path: str
) -> None:
    """Python's parser recurses per level: 50,000 levels were a RecursionError (a 500)."""
    headers = {"Authorization": f"Bearer {api_token_of_server}",
               "Content-Type": "application/json"}  # fmt: skip
    deep = b'{"name": "x", "customData": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}"
    response = interaction.post(f"{server.endpoint}{path}", content=deep, headers=headers)
    assert response.status_code == 400, (response.status_code, response.text[:200])
    assert response.json()["code"] == "guard.invalid_input"
    # 32 levels are still taken as they are.
    fine = b'{"username": "deep_ok_%d", "customData": {"a": ' % len(path)
    fine += b"[" * 30 + b"]" * 30 + b"}}"
    accepted = httpx.post(f"{server.endpoint}/api/users", content=fine, headers=headers)
    assert accepted.status_code == 200, accepted.text


def test_a_literal_backslash_u0000_in_json_text_is_not_a_nul(
    server: Server, api_token_of_server: str
) -> None:
    headers = {"Authorization": f"Bearer {api_token_of_server}",
               "Content-Type": "application/json"}  # fmt: skip
    escaped_backslash = b'{"action": {"sign_in": "see \\\\u0000"}}'  # JSON: "see \\u0000"
    url = f"{server.endpoint}/api/custom-phrases/es"
    response = httpx.put(url, content=escaped_backslash, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["translation"]["action"]["sign_in"] == "see \\u0000"
    httpx.delete(url, headers=headers)


QUERIES = [
    "client_id=%FF%FE&response_type=code",
    "client_id=a&client_id=b&response_type=code&response_type=token",
    "redirect_uri=%00&client_id=%0d%0a",
    "scope=" + "openid%20" * 2000,
    "%%%=%%%&&&=",
    "request=" + "e" * 8000,
]


@pytest.mark.parametrize("query", QUERIES)
def test_browser_endpoints_refuse_malformed_queries_cleanly(
    server: Server, web_app: App, query: str
) -> None:
    for path in ("/oidc/auth", "/oidc/session/end", "/oidc/me", "/oidc/jwks", "/sign-in"):
        for extra in ("", f"&client_id={web_app.id}&redirect_uri={web_app.redirect_uri}"):
            response = httpx.get(f"{server.endpoint}{path}?{query}{extra}")
            assert_handled(response, f"GET {path}?{query[:40]}")


AUTHORIZATIONS = [
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(),
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(b"%ZZ:%").decode(),
    "Bearer " + "a" * 7_000,  # under the 8 KiB header cap (test_http_protocol.py covers past it)
    "Bearer a.b.c",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "Digest username=x",
    "Basic",
    "",
]


@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
def test_malformed_credentials_are_refused_cleanly(server: Server, authorization: str) -> None:
    headers = {"Authorization": authorization, "Content-Type": FORM}
    for path, body in (
        ("/oidc/token", b"grant_type=client_credentials"),
        ("/oidc/token/introspection", b"token=x"),
        ("/oidc/token/revocation", b"token=x"),
        ("/oidc/me", b""),
        ("/api/sign-in-exp", b""),
    ):
        method = "GET" if path.startswith("/api") else "POST"
        response = httpx.request(method, f"{server.endpoint}{path}", content=body, headers=headers)
        assert_handled(response, f"{authorization[:20]} -> {path}")
        assert response.status_code in (400, 401, 403), (path, response.status_code)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from([p for _, p in ENDPOINTS]),
    content_type=st.sampled_from([FORM, "application/json", "text/plain", "", "*/*; q=0"]),
    body=st.one_of(
        st.binary(max_size=2048),
        st.text(max_size=512).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=8).map(
            lambda d: httpx.QueryParams(d).__str__().encode()
        ),
    ),
)
def test_random_bodies_never_cause_a_server_error(
    server: Server, interaction: httpx.Client, path: str, content_type: str, body: bytes
) -> None:
    response = interaction.post(
        f"{server.endpoint}{path}", content=body, headers={"Content-Type": content_type}
    )
    assert_handled(response, f"{path} {content_type} {body[:60]!r}")
