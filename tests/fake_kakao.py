"""A local stand-in for Kakao's servers, speaking Kakao's documented REST API: the
authorization page (``kauth /oauth/authorize``), the token endpoint (``kauth /oauth/token``)
and the user API (``kapi POST /v2/user/me``), with Kakao's request checks and error bodies.

Tests choose who signs in (``next_user``) and can make an endpoint misbehave (``fault``) to
prove that Portico ends every provider failure on a clear page, in bounded time.
"""

from __future__ import annotations

import asyncio
import datetime
import html
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support import free_port

CLIENT_ID = "kakao-rest-api-key"
CLIENT_SECRET = "kakao-client-secret"


def kakao_user(
    user_id: int,
    nickname: str = "홍길동",
    email: str | None = None,
    *,
    valid: bool = True,
    verified: bool = True,
    default_image: bool = False,
) -> dict[str, Any]:
    """A ``/v2/user/me`` document as Kakao returns it."""
    account: dict[str, Any] = {
        "profile_nickname_needs_agreement": False,
        "profile_image_needs_agreement": False,
        "profile": {
            "nickname": nickname,
            "thumbnail_image_url": f"https://k.kakaocdn.net/thumb/{user_id}.jpg",
            "profile_image_url": f"https://k.kakaocdn.net/img/{user_id}.jpg",
            "is_default_image": default_image,
        },
    }
    if email is not None:
        account.update(
            email_needs_agreement=False,
            is_email_valid=valid,
            is_email_verified=verified,
            email=email,
        )
    return {"id": user_id, "connected_at": "2026-11-21T00:00:00Z", "kakao_account": account}


@dataclass
class FakeKakao:
    """``next_user`` signs in at the next authorization; ``fault`` is one of ``None``,
    ``token_400``, ``token_garbage``, ``user_401``, ``user_garbage``, ``user_huge``,
    ``user_hang``, ``user_500``."""

    client_id: str = CLIENT_ID
    client_secret: str | None = CLIENT_SECRET
    redirect_uris: set[str] = field(default_factory=set)
    next_user: dict[str, Any] = field(default_factory=lambda: kakao_user(1))
    fault: str | None = None
    tls: bool = False
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        scheme = "https" if self.tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None

    # -- Kakao's endpoints ---------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.requests.append(("authorize", query))
        if query.get("client_id") != self.client_id:
            return HTMLResponse("<h1>KOE101</h1><p>Invalid client_id</p>", status_code=400)
        if query.get("redirect_uri") not in self.redirect_uris:
            return HTMLResponse("<h1>KOE006</h1><p>Invalid redirect_uri</p>", status_code=400)
        if query.get("response_type") != "code":
            return HTMLResponse("<h1>KOE004</h1>", status_code=400)
        ticket = secrets.token_urlsafe(8)
        self.codes[f"ticket:{ticket}"] = {"query": query, "user": self.next_user}
        nickname = html.escape(self.next_user["kakao_account"]["profile"]["nickname"])
        return HTMLResponse(
            "<!doctype html><html lang='ko'><head><title>카카오계정으로 로그인</title></head>"
            f"<body><h1>{nickname}님, 동의하고 계속하시겠어요?</h1>"
            f"<a id='agree' href='/oauth/decide?ticket={ticket}&agree=1'>동의하고 계속하기</a> "
            f"<a id='cancel' href='/oauth/decide?ticket={ticket}&agree=0'>취소</a>"
            "</body></html>"
        )

    async def decide(self, request: Request) -> Response:
        pending = self.codes.pop(f"ticket:{request.query_params.get('ticket')}", None)
        if pending is None:
            return HTMLResponse("expired", status_code=400)
        query = pending["query"]
        back: dict[str, str] = {}
        if request.query_params.get("agree") == "1":
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "user": pending["user"],
                "redirect_uri": query["redirect_uri"],
                "client_id": query["client_id"],
            }
            back["code"] = code
        else:
            back.update(error="access_denied", error_description="User denied access")
        if "state" in query:
            back["state"] = query["state"]
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append(("token", form))
        if self.fault == "token_garbage":
            return Response("<html>502 Bad Gateway</html>", media_type="text/html")
        if form.get("grant_type") != "authorization_code":
            return _kakao_error(400, "unsupported_grant_type", "KOE310")
        if form.get("client_id") != self.client_id or (
            self.client_secret and form.get("client_secret") != self.client_secret
        ):
            return _kakao_error(401, "invalid_client", "KOE010", "Bad client credentials")
        issued = self.codes.pop(form.get("code", ""), None)
        if self.fault == "token_400" or issued is None:
            return _kakao_error(
                400, "invalid_grant", "KOE320", "authorization code not found for code"
            )
        if issued["redirect_uri"] != form.get("redirect_uri"):
            return _kakao_error(400, "invalid_grant", "KOE303", "Redirect URI mismatch.")
        access = secrets.token_urlsafe(32)
        self.tokens[access] = issued["user"]
        return JSONResponse(
            {
                "token_type": "bearer",
                "access_token": access,
                "expires_in": 21599,
                "refresh_token": secrets.token_urlsafe(32),
                "refresh_token_expires_in": 5183999,
                "scope": "profile_nickname profile_image account_email",
            }
        )

    async def user_me(self, request: Request) -> Response:
        self.requests.append(("user", {"authorization": request.headers.get("authorization", "")}))
        if self.fault == "user_hang":
            await asyncio.sleep(60)
        if self.fault == "user_500":
            return JSONResponse({"msg": "internal error", "code": -1}, status_code=500)
        if self.fault == "user_garbage":
            return Response("{not json", media_type="application/json")
        if self.fault == "user_huge":
            return JSONResponse({"id": 1, "padding": "x" * (2 * 1024 * 1024)})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self.tokens.get(token) if scheme == "Bearer" else None
        if self.fault == "user_401" or user is None:
            return JSONResponse(
                {"msg": "this access token does not exist", "code": -401}, status_code=401
            )
        return JSONResponse(user)

    # -- lifecycle ---------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth/authorize", self.authorize, methods=["GET"]),
                Route("/oauth/decide", self.decide, methods=["GET"]),
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/v2/user/me", self.user_me, methods=["POST", "GET"]),
            ]
        )

    def start(self) -> FakeKakao:
        options: dict[str, Any] = {}
        if self.tls:
            options.update(_self_signed_files())
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", **options
        )
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        deadline = time.time() + 15
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fake Kakao did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def config(self, **extra: Any) -> dict[str, Any]:
        """The Portico connector configuration pointing at this fake."""
        config: dict[str, Any] = {
            "clientId": self.client_id,
            "authorizationServer": self.base,
            "apiServer": self.base,
        }
        if self.client_secret:
            config["clientSecret"] = self.client_secret
        return {**config, **extra}


def _kakao_error(status: int, error: str, code: str, description: str = "") -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description or error, "error_code": code},
        status_code=status,
    )


def _self_signed_files() -> dict[str, str]:
    """A throwaway certificate for 127.0.0.1 that no client trusts (for the TLS fault)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kakao")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="fake-kakao-"))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {"ssl_keyfile": str(folder / "key.pem"), "ssl_certfile": str(folder / "cert.pem")}
