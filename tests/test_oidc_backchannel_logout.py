"""OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0: after an RP-initiated
logout, a local receiver (a real HTTP server) gets a logout token and verifies it as an
application would (signature against the published JWKS, ``typ``, ``events``, ``sid``); the
signed-out page loads each front-channel URI."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import User, make_app
from tests.flows import tokens_for
from tests.support import Browser, Server

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Receiver:
    """An application's back-channel logout endpoint: what it received, and the statuses it
    answers with (one per request, then 200)."""

    url: str
    received: queue.Queue[dict[str, list[str]]] = field(default_factory=queue.Queue)
    statuses: list[int] = field(default_factory=list)

    def next_token(self, timeout: float = 15) -> str:
        body = self.received.get(timeout=timeout)
        return body["logout_token"][0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = parse_qs(self.rfile.read(length).decode())
            status = state.statuses.pop(0) if state.statuses else 200
            if status == 200:
                state.received.put(body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.send_header("cache-control", "no-store")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.url = f"http://localhost:{httpd.server_address[1]}/backchannel-logout"
    try:
        yield state
    finally:
        httpd.shutdown()


def _logout_with_hint(browser: Browser, server: Server, id_token: str) -> httpx.Response:
    query = urlencode({"id_token_hint": id_token})
    return browser.client.get(f"{server.issuer}/session/end?{query}")


ALGORITHMS = ["ES384", "ES256", "RS256", "EdDSA"]


def _decode(server: Server, token: str) -> jwt.Token:
    keys = KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks").json())
    return jwt.decode(token, keys, algorithms=ALGORITHMS)


def _verify(server: Server, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """As a relying party does (Back-Channel Logout 1.0 §2.6)."""
    decoded = _decode(server, token)
    return dict(decoded.header), dict(decoded.claims)


def test_bcl_2_5_the_application_receives_a_verifiable_logout_token(
    browser: Browser, server: Server, http: httpx.Client, user: User, receiver: Receiver
) -> None:
    extras = {"backchannelLogoutUri": receiver.url, "backchannelLogoutSessionRequired": True}
    app = make_app(server, "Traditional", oidc_extras=extras)
    tokens = tokens_for(browser, server, http, app, user)
    id_claims = _decode(server, tokens["id_token"]).claims
    assert _logout_with_hint(browser, server, tokens["id_token"]).status_code == 303

    header, claims = _verify(server, receiver.next_token())
    assert header["typ"] == "logout+jwt"
    assert claims["iss"] == server.issuer and claims["aud"] == app.id
    assert claims["sub"] == id_claims["sub"]
    assert claims["sid"] == id_claims["sid"]  # §2.4: the session the ID token named
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims  # §2.4: MUST NOT
    assert claims["jti"] and 0 < claims["exp"] - claims["iat"] <= 300
    # taken once: the session is over, a second logout tells nobody
    _logout_with_hint(browser, server, tokens["id_token"])
    with pytest.raises(queue.Empty):
        receiver.received.get(timeout=2)


def test_bcl_2_4_sid_only_when_the_application_asked_for_it(
    browser: Browser, server: Server, http: httpx.Client, user: User, receiver: Receiver
) -> None:
    app = make_app(server, "Traditional", oidc_extras={"backchannelLogoutUri": receiver.url})
    tokens = tokens_for(browser, server, http, app, user)
    _logout_with_hint(browser, server, tokens["id_token"])
    _, claims = _verify(server, receiver.next_token())
    assert "sid" not in claims and claims["sub"]


def test_bcl_2_8_a_failing_application_gets_the_token_again(
    browser: Browser, server: Server, http: httpx.Client, user: User, receiver: Receiver
) -> None:
    """A 5xx (the application restarting) is retried; the logout itself never waits."""
    app = make_app(server, "Traditional", oidc_extras={"backchannelLogoutUri": receiver.url})
    tokens = tokens_for(browser, server, http, app, user)
    receiver.statuses = [503, 502]
    started = time.monotonic()
    assert _logout_with_hint(browser, server, tokens["id_token"]).status_code == 303
    assert time.monotonic() - started < 2
    _verify(server, receiver.next_token(timeout=20))
    assert receiver.statuses == []


def test_bcl_every_application_of_the_session_is_told_and_no_other(
    browser: Browser, server: Server, http: httpx.Client, user: User, receiver: Receiver
) -> None:
    first = make_app(server, "Traditional", oidc_extras={"backchannelLogoutUri": receiver.url})
    second = make_app(server, "Traditional", oidc_extras={"backchannelLogoutUri": receiver.url})
    make_app(server, "Traditional", oidc_extras={"backchannelLogoutUri": receiver.url})  # unused
    tokens = tokens_for(browser, server, http, first, user)
    tokens_for(browser, server, http, second, user)  # single sign-on, same session
    _logout_with_hint(browser, server, tokens["id_token"])
    audiences = {_verify(server, receiver.next_token())[1]["aud"] for _ in range(2)}
    assert audiences == {first.id, second.id}
    with pytest.raises(queue.Empty):
        receiver.received.get(timeout=2)


def test_a_refused_delivery_is_in_the_audit_log(
    browser: Browser, server: Server, http: httpx.Client, user: User, receiver: Receiver,
    admin: httpx.Client,
) -> None:  # fmt: skip
    app = make_app(server, "Traditional", oidc_extras={"backchannelLogoutUri": receiver.url})
    tokens = tokens_for(browser, server, http, app, user)
    receiver.statuses = [400]  # §2.8: the application refused the token; not sent again
    _logout_with_hint(browser, server, tokens["id_token"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        logs = admin.get("/logs", params={"logKey": "BackchannelLogout"}).json()
        if logs:
            break
        time.sleep(0.3)
    assert logs and logs[0]["payload"]["applicationId"] == app.id
    assert logs[0]["payload"]["result"] == "Error"
    assert "400" in logs[0]["payload"]["error"]["message"]
    assert tokens["id_token"] not in str(logs)


def test_fcl_the_signed_out_page_loads_each_front_channel_uri(
    browser: Browser, server: Server, http: httpx.Client, user: User
) -> None:
    front = "http://localhost:3000/front-logout"
    app = make_app(server, "Traditional", oidc_extras={
        "frontchannelLogoutUri": front, "frontchannelLogoutSessionRequired": True})  # fmt: skip
    tokens = tokens_for(browser, server, http, app, user)
    sid = _decode(server, tokens["id_token"]).claims["sid"]
    page = _logout_with_hint(browser, server, tokens["id_token"])
    assert page.status_code == 200
    expected = f"{front}?{urlencode({'iss': server.issuer, 'sid': sid})}".replace("&", "&amp;")
    assert f'src="{expected}"' in page.text
    assert "frame-src http://localhost:3000" in page.headers["content-security-policy"]
    assert "/oidc/session/end/success" in page.text  # where the page goes on to


def test_fcl_2_the_uri_must_share_a_redirect_uri_origin(
    admin: httpx.Client, server: Server
) -> None:
    app = make_app(server, "Traditional")
    refused = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [app.redirect_uri], "postLogoutRedirectUris": [],
        "frontchannelLogoutUri": "https://elsewhere.example/logout"}})  # fmt: skip
    assert refused.status_code == 400 and "frontchannelLogoutUri" in refused.text


def test_discovery_advertises_both_logouts(http: httpx.Client) -> None:
    config = http.get("/oidc/.well-known/openid-configuration").json()
    for key in ("backchannel_logout", "frontchannel_logout"):
        assert config[f"{key}_supported"] is True
        assert config[f"{key}_session_supported"] is True
