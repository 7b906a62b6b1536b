"""Sign in to a Flask app through Portico with the official Logto Python SDK (PyPI ``logto``).

The SDK is used unchanged: Portico speaks Logto's protocol, so ``LogtoConfig.endpoint`` is
simply Portico's endpoint. Run it with ``flask --app app run --port 3000`` (see README.md).

Routes: ``/`` (signed-in state), ``/sign-in``, ``/sign-up`` (Portico's registration page
first), ``/callback`` (the redirect URI), ``/user-info`` (Portico's userinfo endpoint through
the SDK) and ``/sign-out``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, redirect, request, session
from logto import LogtoClient, LogtoConfig, LogtoException, Storage
from markupsafe import escape


class SessionStorage(Storage):
    """The SDK's ``Storage`` over the Flask session.

    Flask's own session is a signed (not encrypted) cookie, and the SDK stores the ID token,
    the access tokens and the refresh token: so the cookie only carries a random session id
    and the values stay on the server, in memory here (one process; use Redis or a database
    when you run several). This is the pattern Logto's guides recommend over cookie sessions.
    """

    def __init__(self) -> None:
        self._values: dict[str, dict[str, str | None]] = {}

    def _existing(self) -> dict[str, str | None]:
        """This browser's values; reading never creates a session (no memory per visitor)."""
        return self._values.get(session.get("sid", ""), {})

    def get(self, key: str) -> str | None:
        return self._existing().get(key)

    def set(self, key: str, value: str | None) -> None:
        sid = session.get("sid")
        if sid is None or sid not in self._values:
            sid = session["sid"] = secrets.token_urlsafe(32)
            self._values[sid] = {}
        self._values[sid][key] = value

    def delete(self, key: str) -> None:
        self._existing().pop(key, None)

    def rotate(self) -> None:
        """A new session id for the same values (after sign-in: no session fixation)."""
        old = session.pop("sid", None)
        values = self._values.pop(old, {}) if old else {}
        self._values[session.setdefault("sid", secrets.token_urlsafe(32))] = values

    def clear(self) -> None:
        self._values.pop(session.pop("sid", ""), None)


def _setting(config: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = config.get(name, default)
    if not value:
        raise RuntimeError(f"set {name} (see .env.example)")
    return value


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """The app, configured from ``config`` (default: the environment):
    ``LOGTO_ENDPOINT`` (Portico's endpoint, e.g. http://localhost:3001), ``LOGTO_APP_ID``,
    ``LOGTO_APP_SECRET`` (a Traditional web application), ``BASE_URL`` (this app, default
    http://localhost:3000) and ``SECRET_KEY`` (signs Flask's session cookie)."""
    config = os.environ if config is None else config
    base_url = _setting(config, "BASE_URL", "http://localhost:3000").rstrip("/")
    redirect_uri = f"{base_url}/callback"
    post_sign_out_uri = f"{base_url}/"

    app = Flask(__name__)
    app.secret_key = _setting(config, "SECRET_KEY")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    storage = SessionStorage()
    client = LogtoClient(
        LogtoConfig(
            endpoint=_setting(config, "LOGTO_ENDPOINT").rstrip("/"),
            appId=_setting(config, "LOGTO_APP_ID"),
            appSecret=_setting(config, "LOGTO_APP_SECRET"),
            scopes=["email"],  # openid, profile and offline_access are always added
        ),
        storage=storage,
    )

    def page(body: str) -> Response:
        html = f"<!doctype html><title>Portico + Flask</title><h1>Hello Portico</h1>{body}"
        return Response(html, mimetype="text/html")

    @app.get("/")
    def home() -> Response:
        if not client.isAuthenticated():
            return page(
                "<p id='state'>You are not signed in.</p>"
                "<p><a href='/sign-in'>Sign in</a> · <a href='/sign-up'>Create an account</a></p>"
            )
        claims = client.getIdTokenClaims()
        who = claims.email or claims.username or claims.sub
        return page(
            f"<p id='state'>You are signed in as <b id='who'>{escape(who)}</b>.</p>"
            f"<p>Subject: <code id='sub'>{escape(claims.sub)}</code></p>"
            "<p><a href='/user-info'>User info</a> · <a href='/sign-out'>Sign out</a></p>"
        )

    @app.get("/sign-in")
    async def sign_in() -> Any:
        return redirect(await client.signIn(redirectUri=redirect_uri))

    @app.get("/sign-up")
    async def sign_up() -> Any:
        return redirect(await client.signIn(redirectUri=redirect_uri, interactionMode="signUp"))

    @app.get("/callback")
    async def callback() -> Any:
        try:
            await client.handleSignInCallback(request.url)
        except LogtoException as error:
            return page(f"<p role='alert'>Sign-in failed: {escape(str(error))}</p>"), 400
        storage.rotate()
        return redirect("/")

    @app.get("/user-info")
    async def user_info() -> Any:
        if not client.isAuthenticated():
            return redirect("/sign-in")
        info = await client.fetchUserInfo()
        return jsonify(info.model_dump(exclude_none=True))

    @app.get("/sign-out")
    async def sign_out() -> Any:
        location = await client.signOut(postLogoutRedirectUri=post_sign_out_uri)
        storage.clear()
        return redirect(location)

    return app
