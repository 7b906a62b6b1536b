"""How the user signed in, in the ID token (RFC 8176 ``amr``, OIDC ``acr``), and step-up:
an application asking for multi-factor with ``acr_values`` gets a new sign-in that asks for
the second factor, and the ``acr`` it can check. Real server, real tokens (signature checked
against the JWKS)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import User, lab_user
from tests.lab import Lab, submit
from tests.support import Browser, pkce_pair, query_of
from tests.support import authorize_url as build_authorize_url

KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"
MFA = "urn:portico:acr:mfa"
PAPE = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


def _claims(lab: Lab, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(f"{lab.server.endpoint}/oidc/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["ES384"]).claims)


def _tokens(lab: Lab, browser: Browser, response: httpx.Response, verifier: str) -> dict:
    response = browser.follow_until_external(response)
    assert response.status_code == 303, (response.status_code, response.text[:300])
    code = query_of(response.headers["location"])["code"]
    reply = httpx.post(
        f"{lab.server.endpoint}/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": lab.redirect_uri,
              "code_verifier": verifier, "client_id": lab.app_id,
              "client_secret": lab.app_secret},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _authorize(lab: Lab, browser: Browser, **params: str) -> tuple[httpx.Response, str]:
    verifier, challenge = pkce_pair()
    url = build_authorize_url(
        lab.server, lab.app_id, lab.redirect_uri,
        code_challenge=challenge, code_challenge_method="S256", **params,
    )  # fmt: skip
    return browser.follow_until_external(browser.client.get(url)), verifier


def _password(lab: Lab, browser: Browser, user: User, page: httpx.Response) -> httpx.Response:
    done = submit(browser, page, "/sign-in", identifier=user.username, password=user.password)
    return browser.follow_until_external(done)


def test_a_password_sign_in_is_single_factor(lab: Lab) -> None:
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = _authorize(lab, browser)
    claims = _claims(lab, _tokens(lab, browser, _password(lab, browser, user, page),
                                  verifier)["id_token"])  # fmt: skip
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:portico:acr:1fa"


def test_step_up_asks_for_the_second_factor_and_the_tokens_say_so(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"})
    user = lab_user(lab)
    assert lab.api.post(f"/api/users/{user.id}/mfa-verifications",
                        json={"type": "Totp", "secret": KEY}).status_code == 200  # fmt: skip
    # The user opted out of MFA at sign-in: a plain sign-in is one factor.
    assert lab.api.patch(f"/api/users/{user.id}/logto-configs",
                         json={"mfa": {"skipMfaOnSignIn": True}}).status_code == 200  # fmt: skip
    browser = lab.browser()
    page, verifier = _authorize(lab, browser)
    first = _tokens(lab, browser, _password(lab, browser, user, page), verifier)
    assert _claims(lab, first["id_token"])["amr"] == ["pwd"]

    # The application asks for multi-factor: the session is not enough, sign in again.
    page, verifier = _authorize(lab, browser, acr_values=f"{PAPE} {MFA}")
    assert str(page.url).endswith("/sign-in")
    page = _password(lab, browser, user, page)
    assert str(page.url).endswith("/mfa/verify")  # asked, despite the user's opt-out
    done = submit(browser, page, "/mfa/verify", factor="Totp", code=pyotp.TOTP(KEY).now())
    tokens = _tokens(lab, browser, done, verifier)
    claims = _claims(lab, tokens["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == PAPE  # the first requested value the sign-in met

    # The session now meets it: no new sign-in for the next such request.
    page, verifier = _authorize(lab, browser, acr_values=MFA)
    assert page.status_code == 303 and "code=" in page.headers["location"]


def test_amr_and_acr_survive_a_refresh(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"})
    user = lab_user(lab)
    lab.api.post(f"/api/users/{user.id}/mfa-verifications", json={"type": "Totp", "secret": KEY})
    browser = lab.browser()
    page, verifier = _authorize(lab, browser, scope="openid offline_access", prompt="consent")
    page = _password(lab, browser, user, page)
    code = pyotp.TOTP(KEY).at(time.time() + 30)  # a step no other test used
    done = submit(browser, page, "/mfa/verify", factor="Totp", code=code)
    tokens = _tokens(lab, browser, done, verifier)
    assert "refresh_token" in tokens, tokens
    refreshed = httpx.post(
        f"{lab.server.endpoint}/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": lab.app_id, "client_secret": lab.app_secret},
    )  # fmt: skip
    assert refreshed.status_code == 200, refreshed.text
    claims = _claims(lab, refreshed.json()["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == MFA


def test_discovery_advertises_the_levels() -> None:
    from portico.protocol.discovery import document

    doc = document("https://id.example.com/oidc", "ES384")
    assert doc["acr_values_supported"] == ["urn:portico:acr:1fa", MFA, PAPE]
    assert {"amr", "acr"} <= set(doc["claims_supported"])
