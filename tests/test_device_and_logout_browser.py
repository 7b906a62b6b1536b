"""Chromium completes the device page (RFC 8628: enter the code, see the application, confirm,
sign in) and runs the front-channel logout page (its script loads each application's
``frontchannelLogoutUri`` with ``iss`` and ``sid``, then goes on to the post-logout URI)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import App, User, make_app
from tests.support import Server
from tests.test_pages_browser import (
    CLIENT_ORIGIN,
    chromium_context,
    establish_session,
)

with contextlib.suppress(ImportError):  # a dev dependency; without it the tests skip
    from playwright.sync_api import BrowserContext, Page, expect

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def front_app(server: Server) -> App:
    """Made before Chromium starts (``Server.db`` runs its own event loop)."""
    return make_app(server, "Traditional", oidc_extras={
        "frontchannelLogoutUri": f"{CLIENT_ORIGIN}/front-logout",
        "frontchannelLogoutSessionRequired": True})  # fmt: skip


@pytest.fixture
def browser_context(
    server: Server, user: User, device_app: str, front_app: App
) -> Iterator[BrowserContext]:
    with chromium_context() as ctx:
        yield ctx


def test_rfc8628_a_real_browser_completes_the_device_page(
    server: Server, http: httpx.Client, user: User, device_app: str,
    browser_context: BrowserContext,
) -> None:  # fmt: skip
    started = http.post("/oidc/device/auth", data={"client_id": device_app, "scope": "openid"})
    assert started.status_code == 200, started.text
    grant = started.json()
    page: Page = browser_context.new_page()
    page.goto(grant["verification_uri"])
    page.get_by_label("Code").fill(grant["user_code"].replace("-", "").lower())
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main")).to_contain_text("Living-room TV")  # the application, shown
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.endpoint}/device/success**")
    deadline = time.monotonic() + 15
    while True:  # the device polls (interval 5 s; the first poll is on time)
        polled = http.post("/oidc/token", data={"grant_type": GRANT, "client_id": device_app,
                                                "device_code": grant["device_code"]})  # fmt: skip
        if polled.status_code == 200 or time.monotonic() > deadline:
            break
        assert polled.json()["error"] in ("authorization_pending", "slow_down"), polled.text
        time.sleep(5)
    assert polled.status_code == 200, polled.text
    assert polled.json()["id_token"]


def test_fcl_a_real_browser_loads_the_front_channel_uri_then_goes_on(
    server: Server, user: User, front_app: App, browser_context: BrowserContext
) -> None:
    page: Page = browser_context.new_page()
    establish_session(page, server, front_app, user)
    query = urlencode({"client_id": front_app.id,
                       "post_logout_redirect_uri": front_app.post_logout_redirect_uri})  # fmt: skip
    page.goto(f"{server.issuer}/session/end?{query}")
    yes = page.get_by_role("button", name="Yes, sign me out")
    target = front_app.post_logout_redirect_uri
    with page.expect_request(
        lambda r: r.url == target and r.frame == page.main_frame, timeout=15_000
    ) as onward:
        front_uri = f"{CLIENT_ORIGIN}/front-logout"
        with page.expect_request(lambda r: r.url.startswith(front_uri)) as front:
            yes.click()
    loaded = parse_qs(urlsplit(front.value.url).query)
    assert loaded["iss"] == [server.issuer] and loaded["sid"][0]
    assert onward.value.is_navigation_request()  # the page went on by itself
