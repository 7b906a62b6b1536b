"""examples/python-flask, run for real: its module is imported and served on a local port,
and a user agent signs up and then signs in with email codes that a real SMTP server (the
lab's aiosmtpd mailbox) received, through the unmodified Logto Python SDK."""

from __future__ import annotations

import importlib.util
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin

import httpx
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import make_app
from tests.lab import EMAIL_SIGN_IN, Lab, submit
from tests.support import Browser, free_port, unique

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "python-flask" / "app.py"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
WHO = re.compile(r"<b id='who'>([^<]+)</b>")
SUBJECT = re.compile(r"<code id='sub'>([^<]+)</code>")


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portico_example_flask", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def serving(app: Flask, port: int) -> Iterator[None]:
    """Werkzeug's threaded server, as ``flask run`` uses, in a background thread."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(10)


def follow(browser: Browser, response: httpx.Response) -> httpx.Response:
    """Follow redirects across both origins (the app and Portico), as a browser does."""
    for _ in range(20):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        response = browser.client.get(urljoin(str(response.url), response.headers["location"]))
    raise AssertionError("too many redirects")


def visit(browser: Browser, url: str) -> httpx.Response:
    return follow(browser, browser.client.get(url))


def enter_code(lab: Lab, browser: Browser, address: str) -> httpx.Response:
    """Portico's code page: type the code that reached ``address``; where the browser lands."""
    code_page = browser.get("/verification-code")
    assert code_page.status_code == 200 and address in code_page.text
    return follow(
        browser, submit(browser, code_page, "/verification-code", code=lab.code_for(address))
    )


def test_flask_example_signs_up_and_signs_in_with_email_codes(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    port = free_port()
    base = f"http://localhost:{port}"
    registered = make_app(
        lab.server,
        "Traditional",
        redirect_uri=f"{base}/callback",
        post_logout_redirect_uri=f"{base}/",
    )
    app = load_example().create_app(
        {
            "LOGTO_ENDPOINT": lab.server.endpoint,
            "LOGTO_APP_ID": registered.id,
            "LOGTO_APP_SECRET": registered.secret or "",
            "BASE_URL": base,
            "SECRET_KEY": secrets.token_hex(32),
        }
    )
    address = f"{unique('flask')}@example.com"
    browser = lab.browser()

    with serving(app, port):
        assert "You are not signed in." in visit(browser, f"{base}/").text
        assert "session" not in browser.client.portico_cookies.values  # none until sign-in

        # Sign up: /sign-up asks for Portico's registration page (interaction_mode=signUp).
        form = visit(browser, f"{base}/sign-up")
        assert str(form.url) == f"{lab.server.endpoint}/register"
        sent = submit(browser, form, "/register", identifier=address)
        assert sent.status_code == 303 and sent.headers["location"] == "/verification-code"
        home = enter_code(lab, browser, address)
        assert str(home.url) == f"{base}/", home.text[:500]
        who, subject = WHO.search(home.text), SUBJECT.search(home.text)
        assert who and who.group(1) == address
        assert subject
        assert lab.messages_to(address)[-1]["Subject"] == "Register code"

        # The SDK's fetchUserInfo, with the access token from the code exchange.
        info = visit(browser, f"{base}/user-info").json()
        assert info["sub"] == subject.group(1)
        assert info["email"] == address and info["email_verified"] is True

        # Sign out: without an id_token_hint Portico asks the user, then returns to the app.
        confirm = visit(browser, f"{base}/sign-out")
        assert str(confirm.url).startswith(f"{lab.server.issuer}/session/end?")
        fields = dict(HIDDEN_INPUT.findall(confirm.text))
        assert fields["post_logout_redirect_uri"] == f"{base}/"
        signed_out = follow(
            browser,
            browser.client.post(
                f"{lab.server.issuer}/session/end/confirm", data={**fields, "logout": "yes"}
            ),
        )
        assert str(signed_out.url) == f"{base}/"
        assert "You are not signed in." in signed_out.text

        # Sign in again, with a new code: the same account.
        form = visit(browser, f"{base}/sign-in")
        assert str(form.url) == f"{lab.server.endpoint}/sign-in"
        sent = submit(browser, form, "/sign-in", identifier=address)
        assert sent.status_code == 303 and sent.headers["location"] == "/verification-code"
        home = enter_code(lab, browser, address)
        again = SUBJECT.search(home.text)
        assert again and again.group(1) == subject.group(1)
        assert [m["Subject"] for m in lab.messages_to(address)] == ["Register code", "SignIn code"]


def test_flask_example_refuses_a_forged_callback(lab: Lab) -> None:
    """A callback whose state the SDK did not issue is refused with a readable page."""
    port = free_port()
    base = f"http://localhost:{port}"
    registered = make_app(lab.server, "Traditional", redirect_uri=f"{base}/callback")
    app = load_example().create_app(
        {
            "LOGTO_ENDPOINT": lab.server.endpoint,
            "LOGTO_APP_ID": registered.id,
            "LOGTO_APP_SECRET": registered.secret or "",
            "BASE_URL": base,
            "SECRET_KEY": secrets.token_hex(32),
        }
    )
    browser = lab.browser()
    with serving(app, port):
        visit(browser, f"{base}/sign-in")  # a sign-in session exists, with its own state
        forged = browser.client.get(f"{base}/callback?code=stolen&state=guessed")
        assert forged.status_code == 400
        assert "Invalid state in the callback URI" in forged.text
        assert "You are not signed in." in visit(browser, f"{base}/").text
