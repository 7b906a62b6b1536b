"""Auth.js against Portico in a real browser (seed 004, examples/nextjs-authjs).

tests/node/authjs_app.mjs serves the example's Auth.js configuration without Next.js: the v5
``Logto`` provider through ``@auth/core`` (what ``next-auth@beta`` wraps), configured from
``AUTH_LOGTO_ISSUER/ID/SECRET``, and the v4 custom provider (``wellKnown`` +
``id_token_signed_response_alg: 'ES384'``) through next-auth 4. Chromium (Playwright) opens the
app, follows Auth.js's own "Sign in with Logto" button to Portico, signs in, and comes back to a
page that shows the name and email Auth.js read from Portico's ID token.

The step on Portico's pages is ``sign_in_at_portico``: username and password today; the Kakao
connector (issue 5) swaps it for "Continue with Kakao" and the fake Kakao server.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from tests.conftest import App, User, make_app, make_user
from tests.node_runtime import NODE_DIR, node_binary
from tests.support import Server, free_port
from tests.test_pages_browser import chromium_context

APP_SCRIPT = NODE_DIR / "authjs_app.mjs"
CALLBACK_PATH = "/api/auth/callback/logto"


@pytest.fixture(scope="module")
def node() -> str:
    return node_binary()


@contextmanager
def authjs_app(node: str, variant: str, server: Server, app: App, port: int, log: Path):
    """Run authjs_app.mjs for ``app`` on ``port``; yields its origin. Its output goes to
    ``log``, quoted in failures."""
    env = {
        **os.environ,
        "VARIANT": variant,
        "PORT": str(port),
        "NODE_ENV": "development",
        "AUTH_SECRET": secrets.token_urlsafe(32),
        "AUTH_LOGTO_ISSUER": server.issuer,
        "AUTH_LOGTO_ID": app.id,
        "AUTH_LOGTO_SECRET": app.secret or "",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [node, str(APP_SCRIPT)], cwd=NODE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.time() + 30
        while True:
            assert process.poll() is None, f"authjs_app.mjs exited:\n{log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, f"authjs_app.mjs did not listen:\n{log.read_text()}"
                time.sleep(0.1)
        yield f"http://localhost:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def sign_in_at_portico(page: Page, user: User) -> None:
    """The user's step on Portico's sign-in page (the one place to swap for Kakao)."""
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def params_of(request: Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


@pytest.mark.parametrize("variant", ["v5", "v4"])
def test_authjs_signs_in_through_portico_and_shows_id_token_profile(
    variant: str, node: str, server: Server, tmp_path: Path
) -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    # Written before Playwright starts (its sync API keeps an event loop in this thread).
    app = make_app(
        server,
        "Traditional",
        redirect_uri=f"{origin}{CALLBACK_PATH}",
        post_logout_redirect_uri=f"{origin}/",
    )
    user = make_user(server, name="Auth.js Reader")
    log = tmp_path / "authjs.log"

    with authjs_app(node, variant, server, app, port, log), chromium_context() as context:
        page = context.new_page()
        authorize: list[Request] = []
        page.on(
            "request",
            lambda r: authorize.append(r) if r.url.startswith(f"{server.issuer}/auth?") else None,
        )
        page.goto(f"{origin}/")
        expect(page.locator("#signed-out")).to_be_visible()
        page.get_by_role("link", name="Sign in").click()
        page.get_by_role("button", name="Sign in with Logto").click()
        expect(page).to_have_url(f"{server.endpoint}/sign-in")

        sign_in_at_portico(page, user)
        try:
            page.wait_for_url(f"{origin}/")
        except Exception:
            raise AssertionError(f"stuck at {page.url}:\n{log.read_text()}") from None
        expect(page.locator("#name")).to_have_text("Auth.js Reader")
        expect(page.locator("#email")).to_have_text(user.email)

        # What each configuration asked Portico for.
        assert len(authorize) == 1, [r.url for r in authorize]
        sent = params_of(authorize[0])
        assert sent["client_id"] == [app.id]
        assert sent["redirect_uri"] == [app.redirect_uri]
        assert sent["response_type"] == ["code"]
        if variant == "v5":  # the built-in provider: PKCE, no state, no nonce
            assert sent["scope"] == ["offline_access openid email profile"]
            assert sent["code_challenge_method"] == ["S256"]
            assert "state" not in sent and "nonce" not in sent
        else:  # the guide's v4 provider: state, no PKCE
            assert sent["scope"] == ["openid offline_access profile email"]
            assert sent["state"][0]
            assert "code_challenge" not in sent

        # Auth.js's sign-out ends its own session (Portico's is left alone, as with Logto).
        page.get_by_role("link", name="Sign out").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{origin}/")
        expect(page.locator("#signed-out")).to_be_visible()
