"""Sign-in experience: sign-up and sign-in settings, social buttons, branding, terms, languages
and password policy, saved through ``services/sign_in_experience`` (its validation errors
shown on the form), beside a live preview of the real sign-in page.

The preview is an iframe of ``/console/sign-in-experience/preview``: the real ``sign_in``
page handler and templates, given a stand-in interaction that is never stored (no
``/oidc/auth``, no row, no cookie), so nothing can be signed in through it; its CSP allows
framing by the console only (``frame-ancestors 'self'``) and no form submission
(``form-action 'none'``). A GET shows the saved settings; the form's "Preview" button posts
the unsaved ones to the same address into the iframe (``formtarget``), so admins try a
change before saving it, without JavaScript.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from portico.services import sign_in_experience as service
from portico.services.errors import ServiceError
from portico.services.password_policy import PasswordPolicy
from portico.services.sign_in_experience import (
    HEX_COLOR,
    InvalidSignInExperience,
    SignInExperience,
)
from portico.web.console.context import Console, error_page, form, page
from portico.web.experience import sign_in as sign_in_page
from portico.web.experience.context import Ctx
from portico.web.http import NO_STORE
from portico.web.i18n import SUPPORTED, translator
from portico.web.runtime import Runtime

SECTION = "sign-in-experience"
IDENTIFIERS = ("username", "email", "phone")
SIGN_UP_CHOICES = {
    "username": ["username"],
    "email": ["email"],
    "phone": ["phone"],
    "email,phone": ["email", "phone"],
    "": [],
}
PREVIEW_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; object-src 'none'"
)


async def _socials(ctx: Console) -> list[dict[str, Any]]:
    assert ctx.runtime.connectors is not None
    found: dict[str, dict[str, Any]] = {}
    for connector in await ctx.runtime.connectors.socials(ctx.tenant):
        found.setdefault(connector["target"], connector)
    return list(found.values())


async def _stored(ctx: Console) -> SignInExperience:
    assert ctx.runtime.experiences is not None
    return await ctx.runtime.experiences.get(ctx.tenant)


async def _render(
    ctx: Console, sie: SignInExperience, *, status: int = 200, errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:  # fmt: skip
    policy = PasswordPolicy.from_config(sie.passwordPolicy) if not errors else None
    return await ctx.render(
        "sign_in_experience.html",
        status=status,
        section=SECTION,
        sie=sie,
        sign_up=",".join(sie.signUp.identifiers),
        methods={m.identifier: m for m in sie.signIn.methods},
        identifiers=IDENTIFIERS,
        socials=await _socials(ctx),
        languages=SUPPORTED,
        policy=policy or _policy_draft(ctx),
        errors=errors or {},
        error=error,
    )


async def index(ctx: Console) -> Response:
    return await _render(ctx, await _stored(ctx))


# Reading the form ----------------------------------------------------------------------------
def _int(ctx: Console, name: str, errors: dict[str, str]) -> int:
    try:
        return int(ctx.field(name, 16))
    except ValueError:
        errors[name] = "Enter a whole number."
        return 0


def _url(ctx: Console, name: str) -> str | None:
    return ctx.field(name).strip() or None


class _PolicyDraft:
    """The password policy inputs as typed, to show them again next to an error."""

    def __init__(self, ctx: Console) -> None:
        self.min_length = ctx.field("pw_min", 16)
        self.max_length = ctx.field("pw_max", 16)
        self.min_character_types = ctx.field("pw_types", 16)
        self.reject_pwned = ctx.checked("pw_pwned")
        self.reject_repetition_and_sequence = ctx.checked("pw_sequence")
        self.reject_user_info = ctx.checked("pw_user_info")
        self.reject_words = tuple(_lines(ctx.field("pw_words", 20_000)))


def _policy_draft(ctx: Console) -> _PolicyDraft:
    return _PolicyDraft(ctx)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _password_policy(ctx: Console, errors: dict[str, str]) -> dict[str, Any]:
    config = {
        "length": {"min": _int(ctx, "pw_min", errors), "max": _int(ctx, "pw_max", errors)},
        "characterTypes": {"min": _int(ctx, "pw_types", errors)},
        "rejects": {
            "pwned": ctx.checked("pw_pwned"),
            "repetitionAndSequence": ctx.checked("pw_sequence"),
            "userInfo": ctx.checked("pw_user_info"),
            "words": _lines(ctx.field("pw_words", 20_000)),
        },
    }
    if not errors:
        try:
            PasswordPolicy.from_config(config)
        except ValueError as error:
            errors["password_policy"] = str(error)
    return config


def _targets(ctx: Console) -> list[str]:
    """The checked social targets, ordered by the position typed next to each."""
    chosen = []
    for target in ctx.values("social"):
        try:
            position = int(ctx.field(f"order_{target}", 8))
        except ValueError:
            position = 999
        chosen.append((position, target))
    return [target for _, target in sorted(chosen)]


def patch_of(ctx: Console) -> tuple[dict[str, Any], dict[str, str]]:
    """The sign-in experience members the form sets, and errors per input."""
    errors: dict[str, str] = {}
    methods = [
        {
            "identifier": identifier,
            "password": ctx.checked(f"{identifier}_password"),
            "verificationCode": ctx.checked(f"{identifier}_code"),
            "isPasswordPrimary": ctx.checked(f"{identifier}_password_primary"),
        }
        for identifier in IDENTIFIERS
        if ctx.checked(f"method_{identifier}")
    ]
    for name in ("primary_color", "dark_primary_color"):
        if not re.match(HEX_COLOR, ctx.field(name, 16)):
            errors[name] = "A colour like #6139F6."
    language = ctx.field("fallback_language", 16)
    if language not in SUPPORTED:
        errors["fallback_language"] = "Choose a supported language."
    patch = {
        "signInMode": ctx.field("sign_in_mode", 32),
        "signUp": {
            "identifiers": SIGN_UP_CHOICES.get(ctx.field("sign_up", 32), []),
            "password": ctx.checked("sign_up_password"),
            "verify": ctx.checked("sign_up_verify"),
        },
        "signIn": {"methods": methods},
        "socialSignInConnectorTargets": _targets(ctx),
        "color": {
            "primaryColor": ctx.field("primary_color", 16),
            "darkPrimaryColor": ctx.field("dark_primary_color", 16),
            "isDarkModeEnabled": ctx.checked("dark_mode"),
        },
        "branding": {"logoUrl": _url(ctx, "logo_url"), "darkLogoUrl": _url(ctx, "dark_logo_url")},
        "termsOfUseUrl": _url(ctx, "terms_url"),
        "privacyPolicyUrl": _url(ctx, "privacy_url"),
        "languageInfo": {"autoDetect": ctx.checked("auto_detect"), "fallbackLanguage": language},
        "passwordPolicy": _password_policy(ctx, errors),
    }
    return patch, errors


def readable(error: Exception) -> str:
    """A validation message without Pydantic's decorations ("1 validation error for ...",
    ``[type=...]``, documentation links)."""
    if isinstance(error, ServiceError):
        return error.message
    lines = [line.strip() for line in str(error).splitlines()]
    kept = [
        re.sub(r"\s*\[type=.*$", "", line).removeprefix("Value error, ")
        for line in lines
        if line
        and not line.startswith("For further information")
        and "validation error" not in line
    ]
    return " ".join(kept) or "The settings are not consistent."


async def save(ctx: Console) -> Response:
    patch, errors = patch_of(ctx)
    current = await _stored(ctx)
    if errors:
        return await _render(ctx, _draft(current, patch), status=400, errors=errors,
                             error="Some settings need attention.")  # fmt: skip
    try:
        async with ctx.write() as conn:
            await service.patch_stored(conn, ctx.tenant, patch)
            await ctx.audit(conn, "PatchSignInExp", status=200)
    except (InvalidSignInExperience, ServiceError) as error:
        return await _render(ctx, _draft(current, patch), status=400, error=readable(error))
    ctx.flash("Sign-in experience saved. The preview shows it.")
    return await ctx.redirect("/console/sign-in-experience")


def _draft(current: SignInExperience, patch: dict[str, Any]) -> Any:
    """The form's values shown again after an error: the merge when it validates, else the
    stored settings with the parts that do."""
    try:
        return service.merge(current, patch)
    except InvalidSignInExperience:
        data = current.model_dump(mode="json")
        for key, value in patch.items():
            try:
                data = service.merge(
                    SignInExperience.model_validate(data), {key: value}
                ).model_dump(mode="json")
            except InvalidSignInExperience:
                continue
        return SignInExperience.model_validate(data)


# Preview -------------------------------------------------------------------------------------
async def _preview(ctx: Console, sie: SignInExperience, theme_css: str | None) -> Response:
    lang = ctx.request.query_params.get("lang") or sie.languageInfo.fallbackLanguage
    t = translator(lang if lang in SUPPORTED else "en")
    stand_in = {
        "request": {"redirect_uri": ctx.endpoint, "client_id": "", "extra": {}},
        "csrf": "preview",
        "exp": {"event": "SignIn", "profile": {}},
    }
    page_ctx = Ctx(ctx.runtime, ctx.request, "preview", stand_in, sie, t, None, {},
                   theme_css=theme_css)  # fmt: skip
    return _framed(await sign_in_page.form(page_ctx))


def _framed(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers.update(NO_STORE)
    return response


async def preview_saved(ctx: Console) -> Response:
    return await _preview(ctx, await _stored(ctx), None)


async def preview_draft(ctx: Console) -> Response:
    patch, errors = patch_of(ctx)
    try:
        if errors:
            raise ServiceError("Fix these settings to preview them: " + " ".join(errors.values()))
        sie = service.merge(await _stored(ctx), patch)
    except (InvalidSignInExperience, ServiceError) as error:
        # Shown inside the preview frame, so framed like the preview.
        return _framed(error_page(readable(error), 400, "Cannot preview these settings"))
    theme = "/console/sign-in-experience/preview.css?" + urlencode(
        {"primary": sie.color.primaryColor, "dark": sie.color.darkPrimaryColor,
         "darkMode": "1" if sie.color.isDarkModeEnabled else ""}
    )  # fmt: skip
    return await _preview(ctx, sie, theme)


async def preview_css(ctx: Console) -> Response:
    """The unsaved colours as ``/sign-in-exp/theme.css`` would serve them once saved."""
    query = ctx.request.query_params
    primary, dark = query.get("primary", ""), query.get("dark", "")
    if not (re.match(HEX_COLOR, primary) and re.match(HEX_COLOR, dark)):
        raise ServiceError("Colours must look like #6139F6.")
    dark = dark if query.get("darkMode") else primary
    css = (
        f":root {{ --accent: {primary}; }}\n"
        f"@media (prefers-color-scheme: dark) {{ :root {{ --accent: {dark}; }} }}\n"
    )
    return Response(css, media_type="text/css", headers=NO_STORE)


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/sign-in-experience"
    return [
        Route(base, page(runtime, index), methods=["GET"]),
        Route(base, form(runtime, save), methods=["POST"]),
        Route(f"{base}/preview", page(runtime, preview_saved), methods=["GET"]),
        Route(f"{base}/preview", form(runtime, preview_draft), methods=["POST"]),
        Route(f"{base}/preview.css", page(runtime, preview_css), methods=["GET"]),
    ]
