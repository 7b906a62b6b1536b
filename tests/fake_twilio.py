"""A local stand-in for Twilio's Programmable Messaging API, speaking its documented REST
shape: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth
(Account SID : Auth Token) and a form body (``To``, ``MessagingServiceSid`` or ``From``,
``Body``), answering 201 with a Message resource or Twilio's error JSON
(``{code, message, more_info, status}``).

It also plays an admin's own HTTP SMS endpoint (``POST /http-sms``, JSON ``{to, type,
payload}``) for the ``http-sms`` connector. Tests read ``messages`` (what was "delivered")
and can make the next sends fail (``fault``).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import free_port

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-" + "x" * 14
SERVICE_SID = "MG" + "fedcba9876543210" * 2
CODE_RE = re.compile(r"\b(\d{6})\b")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TEMPLATES = [
    {"usageType": kind, "content": f"Your {kind} code is {{{{code}}}}. It expires in 10 minutes."}
    for kind in ("SignIn", "Register", "ForgotPassword", "Generic")
]


@dataclass
class Sms:
    to: str
    body: str
    sender: str
    received_at: float


@dataclass
class FakeTwilio:
    """``fault``: ``None``, ``invalid_number`` (21211), ``rate`` (429/20429), ``server`` (500
    HTML), ``hang`` (never answers), ``huge`` (a body over the connector's cap) or ``garbage``
    (201 without a SID)."""

    fault: str | None = None
    messages: list[Sms] = field(default_factory=list)
    http_sms: list[dict[str, Any]] = field(default_factory=list)
    http_sms_status: int = 200

    def __post_init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None

    # -- Twilio ----------------------------------------------------------------------------
    async def create_message(self, request: Request) -> Response:
        account = request.path_params["sid"]
        if not self._authorized(request, account):
            return _error(401, 20003, "Authenticate")
        form = await request.form()
        to, body = str(form.get("To") or ""), str(form.get("Body") or "")
        sender = str(form.get("MessagingServiceSid") or form.get("From") or "")
        if not to or not body or not sender:
            return _error(400, 21604, "A 'To' phone number, 'Body' and a sender are required.")
        if form.get("MessagingServiceSid") and form["MessagingServiceSid"] != SERVICE_SID:
            return _error(404, 20404, "The requested resource was not found")
        if self.fault == "hang":
            await asyncio.sleep(60)
        if self.fault == "server":
            return Response("<html>503 upstream</html>", status_code=500, media_type="text/html")
        if self.fault == "rate":
            return _error(429, 20429, "Too Many Requests")
        if self.fault == "huge":
            return Response(b"{" + b" " * (300 * 1024) + b"}", media_type="application/json")
        if self.fault == "garbage":
            return JSONResponse({"hello": "world"}, status_code=201)
        if self.fault == "invalid_number" or not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        self.messages.append(Sms(to, body, sender, time.time()))
        sid = "SM" + secrets.token_hex(16)
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": account,
                "to": to,
                "body": body,
                "status": "accepted",
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "from": form.get("From"),
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            },
            status_code=201,
        )

    @staticmethod
    def _authorized(request: Request, account: str) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return user == ACCOUNT_SID == account and password == AUTH_TOKEN

    # -- an admin's HTTP SMS endpoint ------------------------------------------------------
    async def http_sms_endpoint(self, request: Request) -> Response:
        self.http_sms.append(
            {"headers": dict(request.headers), "raw": await request.body(), **await request.json()}
        )
        return Response(status_code=self.http_sms_status)

    # -- for tests -------------------------------------------------------------------------
    def messages_to(self, phone: str) -> list[Sms]:
        wanted = phone if phone.startswith("+") else f"+{phone}"
        return [m for m in self.messages if m.to == wanted]

    def code_for(self, phone: str, timeout: float = 10) -> str:
        """The code in the newest SMS to ``phone`` (waits for it)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.messages_to(phone)
            if found:
                match = CODE_RE.search(found[-1].body)
                assert match, found[-1].body
                return match.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no SMS reached {phone}")

    def config(self, **extra: Any) -> dict[str, Any]:
        """A ``twilio-short-message-service`` configuration pointing at this fake."""
        return {
            "accountSID": ACCOUNT_SID,
            "authToken": AUTH_TOKEN,
            "fromMessagingServiceSID": SERVICE_SID,
            "templates": TEMPLATES,
            "apiBaseUrl": self.base,
            **extra,
        }

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{sid}/Messages.json",
                    self.create_message,
                    methods=["POST"],
                ),
                Route("/http-sms", self.http_sms_endpoint, methods=["POST"]),
            ]
        )

    def start(self) -> FakeTwilio:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.time() + 15
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fake Twilio did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )
