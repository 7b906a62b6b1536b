"""Auth.js against Portico in a real browser (seed 004, examples/nextjs-authjs).

tests/node/authjs_app.mjs serves the example's Auth.js configuration without Next.js: the v5
``Logto`` provider through ``@auth/core`` (what ``next-auth@beta`` wraps), configured from
``AUTH_LOGTO_ISSUER/ID/SECRET``, and the v4 custom provider (``wellKnown`` +
``id_token_signed_response_alg: 'ES384'``) through next-auth 4. Chromium (Playwright) opens the
app, follows Auth.js's own "Sign in with Logto" button to Portico, signs in, and comes back to a
page that shows the name and email Auth.js read from Portico's ID token.

The step on Portico's pages is one function: username and password, or "Continue with Kakao"
against the fake Kakao of tests/fake_kakao.py.
Both run on the lab server (tests/lab.py), whose sign-in experience they configure.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from tests.conftest import App, User, lab_user, make_app
from tests.fake_kakao import FakeKakao, kakao_user
from tests.lab import Lab
from tests.node_runtime import NODE_DIR, node_binary
from tests.support import Server, free_port, unique
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


def sign_in_with_password(user: User) -> Callable[[Page], None]:
    """The user's step on Portico's sign-in page: username and password."""

    def step(page: Page) -> None:
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password", exact=True).fill(user.password)
        page.get_by_role("button", name="Sign in").click()

    return step


def sign_in_with_kakao(page: Page) -> None:
    """The user's step on Portico's sign-in page: "Continue with Kakao", then agree on the
    (fake) Kakao consent page."""
    page.get_by_role("link", name="Continue with Kakao").click()
    page.locator("#agree").click()


def params_of(request: Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def sign_in_through_authjs(
    node: str,
    variant: str,
    lab: Lab,
    log: Path,
    step: Callable[[Page], None],
    *,
    name: str,
    email: str,
) -> None:
    """Auth.js's sign-in page -> Portico -> ``step`` -> back in the app, whose page must show
    ``name`` and ``email`` (from the ID token); then Auth.js's sign-out."""
    server = lab.server
    port = free_port()
    origin = f"http://localhost:{port}"
    # Written before Playwright starts (its sync API keeps an event loop in this thread).
    app = make_app(
        server,
        "Traditional",
        redirect_uri=f"{origin}{CALLBACK_PATH}",
        post_logout_redirect_uri=f"{origin}/",
    )

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

        step(page)
        try:
            page.wait_for_url(f"{origin}/")
        except Exception:
            raise AssertionError(f"stuck at {page.url}:\n{log.read_text()}") from None
        expect(page.locator("#name")).to_have_text(name)
        expect(page.locator("#email")).to_have_text(email)

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


@pytest.mark.parametrize("variant", ["v5", "v4"])
def test_authjs_signs_in_with_a_password_at_portico(
    variant: str, node: str, lab: Lab, tmp_path: Path
) -> None:
    user = lab_user(lab, name="Auth.js Reader")
    sign_in_through_authjs(
        node,
        variant,
        lab,
        tmp_path / "authjs.log",
        sign_in_with_password(user),
        name="Auth.js Reader",
        email=user.email,
    )


@pytest.fixture
def fake_kakao(kakao_server: tuple[FakeKakao, str]) -> FakeKakao:
    """The fake Kakao behind the lab's ``kakao-universal`` connector (conftest)."""
    return kakao_server[0]


@pytest.mark.parametrize("variant", ["v5", "v4"])
def test_authjs_signs_in_with_kakao_at_portico(
    variant: str, node: str, lab: Lab, fake_kakao: Any, tmp_path: Path
) -> None:
    """Seed 004 end to end: the Kakao account's nickname and email reach Auth.js's session
    through Portico's ID token."""
    # The guide's set-up: the Kakao button, and no sign-up identifier to fill in afterwards.
    lab.configure(
        socialSignInConnectorTargets=["kakao"],
        signUp={"identifiers": [], "password": False, "verify": False},
    )
    email = f"{unique('kakao')}@example.com"
    nickname = f"Kakao Reader {secrets.randbelow(10**6)}"
    fake_kakao.next_user = kakao_user(secrets.randbelow(10**12) + 10**6, nickname, email)
    sign_in_through_authjs(
        node, variant, lab, tmp_path / "authjs.log", sign_in_with_kakao, name=nickname, email=email
    )
