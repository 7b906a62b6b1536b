"""Who may use the console: first-run set-up, sign-in, sign-out and invitations.

Console users are users of the ``admin`` tenant (``services/users`` with tenant ``admin``,
Argon2id passwords), never the ``default`` tenant's end users. Failed sign-ins are counted
by ``experience/sentinel.py`` (``credentials.py``).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.ids import digest, opaque_token
from portico.protocol.errors import OAuthError
from portico.services import admins, audit
from portico.services.bootstrap import ADMIN_TENANT
from portico.services.errors import ServiceError
from portico.storage import artifacts, configs
from portico.storage import users as user_repo
from portico.web.console import session as sessions
from portico.web.console.context import (
    Console,
    admin_count,
    error_page,
    expired_form,
    here,
    render,
    signed_in,
)
from portico.web.console.credentials import create_admin, verify
from portico.web.console.language import (
    CHOICE_TTL,
    ENGLISH,
    Phrases,
    cookie_name,
    phrases_for,
)
from portico.web.http import body_params, client_address, redirect
from portico.web.i18n import SUPPORTED
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

INVITATION = "ConsoleInvitation"
INVITATION_TTL = 7 * 24 * 3600
# Written once, in the transaction that creates the first admin: two visitors racing through
# set-up cannot both become the first admin.
_OWNER_KEY = "portico.consoleOwner"
_PRE_AUTH_TTL = 3600


# Pages before sign-in -----------------------------------------------------------------------
def _handle(runtime: Runtime, request: Request) -> tuple[str, bool]:
    """The cookie value the forms' CSRF token derives from, and whether it is new."""
    handle = sessions.cookie_handle(runtime, request)
    return (handle, False) if handle else (opaque_token(), True)


async def _anonymous(
    runtime: Runtime, request: Request, template: str, status: int = 200, **values: Any
) -> Response:
    handle, new = _handle(runtime, request)
    csrf_token = await sessions.csrf_token(runtime, handle)
    t = phrases_for(runtime, request)
    response = render(
        template, t, status=status, csrf_token=csrf_token, here=here(request), **values
    )
    if new:
        sessions.set_cookie(runtime, response, handle, _PRE_AUTH_TTL)
    return response


async def _posted(runtime: Runtime, request: Request) -> dict[str, list[str]] | Response:
    try:
        fields = await body_params(request)
    except OAuthError as error:
        return error_page(phrases_for(runtime, request), error.description, 400)
    posted = (fields.get("csrf_token") or [""])[0]
    if not await sessions.csrf_ok(runtime, sessions.cookie_handle(runtime, request), posted):
        return expired_form(phrases_for(runtime, request))
    return fields


def _one(fields: dict[str, list[str]], name: str, limit: int = 1024) -> str:
    return (fields.get(name) or [""])[0][:limit]


def safe_next(target: str) -> str:
    """Only a console path: never another site (``//evil``) after signing in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console") or "\\" in target:
        return "/console"
    return target


async def _signed_in_response(
    runtime: Runtime, request: Request, admin: dict[str, Any], target: str
) -> Response:
    session = await sessions.start(runtime, admin["id"], sessions.cookie_handle(runtime, request))
    response = redirect(safe_next(target))
    sessions.set_cookie(runtime, response, session.handle, sessions.ABSOLUTE_TTL)
    return response


async def _record(
    runtime: Runtime,
    request: Request,
    conn: AsyncConnection,
    key: str,
    admin_id: str | None,
    error: str | None = None,
    **details: Any,
) -> None:
    """An entry in the ``admin`` tenant's log: the console's own events."""
    await audit.record(
        conn,
        ADMIN_TENANT,
        f"Console.{key}",
        result=audit.LogResult.ERROR if error else audit.LogResult.SUCCESS,
        user_id=admin_id,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        error={"code": "console.sign_in_failed", "message": error} if error else None,
        **details,
    )


def routes(runtime: Runtime) -> list[Route]:
    async def welcome(request: Request) -> Response:
        if await admin_count(runtime) > 0:
            return redirect("/console/sign-in")
        setup = request.query_params.get("setup", "")[:64]
        return await _anonymous(runtime, request, "welcome.html", setup=setup)

    async def create_first_admin(request: Request) -> Response:
        fields = await _posted(runtime, request)
        if isinstance(fields, Response):
            return fields
        username, password = _one(fields, "username", 128).strip(), _one(fields, "password")
        setup = _one(fields, "setup", 64)
        t = phrases_for(runtime, request)

        async def again(error: str, status: int = 400) -> Response:
            return await _anonymous(
                runtime, request, "welcome.html", status, username=username, error=error
            )

        if password != _one(fields, "confirm"):
            return await again(t("welcome.passwords_differ"))
        assert runtime.engine is not None
        marker = secrets.token_hex(16)
        try:
            async with runtime.engine.begin() as conn:
                if not await admins.setup_code_matches(conn, setup):
                    if await user_repo.count_users(conn, ADMIN_TENANT) > 0:
                        return redirect("/console/sign-in")
                    wrong = ENGLISH("welcome.wrong_code")  # the log's words are English
                    await _record(runtime, request, conn, "CreateAdmin", None, error=wrong)
                    return await again(t("welcome.wrong_code"), 403)
                owner = await configs.add_if_absent(conn, ADMIN_TENANT, _OWNER_KEY, marker)
                if owner != marker or await user_repo.count_users(conn, ADMIN_TENANT) > 0:
                    return redirect("/console/sign-in")
                admin = await create_admin(conn, username, password, t.lang)
                await _record(runtime, request, conn, "CreateAdmin", admin["id"], first=True)
        except ServiceError as error:
            return await again(error.message)
        return await _signed_in_response(runtime, request, admin, "/console/get-started")

    async def sign_in_page(request: Request) -> Response:
        if await admin_count(runtime) == 0:
            return redirect("/console/welcome")
        if await signed_in(runtime, request):
            return redirect(safe_next(request.query_params.get("next", "/console")))
        return await _anonymous(
            runtime,
            request,
            "sign_in.html",
            next=safe_next(request.query_params.get("next", "/console")),
        )

    async def sign_in(request: Request) -> Response:
        fields = await _posted(runtime, request)
        if isinstance(fields, Response):
            return fields
        username, password = _one(fields, "username", 128).strip(), _one(fields, "password")
        target = safe_next(_one(fields, "next") or "/console")
        t = phrases_for(runtime, request)
        result = await verify(runtime, username, password, client_address(request), t)
        assert runtime.engine is not None
        async with runtime.engine.begin() as conn:
            if isinstance(result, str):
                await _record(runtime, request, conn, "SignIn", None, error=result)
            else:
                await _record(runtime, request, conn, "SignIn", result["id"])
        if isinstance(result, str):
            return await _anonymous(
                runtime, request, "sign_in.html", 401, username=username, next=target, error=result
            )
        return await _signed_in_response(runtime, request, result, target)

    async def sign_out(request: Request) -> Response:
        fields = await _posted(runtime, request)
        if isinstance(fields, Response):
            return fields
        handle = sessions.cookie_handle(runtime, request)
        if handle:
            await sessions.end(runtime, handle)
        response = redirect("/console/sign-in")
        sessions.clear_cookie(runtime, response)
        return response

    async def invitation(request: Request) -> Response:
        token = request.path_params["token"]
        found = await sessions.store(runtime).find(INVITATION, digest(token))
        if found is None or found.consumed_at is not None:
            return _spent(phrases_for(runtime, request))
        return await _anonymous(runtime, request, "invitation.html", token=token)

    async def accept_invitation(request: Request) -> Response:
        token = request.path_params["token"]
        fields = await _posted(runtime, request)
        if isinstance(fields, Response):
            return fields
        username, password = _one(fields, "username", 128).strip(), _one(fields, "password")
        t = phrases_for(runtime, request)
        if password != _one(fields, "confirm"):
            return await _anonymous(
                runtime,
                request,
                "invitation.html",
                400,
                token=token,
                username=username,
                error=t("welcome.passwords_differ"),
            )
        assert runtime.engine is not None
        try:
            async with runtime.engine.begin() as conn:
                admin = await create_admin(conn, username, password, t.lang)
                if not await artifacts.consume(conn, ADMIN_TENANT, INVITATION, digest(token)):
                    raise _Spent()
                await _record(runtime, request, conn, "AcceptInvitation", admin["id"])
        except _Spent:
            return _spent(t)
        except ServiceError as error:
            return await _anonymous(
                runtime,
                request,
                "invitation.html",
                400,
                token=token,
                username=username,
                error=error.message,
            )
        return await _signed_in_response(runtime, request, admin, "/console/get-started")

    async def choose_language(request: Request) -> Response:
        """The picker: the chosen language in a cookie, then back to the page it was on."""
        fields = await _posted(runtime, request)
        if isinstance(fields, Response):
            return fields
        response = redirect(safe_next(_one(fields, "next") or "/console"))
        if (lang := _one(fields, "lang", 16)) in SUPPORTED:
            runtime.set_cookie(response, cookie_name(runtime), lang, CHOICE_TTL)
        return response

    return [
        Route("/console/language", choose_language, methods=["POST"]),
        Route("/console/welcome", welcome, methods=["GET"]),
        Route("/console/welcome", create_first_admin, methods=["POST"]),
        Route("/console/sign-in", sign_in_page, methods=["GET"]),
        Route("/console/sign-in", sign_in, methods=["POST"]),
        Route("/console/sign-out", sign_out, methods=["POST"]),
        Route("/console/invitations/{token}", invitation, methods=["GET"]),
        Route("/console/invitations/{token}", accept_invitation, methods=["POST"]),
    ]


def _spent(t: Phrases) -> Response:
    return error_page(t, t("invitation.spent"), 410, t("invitation.spent_title"))


class _Spent(Exception):
    """The invitation was used (or expired) between showing the form and submitting it."""


async def create_invitation(ctx: Console) -> str:
    """A single-use link that lets its holder create an admin account within seven days."""
    token = opaque_token()
    await sessions.store(ctx.runtime).save(
        INVITATION, digest(token), {"invitedBy": ctx.admin["id"]}, INVITATION_TTL
    )
    return f"{ctx.endpoint}/console/invitations/{token}"
