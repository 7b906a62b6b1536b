"""What every sign-in page handler starts from: the interaction bound to this browser, the
tenant's sign-in experience, the language, and (for POSTs) the CSRF-checked form."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from portico.experience.identifiers import Identifier
from portico.ids import digest
from portico.protocol import sessions as sessions_mod
from portico.protocol.provider import Provider
from portico.services.applications import Client
from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.sign_in_experience import SignInExperience
from portico.web.http import NO_STORE, body_params, form_target_csp, redirect
from portico.web.i18n import Translate, language_names
from portico.web.runtime import TEMPLATES, Runtime

log = logging.getLogger("portico.experience")
TENANT = DEFAULT_TENANT


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

    # State ---------------------------------------------------------------------------------
    @property
    def provider(self) -> Provider:
        assert self.runtime.provider is not None
        return self.runtime.provider

    @property
    def exp(self) -> dict[str, Any]:
        """The experience state of this interaction: event, pending code, verified
        identifiers, the identified user and the profile collected so far."""
        return self.interaction.setdefault("exp", {"event": "SignIn", "profile": {}})

    @property
    def jti(self) -> str:
        """The interaction's id as stored (codes are bound to it)."""
        return digest(self.uid)

    @property
    def tenant(self) -> str:
        return TENANT

    def field(self, name: str, limit: int = 256) -> str:
        return (self.fields.get(name) or [""])[0][:limit]

    def pending(self) -> Identifier | None:
        found = self.exp.get("pending")
        return Identifier.from_dict(found) if found else None

    async def save(self) -> None:
        await sessions_mod.update_interaction(self.provider, self.uid, self.interaction)

    def reset(self, event: str = "SignIn") -> None:
        self.interaction["exp"] = {"event": event, "profile": {}}

    # Rendering -----------------------------------------------------------------------------
    @property
    def client_name(self) -> str:
        return self.client.name if self.client else self.t("description.the_application")

    @property
    def ui_locales(self) -> str | None:
        return self.interaction["request"].get("ui_locales")

    def headers(self) -> dict[str, str]:
        """CSP for sign-in pages: the form's redirect chain may end at the client, our own
        small script may run, and the admin's logo may load from its origin."""
        csp = form_target_csp(self.interaction["request"]["redirect_uri"])
        policy = csp["Content-Security-Policy"].replace("script-src 'none'", "script-src 'self'")
        logos = {
            f"{p.scheme}://{p.netloc}"
            for url in (self.sie.branding.logoUrl, self.sie.branding.darkLogoUrl)
            if url and (p := urlsplit(url)).netloc
        }
        if logos:
            policy = policy.replace(
                "img-src 'self' data:", f"img-src 'self' data: {' '.join(sorted(logos))}"
            )
        return {**NO_STORE, "Content-Security-Policy": policy}

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = TEMPLATES.get_template(template).render(
            t=self.t,
            lang=self.t("meta.lang_tag"),
            sie=self.sie,
            csrf_token=self.interaction["csrf"],
            client_name=self.client_name,
            languages=language_names(),
            notice=self.t(self.notice) if self.notice else None,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=self.headers())

    def error(self, template: str, key: str, status: int = 400, **values: Any) -> HTMLResponse:
        """The same page again with one translated error, announced to screen readers."""
        params = values.pop("params", {})
        return self.render(template, status=status, error=self.t(key, **params), **values)

    def go(self, path: str) -> Response:
        return redirect(path)


async def translated_error(
    runtime: Runtime, request: Request, key: str, status: int = 400, **params: Any
) -> HTMLResponse:
    """A readable, translated error page for requests without a usable interaction."""
    t = await runtime.translator(request)
    html = TEMPLATES.get_template("error.html").render(
        t=t, lang=t("meta.lang_tag"), title=t("error.title"), message=t(key, **params)
    )
    return HTMLResponse(html, status_code=status, headers=NO_STORE)


async def load(runtime: Runtime, request: Request, *, form: bool = False) -> Ctx | Response:
    """The context, or a translated error page: no interaction (expired, another browser)
    or, for forms, a missing or wrong CSRF token."""
    assert runtime.provider is not None and runtime.experiences is not None
    uid = request.cookies.get(runtime.interaction_cookie)
    interaction = await sessions_mod.find_interaction(runtime.provider, uid)
    if not uid or interaction is None:
        return await translated_error(runtime, request, "error.session_expired")
    fields: dict[str, list[str]] = {}
    if form:
        fields = await body_params(request)
        posted = (fields.get("csrf_token") or [""])[0]
        if not hmac.compare_digest(posted.encode(), interaction["csrf"].encode()):
            return await translated_error(runtime, request, "error.csrf", status=403)
    sie = await runtime.experiences.get(TENANT)
    t = await runtime.translator(request, interaction["request"].get("ui_locales"))
    client = await runtime.provider.client(interaction["request"]["client_id"])
    notice = interaction.get("exp", {}).pop("notice", None)
    if notice:  # shown once
        await sessions_mod.update_interaction(runtime.provider, uid, interaction)
    return Ctx(runtime, request, uid, interaction, sie, t, client, fields, notice)
