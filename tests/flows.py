"""Protocol steps reused across tests: get a code through the sign-in page, redeem it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import Browser, Server, authorize_url, pkce_pair, query_of


def get_code(
    browser: Browser, server: Server, app: Any, user: Any, **params: str
) -> tuple[str, str]:
    """Sign ``user`` in for ``app``; return ``(code, code_verifier)``."""
    verifier, challenge = pkce_pair()
    url = authorize_url(
        server,
        app.id,
        app.redirect_uri,
        code_challenge=challenge,
        code_challenge_method="S256",
        **params,
    )
    location = browser.sign_in(url, user.username, user.password)
    query = query_of(location)
    assert "code" in query, location
    return query["code"], verifier


def redeem(http: httpx.Client, app: Any, code: str, verifier: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uri,
        "code_verifier": verifier,
        **extra,
    }
    if app.secret:
        return http.post("/oidc/token", data=data, headers=app.basic())
    return http.post("/oidc/token", data={**data, "client_id": app.id})


def tokens_for(
    browser: Browser, server: Server, http: httpx.Client, app: Any, user: Any, **params: str
) -> dict[str, Any]:
    code, verifier = get_code(browser, server, app, user, **params)
    response = redeem(http, app, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()
