"""A server of its own for the sign-in experience tests, with a real SMTP server (aiosmtpd)
catching every code, and a Management API client to reconfigure the sign-in experience.

The sign-in experience is one per tenant, so these tests get their own server (and database)
instead of reconfiguring the one every other test shares; ``Lab.configure`` applies a PATCH
for one test and ``Lab.restore`` puts Logto's defaults back.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from tests.smtp_server import Recorder, smtp_config
from tests.support import Browser, Server, browser_client, csrf_of

CODE_RE = re.compile(r"\b(\d{6})\b")
DEFAULTS = {
    "signUp": {"identifiers": ["username"], "password": True, "verify": False,
               "secondaryIdentifiers": []},
    "signIn": {"methods": [{"identifier": "username", "password": True,
                            "verificationCode": False, "isPasswordPrimary": True}]},
    "signInMode": "SignInAndRegister",
    "passwordPolicy": {},
    "sentinelPolicy": {},
    "verificationCodePolicy": {},
    "forgotPasswordMethods": None,
    "agreeToTermsPolicy": "Automatic",
    "termsOfUseUrl": None,
    "privacyPolicyUrl": None,
    "socialSignInConnectorTargets": [],
    "socialSignIn": {},
    "mfa": {"factors": [], "policy": "UserControlled"},
    "passkeySignIn": {},
    "trustedDevice": {},
}  # fmt: skip
EMAIL_SIGN_IN = {
    "signUp": {"identifiers": ["email"], "password": False, "verify": True},
    "signIn": {"methods": [{"identifier": "email", "password": False,
                            "verificationCode": True, "isPasswordPrimary": False}]},
}  # fmt: skip
EMAIL_WITH_PASSWORD = {
    "signUp": {"identifiers": ["email"], "password": True, "verify": True},
    "signIn": {"methods": [
        {"identifier": "email", "password": True, "verificationCode": True,
         "isPasswordPrimary": True},
        {"identifier": "username", "password": True, "verificationCode": False,
         "isPasswordPrimary": True},
    ]},
}  # fmt: skip


@dataclass
class Lab:
    server: Server
    mail: Recorder
    api: httpx.Client
    app_id: str
    app_secret: str
    redirect_uri: str = "http://localhost:3000/callback"
    seen: int = field(default=0)

    def configure(self, **patch: Any) -> dict[str, Any]:
        response = self.api.patch("/api/sign-in-exp", json=patch)
        assert response.status_code == 200, response.text
        return response.json()

    def restore(self) -> None:
        self.configure(**DEFAULTS)
        self.api.delete("/api/custom-phrases/en")

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mail.messages if address.lower() in str(m["To"]).lower()]

    def code_for(self, address: str, timeout: float = 10, after: int = 0) -> str:
        """The code of the newest message to ``address``, once more than ``after`` messages
        reached it (waits for it: reset codes leave after the response)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.messages_to(address)
            if len(found) > after:
                body = found[-1].get_body(("plain", "html"))
                assert body is not None
                match = CODE_RE.search(body.get_content())
                assert match, body.get_content()
                return match.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no message reached {address}")

    def browser(self) -> Browser:
        return Browser(self.server, browser_client())


def start_lab(server: Server, mail_port: int, mail: Recorder, token: str, app: Any) -> Lab:
    api = httpx.Client(
        base_url=server.endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    created = api.post(
        "/api/connectors",
        json={"connectorId": "simple-mail-transfer-protocol", "config": smtp_config(mail_port)},
    )
    assert created.status_code == 200, created.text
    return Lab(server, mail, api, app.id, app.secret)


def submit(browser: Browser, response: httpx.Response, path: str, **fields: str) -> httpx.Response:
    """Fill the form of ``response`` (its CSRF token) and post ``fields`` to ``path``."""
    return browser.client.post(
        f"{browser.server.endpoint}{path}", data={"csrf_token": csrf_of(response.text), **fields}
    )
