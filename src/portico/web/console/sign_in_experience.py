"""Sign-in experience: sign-up and sign-in settings, social buttons, branding, terms, languages,
password policy and two-step verification (MFA), saved through ``services/sign_in_experience``
(its validation errors shown on the form), beside a live preview of the real sign-in page.

The preview is an iframe of ``/console/sign-in-experience/preview``: the real ``sign_in``
page handler and templates, given a stand-in interaction that is never stored (no
``/oidc/auth``, no row, no cookie), so nothing can be signed in through it; its CSP allows
framing by the console only (``frame-ancestors 'self'``) and no form submission
(``form-action 'none'``). A GET shows the saved settings; the form's "Preview" button posts
the unsaved ones to the same address into the iframe (``formtarget``), so admins try a
change before saving it, without JavaScript. ``?page=mfa-setup`` and ``?page=mfa-verify`` (or
the form's "Page to preview") show the two-step verification pages a user would meet instead.

MFA: the factors this version cannot verify at sign-in yet (``experience.mfa.SUPPORTED``) are
shown but cannot be ticked; one enabled through the API is kept as it is. Only the policies
the service accepts are offered (not the two ``…Mandatory`` prompts, which need adaptive MFA).
The ``mfa`` member is sent only when the admin changed it, so saving other settings neither
rewrites the deprecated ``UserControlled`` nor triggers Logto's ``adaptiveMfa`` normalisation.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from portico.experience import mfa as experience_mfa
from portico.experience.mfa import Prompt, UserMfa
from portico.services import sign_in_experience as service
from portico.services.errors import ServiceError
from portico.services.password_policy import PasswordPolicy
from portico.services.sign_in_experience import (
    HEX_COLOR,
    InvalidSignInExperience,
    MfaFactor,
    MfaPolicy,
    SignInExperience,
)
from portico.web.console.context import Console, form, page, render
from portico.web.console.language import Phrases
from portico.web.experience import sign_in as sign_in_page
from portico.web.experience.context import PREVIEW, Ctx
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
# The MFA choices, in the order shown; their names and meanings (Logto's) are the console's
# phrases ``mfa.factor.<factor>``, ``sie.mfa_factor_hint.<factor>``, ``sie.mfa_policy.<policy>``…
MFA_FACTORS = (
    MfaFactor.TOTP,
    MfaFactor.WEB_AUTHN,
    MfaFactor.BACKUP_CODE,
    MfaFactor.EMAIL_VERIFICATION_CODE,
    MfaFactor.PHONE_VERIFICATION_CODE,
)
MFA_POLICIES = (
    MfaPolicy.PROMPT_AT_SIGN_IN_AND_SIGN_UP,
    MfaPolicy.PROMPT_ONLY_AT_SIGN_IN,
    MfaPolicy.MANDATORY,
    MfaPolicy.NO_PROMPT,
)
ORG_MFA_POLICIES = ("NoPrompt", "Mandatory")
# Refusals about the MFA settings, shown next to that section too.
MFA_CODES = frozenset(
    f"sign_in_experiences.{name}"
    for name in (
        "duplicated_mfa_factors",
        "backup_code_cannot_be_enabled_alone",
        "email_verification_code_cannot_be_used_for_mfa",
        "phone_verification_code_cannot_be_used_for_mfa",
        "email_verification_code_cannot_be_used_for_sign_in",
        "phone_verification_code_cannot_be_used_for_sign_in",
        "non_adaptive_mfa_requires_skippable_policy",
        "adaptive_mfa_not_supported",
    )
)
# The pages the preview shows, each with its phrase (``sie.preview_page.<key>``).
PREVIEW_PAGES = {"sign-in": "sign_in", "mfa-setup": "mfa_setup", "mfa-verify": "mfa_verify"}
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
    error: str | None = None, typed_mfa: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    """``typed_mfa``: the MFA settings as the admin sent them, shown again after an error
    (else the stored ones)."""
    policy = PasswordPolicy.from_config(sie.passwordPolicy) if not errors else None
    mfa = typed_mfa or sie.mfa.model_dump(mode="json")
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
        mfa=mfa,
        mfa_policy=_shown_policy(str(mfa.get("policy") or "")),
        mfa_factors=MFA_FACTORS,
        mfa_policies=MFA_POLICIES,
        org_mfa_policies=ORG_MFA_POLICIES,
        mfa_supported=experience_mfa.SUPPORTED,
        preview_pages=PREVIEW_PAGES,
        errors=errors or {},
        error=error,
    )


def _shown_policy(policy: str) -> str:
    """The radio button a stored policy ticks: the deprecated ``UserControlled`` means
    ``PromptAtSignInAndSignUp`` (as Logto's Experience API treats it)."""
    if policy == MfaPolicy.USER_CONTROLLED:
        return MfaPolicy.PROMPT_AT_SIGN_IN_AND_SIGN_UP
    return policy


async def index(ctx: Console) -> Response:
    return await _render(ctx, await _stored(ctx))


# Reading the form ----------------------------------------------------------------------------
def _int(ctx: Console, name: str, errors: dict[str, str]) -> int:
    try:
        return int(ctx.field(name, 16))
    except ValueError:
        errors[name] = ctx.t("sie.whole_number")
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
            errors[name] = ctx.t("sie.colour_like")
    language = ctx.field("fallback_language", 16)
    if language not in SUPPORTED:
        errors["fallback_language"] = ctx.t("sie.supported_language")
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
    if ctx.checked("mfa_section"):  # a form without the MFA section leaves MFA alone
        patch["mfa"] = _mfa(ctx, errors)
        patch["trustedDevice"] = _trusted_device(ctx, errors)
        patch["passkeySignIn"] = {
            "enabled": ctx.checked("passkey_enabled"),
            "showPasskeyButton": ctx.checked("passkey_button"),
            "allowAutofill": ctx.checked("passkey_autofill"),
        }
    return patch, errors


def _trusted_device(ctx: Console, errors: dict[str, str]) -> dict[str, Any]:
    days = ctx.field("trusted_device_days", 8) or "30"
    if not days.isdigit() or not 1 <= int(days) <= 365:
        errors["mfa"] = ctx.t("sie.trusted_days_range")
        days = "30"
    return {"enabled": ctx.checked("trusted_device"), "durationDays": int(days)}


def _mfa(ctx: Console, errors: dict[str, str]) -> dict[str, Any]:
    """The MFA section as ticked (factors in the order shown; the service checks the
    combination). A value no input offers is refused here, readably."""
    known = [str(f) for f in MFA_FACTORS]
    factors = [f for f in dict.fromkeys(v[:32] for v in ctx.values("mfa_factor")) if f in known]
    factors.sort(key=known.index)
    policy = ctx.field("mfa_policy", 64)
    if policy not in {str(p) for p in MfaPolicy}:
        errors["mfa"] = ctx.t("sie.choose_mfa_policy")
        policy = MfaPolicy.PROMPT_AT_SIGN_IN_AND_SIGN_UP
    org = ctx.field("mfa_org_policy", 16) or "NoPrompt"
    if org not in ("NoPrompt", "Mandatory"):
        errors["mfa"] = ctx.t("sie.choose_org_policy")
        org = "NoPrompt"
    return {"factors": factors, "policy": policy, "organizationRequiredMfaPolicy": org}


def settle_mfa(current: SignInExperience, patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` without ``mfa`` when the admin left it as stored (``UserControlled`` reads as
    ``PromptAtSignInAndSignUp``, an unset organization policy as ``NoPrompt``); else with the
    stored factors' order kept and an unset organization policy left unset."""
    typed = patch.get("mfa")
    if typed is None:
        return patch
    stored = current.mfa
    stored_org = stored.organizationRequiredMfaPolicy or "NoPrompt"
    org = typed["organizationRequiredMfaPolicy"]
    if (
        set(typed["factors"]) == set(stored.factors)
        and _shown_policy(typed["policy"]) == _shown_policy(stored.policy)
        and org == stored_org
    ):
        return {k: v for k, v in patch.items() if k != "mfa"}
    order = [str(f) for f in stored.factors]
    # Stable: the stored factors first in their order, new ones after in the order shown.
    factors = sorted(typed["factors"], key=lambda f: order.index(f) if f in order else len(order))
    mfa = {**typed, "factors": factors}
    if stored.organizationRequiredMfaPolicy is None and org == "NoPrompt":
        del mfa["organizationRequiredMfaPolicy"]
    return {**patch, "mfa": mfa}


def readable(error: Exception, t: Phrases) -> str:
    """A validation message without Pydantic's decorations ("1 validation error for ...",
    ``[type=...]``, documentation links); for a malformed member, the fields and why."""
    data = getattr(error, "data", None)
    if getattr(error, "code", None) == "guard.invalid_input" and isinstance(data, list):
        problems = [
            f"{str(item.get('path', '')).removeprefix('body.')}: {item.get('message', '')}"
            for item in data
            if isinstance(item, dict)
        ]
        return t("sie.not_valid", problems="; ".join(problems))
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
    return " ".join(kept) or t("sie.not_consistent")


def _is_about_mfa(error: Exception) -> bool:
    if getattr(error, "code", None) in MFA_CODES:
        return True
    data = getattr(error, "data", None)
    return isinstance(data, list) and any(
        isinstance(item, dict) and str(item.get("path", "")).startswith("body.mfa") for item in data
    )


async def save(ctx: Console) -> Response:
    patch, errors = patch_of(ctx)
    typed_mfa = patch.get("mfa")
    current = await _stored(ctx)
    patch = settle_mfa(current, patch)
    if errors:
        return await _render(
            ctx, _draft(current, patch), status=400, errors=errors,
            error=ctx.t("sie.needs_attention"), typed_mfa=typed_mfa,
        )  # fmt: skip
    try:
        async with ctx.write() as conn:
            await service.patch_stored(conn, ctx.tenant, patch)
            await ctx.audit(conn, "PatchSignInExp", status=200)
    except (InvalidSignInExperience, ServiceError) as error:
        message = readable(error, ctx.t)
        return await _render(
            ctx, _draft(current, patch), status=400, error=message, typed_mfa=typed_mfa,
            errors={"mfa": message} if _is_about_mfa(error) else None,
        )  # fmt: skip
    ctx.flash(ctx.t("sie.saved"))
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
async def _preview(
    ctx: Console, sie: SignInExperience, theme_css: str | None, which: str = "sign-in"
) -> Response:
    lang = ctx.request.query_params.get("lang") or sie.languageInfo.fallbackLanguage
    t = translator(lang if lang in SUPPORTED else "en")
    stand_in = {
        "request": {"redirect_uri": ctx.endpoint, "client_id": "", "extra": {}},
        "csrf": "preview",
        "exp": {"event": "SignIn", "profile": {}},
    }
    page_ctx = Ctx(ctx.runtime, ctx.request, PREVIEW, stand_in, sie, t, None, {},
                   theme_css=theme_css)  # fmt: skip
    if which == "mfa-setup":
        return _framed(_mfa_setup(page_ctx, ctx.t))
    if which == "mfa-verify":
        return _framed(_mfa_verify(page_ctx, ctx.t))
    return _framed(await sign_in_page.form(page_ctx))


def _preview_page(value: str | None) -> str:
    return value if value in PREVIEW_PAGES else "sign-in"


def _note(t: Phrases, message: str, title: str | None = None, status: int = 200) -> Response:
    """Shown in the preview frame instead of a page users would not see, or of settings that
    cannot be previewed: a message without the console's navigation (the frame is no place
    to open the console in)."""
    title = title or t("sie.nothing_to_preview")
    return render("preview_note.html", t, status=status, title=title, message=message)


def _mfa_setup(page_ctx: Ctx, t: Phrases) -> Response:
    """What a user without a factor is asked at sign-in under these settings: to set up one
    of the factors (with "Not now" when the policy lets them skip)."""
    sie = page_ctx.sie
    factors = experience_mfa.configured(sie)
    if not factors:
        return _note(t, t("sie.note_no_factor_to_set_up"))
    if sie.mfa.policy == MfaPolicy.NO_PROMPT:
        return _note(t, t("sie.note_never_ask"))
    prompt = Prompt("missing", tuple(factors), skippable=sie.mfa.skippable)
    return page_ctx.render("mfa_setup.html", prompt=prompt)


# A user with every factor, for the preview (the addresses shown masked, as users see them).
SAMPLE_EMAIL, SAMPLE_PHONE = "jane.doe@example.com", "15551234567"


def _mfa_verify(page_ctx: Ctx, t: Phrases) -> Response:
    """What a user with every enabled factor is asked at sign-in (the first factor's page,
    links to the others)."""
    sie = page_ctx.sie
    user = UserMfa(factors=tuple(sie.mfa.factors), email=SAMPLE_EMAIL, phone=SAMPLE_PHONE)
    factors = experience_mfa.user_factors(sie, user)
    if not factors:
        return _note(t, t("sie.note_no_factor_to_verify"))
    masked = experience_mfa.masked(user, factors)
    return page_ctx.render("mfa_verify.html", factor=factors[0], others=factors[1:],
                           masked=masked.get(factors[0], ""), sent=False)  # fmt: skip


def _framed(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers.update(NO_STORE)
    return response


async def preview_saved(ctx: Console) -> Response:
    which = _preview_page(ctx.request.query_params.get("page"))
    return await _preview(ctx, await _stored(ctx), None, which)


async def preview_draft(ctx: Console) -> Response:
    patch, errors = patch_of(ctx)
    which = _preview_page(ctx.request.query_params.get("page") or ctx.field("preview_page", 16))
    try:
        if errors:
            raise ServiceError(ctx.t("sie.fix_to_preview", problems=" ".join(errors.values())))
        current = await _stored(ctx)
        sie = service.merge(current, settle_mfa(current, patch))
    except (InvalidSignInExperience, ServiceError) as error:
        # Shown inside the preview frame, so framed like the preview.
        title = ctx.t("sie.cannot_preview")
        return _framed(_note(ctx.t, readable(error, ctx.t), title, status=400))
    theme = "/console/sign-in-experience/preview.css?" + urlencode(
        {"primary": sie.color.primaryColor, "dark": sie.color.darkPrimaryColor,
         "darkMode": "1" if sie.color.isDarkModeEnabled else ""}
    )  # fmt: skip
    return await _preview(ctx, sie, theme, which)


async def preview_css(ctx: Console) -> Response:
    """The unsaved colours as ``/sign-in-exp/theme.css`` would serve them once saved."""
    query = ctx.request.query_params
    primary, dark = query.get("primary", ""), query.get("dark", "")
    if not (re.match(HEX_COLOR, primary) and re.match(HEX_COLOR, dark)):
        raise ServiceError(ctx.t("sie.colours_like"))
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
