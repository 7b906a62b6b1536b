"""Real-browser tests of the hosted pages (sign-in, logout confirmation) with Chromium driven by
Playwright's sync API.

Chromium is the Debian package (``apt-get install chromium``, ``/usr/bin/chromium``; another
binary can be named with ``PORTICO_CHROMIUM``). Without it these tests skip, except under CI
(``CI`` set), where they fail.

Nothing listens on the client's origin (http://localhost:3000): the final redirect to the client
is observed as the browser's navigation request to it (``page.expect_request``). (Stubbing that
origin with ``page.route`` was unreliable with Debian's Chromium: the routed request after the
provider's 303 sometimes went to the network or never surfaced.)

Playwright's sync API keeps an event loop running in this thread while it is active, and
``Server.db`` uses ``asyncio.run``; so the browser fixture depends on ``web_app`` and ``user``,
which are therefore written to the database before Playwright starts.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import App, User
from tests.support import Server, authorize_url, pkce_pair, query_of

try:
    from playwright.sync_api import (
        BrowserContext,
        ConsoleMessage,
        Frame,
        Page,
        Request,
        expect,
        sync_playwright,
    )
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # pragma: no cover - the playwright package is a dev dependency
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("PORTICO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLIENT_ORIGIN = "http://localhost:3000"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SIGN_IN_FAILED = "The account or password is incorrect."
SESSION_COOKIE = "__Host-portico_session"
INTERACTION_COOKIE = "__Host-portico_interaction"


def _chromium_missing() -> str | None:
    if sync_playwright is None:
        return "the playwright package is not installed"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@contextmanager
def chromium_context() -> Iterator[BrowserContext]:
    """A fresh Chromium context; skipped without Chromium, except under CI where it fails."""
    missing = _chromium_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context()
            ctx.set_default_timeout(15_000)
            try:
                yield ctx
            finally:
                ctx.close()
        finally:
            browser.close()


@pytest.fixture
def context(server: Server, web_app: App, user: User) -> Iterator[BrowserContext]:
    """A fresh Chromium context per test."""
    with chromium_context() as ctx:
        yield ctx


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def open_sign_in(page: Page, server: Server, app: App, **params: str) -> httpx.Headers:
    """Go to an authorization URL and land on the sign-in page; its response headers."""
    response = page.goto(authorize_url(server, app.id, app.redirect_uri, **params))
    assert response is not None
    assert page.url == f"{server.endpoint}/sign-in", page.url
    assert response.status == 200
    return httpx.Headers(response.all_headers())


def cookie(context: BrowserContext, name: str) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == name), None)


def assert_host_cookie(found: dict | None, name: str) -> None:
    assert found is not None, f"no {name} cookie"
    assert found["httpOnly"] is True
    assert found["secure"] is True
    assert found["sameSite"] == "Lax"
    assert found["path"] == "/"
    assert found["domain"] == "localhost"  # host-only: no Domain attribute (__Host- prefix)


def submit_and_wait_for_client(page: Page, submit: Callable[[], object]) -> str:
    """Run ``submit``; the URL of the navigation request that reaches the client's origin.

    Nothing listens there, so the request fails and Chromium shows its error page; this waits
    for that so the next navigation is not interrupted. A CSP violation reported on the console
    while waiting is included in the failure message."""
    console: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        console.append(message.text)

    def settled(frame: Frame) -> bool:
        return frame == page.main_frame and frame.url.startswith(("chrome-error:", CLIENT_ORIGIN))

    page.on("console", listen)
    try:
        with page.expect_event("framenavigated", predicate=settled, timeout=10_000):  # noqa: SIM117
            with page.expect_request(
                lambda r: r.url.startswith(CLIENT_ORIGIN + "/") and r.is_navigation_request(),
                timeout=10_000,
            ) as request:
                submit()
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"the browser never navigated to {CLIENT_ORIGIN}; it is at {page.url}; "
            f"console: {console}"
        ) from None
    finally:
        page.remove_listener("console", listen)
    return request.value.url


def establish_session(page: Page, server: Server, app: App, user: User) -> None:
    """Sign in through the form, for tests whose subject comes after: wait for the session
    cookie, then for the browser to either reach the client or be stopped by CSP (the redirect
    to the client is asserted by the sign-in tests)."""
    open_sign_in(page, server, app)
    done: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            done.append("csp")

    def on_navigated(frame: Frame) -> None:
        if frame == page.main_frame and frame.url.startswith(("chrome-error:", CLIENT_ORIGIN)):
            done.append("client")

    page.on("console", on_console)
    page.on("framenavigated", on_navigated)
    try:
        page.get_by_label("Username", exact=True).fill(user.username)
        page.get_by_label("Password", exact=True).fill(user.password)
        page.get_by_role("button", name="Sign in").click()
        for _ in range(200):
            if done:
                break
            page.wait_for_timeout(50)
        assert done, "sign-in neither reached the client nor was blocked"
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("framenavigated", on_navigated)
    assert cookie(page.context, SESSION_COOKIE) is not None


def test_full_sign_in_then_code_exchange(
    server: Server, web_app: App, user: User, context: BrowserContext, page: Page
) -> None:
    verifier, challenge = pkce_pair()
    state = "st-" + os.urandom(6).hex()
    open_sign_in(
        page,
        server,
        web_app,
        state=state,
        code_challenge=challenge,
        code_challenge_method="S256",
        scope="openid profile",
    )
    expect(page).to_have_title(re.compile(r"^Sign in to "))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in to")

    # Every user-visible form control has an associated <label>.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
                  .filter(el => el.type !== 'hidden' && (!el.labels || el.labels.length === 0))
                  .map(el => el.name || el.id)"""
    )
    assert unlabelled == []
    identifier = page.get_by_label("Username", exact=True)
    password = page.get_by_label("Password", exact=True)
    expect(identifier).to_have_attribute("autocomplete", "username")
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "current-password")
    shot = screenshot(page, "sign-in.png")
    assert shot.stat().st_size > 0

    identifier.fill(user.username)
    password.fill(user.password)
    callback = submit_and_wait_for_client(page, lambda: password.press("Enter"))

    assert callback.startswith(web_app.redirect_uri + "?"), callback
    params = query_of(callback)
    assert params.get("code")
    assert params["state"] == state
    assert params["iss"] == server.issuer
    assert "error" not in params
    # The interaction is finished: its cookie is cleared; the session cookie is set.
    assert cookie(context, INTERACTION_COOKIE) is None
    assert cookie(context, SESSION_COOKIE) is not None

    token = httpx.post(
        f"{server.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": web_app.redirect_uri,
            "code_verifier": verifier,
        },
        headers=web_app.basic(),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["id_token"]
    assert body["access_token"]
    assert body["token_type"].lower() == "bearer"


def test_wrong_password_and_unknown_user_show_the_same_generic_error(
    server: Server, web_app: App, user: User, page: Page
) -> None:
    open_sign_in(page, server, web_app)

    for identifier, password in (
        (user.username, "not the password"),
        ("nobody_" + os.urandom(5).hex(), user.password),
    ):
        page.get_by_label("Username", exact=True).fill(identifier)
        page.get_by_label("Password", exact=True).fill(password)
        with page.expect_response(
            lambda r: r.url == f"{server.endpoint}/sign-in" and r.request.method == "POST"
        ) as posted:
            page.get_by_role("button", name="Sign in").click()
        assert posted.value.status == 422  # Logto: session.invalid_credentials
        page.wait_for_load_state()
        assert page.url == f"{server.endpoint}/sign-in"
        alert = page.get_by_role("alert")
        expect(alert).to_have_text(SIGN_IN_FAILED)
        expect(page.get_by_label("Username", exact=True)).to_have_value(identifier)
        expect(page.get_by_label("Username", exact=True)).to_have_attribute(
            "aria-describedby", "form-error"
        )
        # The password is never echoed back into the page.
        expect(page.get_by_label("Password", exact=True)).to_have_value("")
        assert password not in page.content()
    assert cookie(page.context, SESSION_COOKIE) is None


def test_security_headers_and_cookies(
    server: Server, web_app: App, user: User, context: BrowserContext, page: Page
) -> None:
    headers = open_sign_in(page, server, web_app)
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "text/html" in headers["content-type"]

    assert_host_cookie(cookie(context, INTERACTION_COOKIE), INTERACTION_COOKIE)
    assert cookie(context, SESSION_COOKIE) is None
    # HttpOnly: invisible to page scripts.
    assert "portico" not in page.evaluate("document.cookie")

    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    # The session cookie comes with the answer to the form; where the browser goes next is
    # the business of the other tests.
    with page.expect_response(
        lambda r: r.url == f"{server.endpoint}/sign-in" and r.request.method == "POST"
    ) as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 303
    assert_host_cookie(cookie(context, SESSION_COOKIE), SESSION_COOKIE)


def test_keyboard_only_sign_in(server: Server, web_app: App, user: User, page: Page) -> None:
    open_sign_in(page, server, web_app)
    identifier = page.get_by_label("Username", exact=True)
    password = page.get_by_label("Password", exact=True)
    button = page.get_by_role("button", name="Sign in")

    expect(identifier).to_be_focused()  # autofocus
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(user.password)
    page.keyboard.press("Tab")
    reveal = page.get_by_role("button", name="Show")
    expect(reveal).to_be_focused()  # the show-password toggle (JavaScript enhancement)
    page.keyboard.press("Enter")
    expect(password).to_have_attribute("type", "text")
    expect(reveal).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(password).to_be_focused()
    expect(identifier).to_have_value(user.username)
    expect(password).to_have_value(user.password)

    callback = submit_and_wait_for_client(page, lambda: page.keyboard.press("Enter"))
    assert callback.startswith(web_app.redirect_uri + "?")
    assert query_of(callback).get("code")


def test_tampered_csrf_token_is_rejected(
    server: Server, web_app: App, user: User, page: Page
) -> None:
    to_client: list[str] = []

    def watch(request: Request) -> None:
        if request.url.startswith(CLIENT_ORIGIN):
            to_client.append(request.url)

    page.on("request", watch)
    open_sign_in(page, server, web_app)
    original = page.locator("input[name=csrf_token]").input_value()
    assert original
    page.evaluate(
        """() => { const el = document.querySelector('input[name=csrf_token]');
                   el.value = el.value.slice(0, -1) + (el.value.endsWith('A') ? 'B' : 'A'); }"""
    )
    assert page.locator("input[name=csrf_token]").input_value() != original
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    with page.expect_response(
        lambda r: r.url == f"{server.endpoint}/sign-in" and r.request.method == "POST"
    ) as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 403
    page.wait_for_load_state()

    assert page.url == f"{server.endpoint}/sign-in"
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong")
    expect(page.get_by_role("alert")).to_contain_text("This form has expired")
    assert cookie(page.context, SESSION_COOKIE) is None
    page.wait_for_timeout(300)
    assert to_client == []


def test_logout_confirmation_page(
    server: Server, web_app: App, user: User, context: BrowserContext, page: Page
) -> None:
    establish_session(page, server, web_app, user)
    assert cookie(context, SESSION_COOKIE) is not None

    query = urlencode(
        {"client_id": web_app.id, "post_logout_redirect_uri": web_app.post_logout_redirect_uri}
    )
    response = page.goto(f"{server.issuer}/session/end?{query}")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign out")
    yes = page.get_by_role("button", name="Yes, sign me out")
    expect(yes).to_be_visible()
    expect(page.get_by_role("button", name="No, stay signed in")).to_be_visible()
    headers = httpx.Headers(response.all_headers())
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    shot = screenshot(page, "logout-confirm.png")
    assert shot.stat().st_size > 0

    landed = submit_and_wait_for_client(page, yes.click)
    assert landed == web_app.post_logout_redirect_uri
    assert cookie(context, SESSION_COOKIE) is None

    # Signed out for real: a new authorization request asks for credentials again.
    open_sign_in(page, server, web_app)


def test_logout_declined_keeps_the_session(
    server: Server, web_app: App, user: User, context: BrowserContext, page: Page
) -> None:
    establish_session(page, server, web_app, user)
    session = cookie(context, SESSION_COOKIE)
    assert session is not None

    query = urlencode(
        {"client_id": web_app.id, "post_logout_redirect_uri": web_app.post_logout_redirect_uri}
    )
    page.goto(f"{server.issuer}/session/end?{query}")
    submit_and_wait_for_client(page, page.get_by_role("button", name="No, stay signed in").click)
    kept = cookie(context, SESSION_COOKIE)
    assert kept is not None and kept["value"] == session["value"]

    # Still signed in: authorization completes without the sign-in page.
    url = authorize_url(server, web_app.id, web_app.redirect_uri)
    landed = submit_and_wait_for_client(
        page, lambda: page.evaluate("url => { window.location.href = url; }", url)
    )
    assert query_of(landed).get("code")
