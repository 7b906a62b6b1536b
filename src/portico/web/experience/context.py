"""What every sign-in page handler starts from: the interaction bound to this browser, the
tenant's sign-in experience, the language, and (for POSTs) the CSRF-checked form."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event, ExperienceState
from portico.experience.turn import Origin, Turn
from portico.protocol import sessions as sessions_mod
from portico.protocol.provider import Provider
from portico.services import organizations
from portico.services.applications import Client
from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.sign_in_experience import SignInExperience
from portico.web.experience.fields import FIELD_ERRORS
from portico.web.http import (
    NO_STORE,
    body_params,
    form_target_csp,
    page,
    redirect,
    with_image_origins,
)
from portico.web.i18n import Translate
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger("portico.experience")
Endpoint = Callable[[Request], Awaitable[Response]]
TENANT = DEFAULT_TENANT
PREVIEW = "preview"  # the uid of the console's page previews
ORG = "organization_id"  # the authorization request's organization, whose branding shows


@dataclass
class Ctx:
    """One request inside one sign-in interaction."""

    runtime: Runtime
    request: Request
    uid: str
    interaction: dict[str, Any]
    sie: SignInExperience
    t: Translate
    client: Client | None
    fields: dict[str, list[str]]
    notice: str | None = None
    # The console's preview shows unsaved colours from its own stylesheet.
    theme_css: str | None = None
    turn: Turn = field(init=False, repr=False)

    def __post_init__(self) -> None:
        client = self.request.client
        self.turn = Turn(
            self.runtime,
            self.uid,
            self.interaction,
            self.sie,
            origin=Origin(
                ip=client.host if client else None,
                user_agent=self.request.headers.get("user-agent", "")[:512] or None,
                application_id=self.client.id if self.client else None,
                application_name=self.client.name if self.client else None,
                locale=self.t("meta.lang_tag"),
                ui_locales=self.interaction["request"].get("ui_locales") or "",
                host=self.request.url.hostname or "localhost",
                url=f"{self.request.url.scheme}://{self.request.url.netloc}",
                related=tuple(self.runtime.settings.related_origins),
            ),
            translate=self.t,
            device=self.request.cookies.get(self.runtime.device_cookie),
        )

    # State (the engine's turn: experience/turn.py) ------------------------------------------
    @property
    def provider(self) -> Provider:
        return self.turn.provider

    @property
    def exp(self) -> ExperienceState:
        """The interaction's typed state (``experience/interaction.py``)."""
        return self.turn.state

    @property
    def jti(self) -> str:
        return self.turn.jti

    @property
    def tenant(self) -> str:
        return self.turn.tenant

    def field(self, name: str, limit: int = 256) -> str:
        return (self.fields.get(name) or [""])[0][:limit]

    def pending(self) -> Identifier | None:
        found = self.exp.pending
        return found.identifier if found else None

    async def save(self, conn: AsyncConnection | None = None) -> None:
        await self.turn.save(conn)

    def reset(self, event: str = Event.SIGN_IN) -> None:
        self.turn.reset(event)

    @property
    def is_preview(self) -> bool:
        """The console's preview of a page (no interaction behind it: nothing is saved)."""
        return self.uid == PREVIEW

    # Rendering -----------------------------------------------------------------------------
    @property
    def client_name(self) -> str:
        return self.client.name if self.client else self.t("description.the_application")

    @property
    def ui_locales(self) -> str | None:
        return self.interaction["request"].get("ui_locales")

    def headers(self) -> dict[str, str]:
        """CSP for sign-in pages: the form's redirect chain may end at the client, our own
        small script may run, and the admin's (and the client's) logo may load from its
        origin."""
        csp = form_target_csp(self.interaction["request"]["redirect_uri"])
        policy = csp["Content-Security-Policy"].replace("script-src 'none'", "script-src 'self'")
        policy = with_image_origins(
            policy,
            self.sie.branding.logoUrl,
            self.sie.branding.darkLogoUrl,
            self.client.logo_uri if self.client else None,
        )
        return {**NO_STORE, "Content-Security-Policy": policy}

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return page(
            template,
            status=status,
            headers=self.headers(),
            t=self.t,
            sie=self.sie,
            csrf_token=self.interaction["csrf"],
            client_name=self.client_name,
            notice=self.t(self.notice) if self.notice else None,
            theme_css=self.theme_css,
            **values,
        )

    def error(self, template: str, key: str, status: int = 400, **values: Any) -> HTMLResponse:
        """The same page again with one translated error, announced to screen readers:
        next to its field when it is about one (``fields.FIELD_ERRORS``), else above the
        form."""
        params = values.pop("params", {})
        text = self.t(key, **params)
        if field_name := FIELD_ERRORS.get(key):
            return self.render(template, status=status, field_errors={field_name: text}, **values)
        return self.render(template, status=status, error=text, **values)

    def go(self, path: str) -> Response:
        return redirect(path)

    def in_a_new_navigation(self, response: Response) -> Response:
        """A redirect to one of our own paths answered instead as a page that goes on by
        itself (a meta refresh, and a link): after an identity provider's callback, the
        browser's onward trip is then a navigation of this page's, not the rest of the form
        submitted on the provider's page, whose CSP ``form-action`` browsers apply to every
        redirect of that submission (a strict provider, Portico itself, would otherwise stop
        the trip at this server's client). Cookies set on the redirect go with the page."""
        location = response.headers.get("location", "")
        if response.status_code not in (302, 303) or not location.startswith("/"):
            return response
        page = self.render("navigate.html", target=location)
        page.raw_headers.extend(
            (key, value) for key, value in response.raw_headers if key == b"set-cookie"
        )
        return page

    async def audit(self, key: str, **values: Any) -> None:
        await self.turn.audit(key, **values)


async def translated_error(
    runtime: Runtime, request: Request, key: str, status: int = 400, **params: Any
) -> HTMLResponse:
    """A readable, translated error page for requests without a usable interaction."""
    t = await runtime.translator(request)
    return page("error.html", status=status, t=t, title=t("error.title"), message=t(key, **params))


async def context_of(
    runtime: Runtime, request: Request, uid: str, interaction: dict[str, Any]
) -> Ctx:
    """The context of a request inside ``interaction`` (pages and the Experience API)."""
    assert runtime.provider is not None and runtime.experiences is not None
    sie = await runtime.experiences.get(TENANT)
    theme_css = None
    if org_id := (interaction["request"].get("extra") or {}).get(ORG):
        async with runtime.provider.engine.connect() as conn:
            branded = await organizations.branded_experience(conn, TENANT, sie, str(org_id))
        if branded is not sie:
            sie, theme_css = branded, f"/sign-in-exp/theme.css?{urlencode({ORG: org_id})}"
    t = await runtime.translator(request, interaction["request"].get("ui_locales"))
    client = await runtime.provider.client(interaction["request"]["client_id"])
    return Ctx(runtime, request, uid, interaction, sie, t, client, {}, theme_css=theme_css)


async def find(runtime: Runtime, request: Request) -> tuple[str, dict[str, Any]] | None:
    """The interaction bound to this browser by the interaction cookie, if any."""
    assert runtime.provider is not None
    uid = request.cookies.get(runtime.interaction_cookie)
    interaction = await sessions_mod.find_interaction(runtime.provider, uid)
    return (uid, interaction) if uid and interaction is not None else None


async def load(runtime: Runtime, request: Request, *, form: bool = False) -> Ctx | Response:
    """The context, or a translated error page: no interaction (expired, another browser)
    or, for forms, a missing or wrong CSRF token."""
    found = await find(runtime, request)
    if found is None:
        return await translated_error(runtime, request, "error.session_expired")
    uid, interaction = found
    fields: dict[str, list[str]] = {}
    if form:
        fields = await body_params(request)
        posted = (fields.get("csrf_token") or [""])[0]
        if not hmac.compare_digest(posted.encode(), interaction["csrf"].encode()):
            return await translated_error(runtime, request, "error.csrf", status=403)
    ctx = await context_of(runtime, request, uid, interaction)
    ctx.fields = fields
    ctx.notice = interaction.get("exp", {}).pop("notice", None)
    if ctx.notice:  # shown once
        await ctx.save()
    return ctx


def credential_of(ctx: Ctx) -> dict[str, Any]:
    """The WebAuthn credential a page's script posted (``credential``, JSON); empty when
    missing or malformed (the check then fails like any wrong answer)."""
    raw = (ctx.fields.get("credential") or [""])[0]
    if not raw or len(raw) > 16_384:
        return {}
    try:
        found = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return found if isinstance(found, dict) else {}


PageHandler = Callable[[Ctx], Awaitable[Response]]


def view(runtime: Runtime, handler: PageHandler, *, form: bool = False) -> Endpoint:
    """A Starlette endpoint running ``handler`` with the request's context, or answering
    with the error page when there is none (see :func:`load`)."""

    async def endpoint(request: Request) -> Response:
        ctx = await load(runtime, request, form=form)
        return ctx if isinstance(ctx, Response) else await handler(ctx)

    return endpoint


def form_view(runtime: Runtime, handler: PageHandler) -> Endpoint:
    """:func:`view` for a form POST: the CSRF token is checked before ``handler`` runs."""
    return view(runtime, handler, form=True)
