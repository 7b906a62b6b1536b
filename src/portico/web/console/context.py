"""What every console page handler gets: the signed-in admin, the ``default`` tenant's
database, the checked form, flash messages, the audit log and one way to render.

A handler is ``async def handler(ctx: Console) -> Response``, wrapped by :func:`page` (GET) or
:func:`form` (POST: CSRF checked first; ``destructive=True`` also demands the admin's password
within the last five minutes, asked for on an interstitial page that re-posts the form).
Pages call ``services/`` directly; a ``ServiceError`` a handler does not catch becomes the
console's error page with its message and status.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from portico.coherence import EVERYTHING
from portico.protocol.errors import OAuthError
from portico.services import audit, webhook_events
from portico.services import users as user_service
from portico.services.bootstrap import ADMIN_TENANT, DEFAULT_TENANT
from portico.services.errors import NotFound, ServiceError
from portico.storage import users as user_repo
from portico.storage.database import now_ms
from portico.web.console import session as sessions
from portico.web.console.credentials import check_own_password
from portico.web.console.language import Phrases, choices, phrases_for
from portico.web.console.session import ConsoleSession
from portico.web.http import NO_STORE, body_params, client_address, redirect
from portico.web.runtime import TEMPLATES, Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger("portico.console")
Endpoint = Callable[[Request], Awaitable[Response]]

# Like the sign-in pages' policy, plus ``frame-src 'self'`` for the sign-in preview.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {**NO_STORE, "Content-Security-Policy": CSP}
AUDIT_PREFIX = "ManagementApi"


def render(
    template: str,
    t: Phrases,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """The one way a console page is rendered (templates under ``templates/console/``), in
    the admin's language ``t``."""
    page = TEMPLATES.get_template(f"console/{template}")
    html = page.render(t=t, lang=t.lang, console_languages=choices(), **values)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def here(request: Request) -> str:
    """The page's path and query: where the language picker comes back to (a form's answer
    may stand at an address only POST reaches: then the console's home)."""
    if request.method != "GET":
        return "/console"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def error_page(t: Phrases, message: str, status: int, title: str | None = None) -> HTMLResponse:
    title = title or t("error.title")
    return render("error.html", t, status=status, title=title, message=message)


def expired_form(t: Phrases) -> HTMLResponse:
    return error_page(t, t("error.form_expired"), 403, t("error.request_refused"))


@dataclass
class Console:
    """One request of a signed-in admin."""

    runtime: Runtime
    request: Request
    admin: dict[str, Any]
    session: ConsoleSession
    fields: dict[str, list[str]]
    t: Phrases

    # Request -------------------------------------------------------------------------------
    def field(self, name: str, limit: int = 2048) -> str:
        return (self.fields.get(name) or [""])[0][:limit]

    def values(self, name: str) -> list[str]:
        return self.fields.get(name) or []

    def checked(self, name: str) -> bool:
        return bool(self.fields.get(name))

    def name_typed(self, name: str) -> bool:
        """Whether the form's ``confirm_name`` is ``name`` exactly (surrounding spaces aside):
        the one check behind every typed-name confirmation of a deletion (``typed_delete`` in
        ``_macros.html`` draws the field); a wrong or missing name deletes nothing."""
        return bool(name) and self.field("confirm_name", 512).strip() == name.strip()

    @property
    def tenant(self) -> str:
        """The tenant the console manages (console users themselves are in ``admin``)."""
        return DEFAULT_TENANT

    @property
    def endpoint(self) -> str:
        return self.runtime.settings.endpoint.rstrip("/")

    # Database ------------------------------------------------------------------------------
    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, then every process drops its configuration caches (as
        ``ApiContext.write`` does for /api)."""
        assert self.runtime.engine is not None
        async with self.runtime.engine.begin() as conn:
            yield conn
        self.runtime.coherence.changed(EVERYTHING)

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        assert self.runtime.engine is not None
        return self.runtime.engine.connect()

    async def audit(
        self,
        conn: AsyncConnection,
        operation: str,
        *,
        error: ServiceError | None = None,
        tenant: str | None = None,
        prefix: str = AUDIT_PREFIX,
        **details: Any,
    ) -> None:
        """The entry /api writes for the same change (``ManagementApi.<OperationId>``), with
        the admin as actor, in ``conn``'s transaction. The console's own events (admins) use
        ``prefix="Console"`` in the ``admin`` tenant."""
        await audit.record(
            conn,
            tenant or self.tenant,
            f"{prefix}.{operation}",
            result=audit.LogResult.ERROR if error else audit.LogResult.SUCCESS,
            ip=self.request.client.host if self.request.client else None,
            user_agent=self.request.headers.get("user-agent"),
            error={"code": error.code, "message": error.message} if error else None,
            actor={"type": "console", "id": self.admin["id"]},
            method=self.request.method,
            path=self.request.url.path,
            here=here(self.request),
            via="console",
            **details,
        )
        if prefix == AUDIT_PREFIX and error is None:  # the webhook event /api emits for it
            await webhook_events.emit_operation(
                conn,
                tenant or self.tenant,
                operation,
                {
                    "params": details.get("params"),
                    "userAgent": self.request.headers.get("user-agent"),
                    "ip": self.request.client.host if self.request.client else None,
                },
                user_id=details.get("user_id"),
            )

    # Responses -----------------------------------------------------------------------------
    def flash(self, text: str, kind: str = "success") -> None:
        """A message for the next page this admin sees (saved with :meth:`redirect`)."""
        self.session.flashes.append({"kind": kind, "text": text})

    async def redirect(self, path: str) -> Response:
        if self.session.flashes:
            await sessions.save(self.runtime, self.session)
        return redirect(path)

    async def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        flashes, self.session.flashes = self.session.flashes, []
        if flashes:
            await sessions.save(self.runtime, self.session)
        return render(
            template,
            self.t,
            status=status,
            admin=self.admin,
            csrf_token=await sessions.csrf_token(self.runtime, self.session.handle),
            flashes=flashes,
            path=self.request.url.path,
            here=here(self.request),
            endpoint=self.endpoint,
            **values,
        )


Handler = Callable[[Console], Awaitable[Response]]


async def admin_count(runtime: Runtime) -> int:
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        return await user_repo.count_users(conn, ADMIN_TENANT)


async def signed_in(
    runtime: Runtime, request: Request
) -> tuple[ConsoleSession, dict[str, Any]] | None:
    """The session and its admin, or None (no cookie, expired, idle, admin gone)."""
    handle = sessions.cookie_handle(runtime, request)
    session = await sessions.load(runtime, handle)
    if session is None:
        return None
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        try:
            admin = await user_service.get_user(conn, ADMIN_TENANT, session.admin_id)
        except NotFound:
            admin = None
    if admin is None or admin["is_suspended"]:
        await sessions.end(runtime, session.handle)
        return None
    return session, admin


async def to_sign_in(runtime: Runtime, request: Request) -> Response:
    if await admin_count(runtime) == 0:
        return redirect("/console/welcome")
    target = request.url.path if request.method == "GET" else "/console"
    return redirect(f"/console/sign-in?next={quote(target)}")


def _handler(runtime: Runtime, handler: Handler, *, form: bool, destructive: bool) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        found = await signed_in(runtime, request)
        if found is None:
            return await to_sign_in(runtime, request)
        session, admin = found
        t = phrases_for(runtime, request)
        fields: dict[str, list[str]] = {}
        if form:
            try:
                fields = await body_params(request)
            except OAuthError as error:
                return error_page(t, error.description, 400)
            posted = (fields.get("csrf_token") or [""])[0]
            if not await sessions.csrf_ok(runtime, session.handle, posted):
                return expired_form(t)
        ctx = Console(runtime, request, admin, session, fields, t)
        if destructive and not session.recently_authenticated:
            confirmed = await _reauthenticate(ctx)
            if confirmed is not None:
                return confirmed
        try:
            return await handler(ctx)
        except ServiceError as error:
            status = error.status if 400 <= error.status < 500 else 400
            return error_page(t, error.message, status)

    return endpoint


async def _reauthenticate(ctx: Console) -> Response | None:
    """None when the form carries the admin's right password (the session is marked
    recently authenticated); else the page asking for it, which re-posts the same form."""
    password = ctx.field("reauth_password", 1024)
    if password:
        error = await check_own_password(
            ctx.runtime, ctx.admin, password, client_address(ctx.request), ctx.t
        )
        if error is None:
            ctx.session.reauth_at = now_ms()
            await sessions.save(ctx.runtime, ctx.session)
            return None
    else:
        error = None
    kept = [
        (name, value)
        for name, values in ctx.fields.items()
        if name not in ("csrf_token", "reauth_password")
        for value in values
    ]
    return await ctx.render(
        "reauth.html",
        status=401 if error else 200,
        action=ctx.request.url.path,
        kept=kept,
        error=error,
    )


def page(runtime: Runtime, handler: Handler) -> Endpoint:
    """A GET page for signed-in admins; others go to sign-in (or set-up)."""
    return _handler(runtime, handler, form=False, destructive=False)


def form(runtime: Runtime, handler: Handler, *, destructive: bool = False) -> Endpoint:
    """A POST for signed-in admins, CSRF-checked; ``destructive`` asks for the password again
    unless it was given in the last five minutes."""
    return _handler(runtime, handler, form=True, destructive=destructive)
