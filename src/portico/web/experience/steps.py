"""The steps every page shares: check a password, send and check a code, decide what comes
next (profile fulfilment, account creation) and finish the sign-in.

``advance`` is the one place that decides where an interaction goes after any verification:
pages record what the user proved and call it, so every path (password, code, sign-up,
transition) applies the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from portico.connectors import ConnectorError, ConnectorType
from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.codes import CodeError, Recipient
from portico.experience.identifiers import Identifier, missing
from portico.experience.interaction import Event, PendingCode
from portico.experience.sentinel import Locked, account_target, lockout_target
from portico.protocol import sessions as sessions_mod
from portico.services import identities
from portico.services import users as user_service
from portico.services.password_policy import PasswordPolicy, check_password
from portico.services.passwords import hash_password
from portico.web.experience.context import Ctx, log

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

CODE_ERRORS = {
    "verification_code.code_mismatch": "error.code_mismatch",
    "verification_code.expired": "error.code_expired",
    "verification_code.exceed_max_try": "error.code_exceed_max_try",
    "verification_code.not_found": "error.code_not_found",
    "verification_code.email_mismatch": "error.code_not_found",
    "verification_code.phone_mismatch": "error.code_not_found",
}


@dataclass(frozen=True)
class Missing:
    """What sign-up still requires (see :func:`portico.experience.identifiers.missing`)."""

    need: str


# Lockout ------------------------------------------------------------------------------------
async def owner_row(ctx: Ctx, identifier: Identifier) -> dict[str, Any] | None:
    """The user this identifier belongs to, read outside any transaction."""
    assert ctx.runtime.engine is not None
    return await accounts.owner(ctx.runtime.engine, ctx.tenant, identifier.value)


def target_of(identifier: Identifier, owner: dict[str, Any] | None) -> str:
    return lockout_target(identifier.kind, identifier.value, owner["id"] if owner else None)


async def reserve_attempt(ctx: Ctx, target: str) -> str:
    """Count this attempt as a failure before checking it, or refuse it when locked: checking
    first and counting after would let parallel guesses past the limit (see ``Sentinel``)."""
    assert ctx.runtime.sentinel is not None
    policy = ctx.sie.sentinelPolicy
    reserved = await ctx.runtime.sentinel.reserve(
        ctx.tenant, target, policy.max_attempts, policy.lockout_seconds
    )
    if isinstance(reserved, Locked):
        raise StepError("error.locked", 429, minutes=reserved.minutes_left())
    return reserved


async def check_password_of(ctx: Ctx, identifier: Identifier, password: str) -> dict[str, Any]:
    """The user when the password is right; the same generic error (and the same work)
    whether the account does not exist, is suspended or the password is wrong. Failures
    count against the account, whichever of its identifiers was typed."""
    assert ctx.runtime.engine is not None and ctx.runtime.sentinel is not None
    owner = await owner_row(ctx, identifier)
    attempt = await reserve_attempt(ctx, target_of(identifier, owner))
    user = await user_service.verify_credentials(ctx.runtime.engine, owner, password[:512])
    if user is None:
        await ctx.audit(
            "Interaction.SignIn.Verification.Password.Submit",
            error="error.invalid_credentials",
            identifier=identifier.value,
        )
        raise StepError("error.invalid_credentials", 422)  # the reserved failure stands
    await ctx.runtime.sentinel.release(attempt)
    return user


# Codes --------------------------------------------------------------------------------------
async def issue_code(ctx: Ctx, identifier: Identifier, purpose: str) -> None:
    """Send a fresh code for ``purpose`` (pages and the Experience API). The send limit per
    recipient applies before anything leaves the server."""
    runtime = ctx.runtime
    assert runtime.codes and runtime.sentinel and runtime.connectors and runtime.engine
    if not await runtime.sentinel.allow_send(ctx.tenant, identifier.value):
        raise StepError("error.too_many_codes", 429)
    code = await runtime.codes.issue(
        ctx.tenant,
        ctx.jti,
        Recipient(identifier.kind, identifier.value),
        purpose,
        ctx.sie.verificationCodePolicy.ttl,
    )
    kind = ConnectorType.Email if identifier.kind == "email" else ConnectorType.Sms
    payload = {
        "code": code,
        "locale": ctx.t("meta.lang_tag"),
        "uiLocales": ctx.ui_locales or "",
        "application": {"id": ctx.client.id, "name": ctx.client.name} if ctx.client else {},
    }
    if purpose == "ForgotPassword":
        # A reset code goes only to an address an account uses, or anyone could make this
        # server mail or text any address. The answer must not tell the two apart: the code
        # is stored (so a guess fails exactly as it would for an account) and the message
        # leaves after the response, so neither its presence nor its time shows.
        if await accounts.owner(runtime.engine, ctx.tenant, identifier.value):
            runtime.spawn(_send_later(ctx, kind, identifier.value, purpose, payload))
        return
    try:
        await runtime.connectors.send_message(ctx.tenant, kind, identifier.value, purpose, payload)
    except ConnectorError as error:
        log.warning("sending a %s code failed: %s", purpose, error.admin_message)
        key = "error.no_connector" if error.code == "connector.not_found" else "error.send_failed"
        raise StepError(key, 503) from None


async def _send_later(
    ctx: Ctx, kind: ConnectorType, to: str, purpose: str, payload: dict[str, Any]
) -> None:
    assert ctx.runtime.connectors is not None
    try:
        await ctx.runtime.connectors.send_message(ctx.tenant, kind, to, purpose, payload)
    except Exception as error:  # after the response: the log is the only place to tell
        reason = error.admin_message if isinstance(error, ConnectorError) else type(error).__name__
        log.warning("sending a %s code failed: %s", purpose, reason)


async def send_code(ctx: Ctx, identifier: Identifier, purpose: str, *, bind: bool = False) -> None:
    """:func:`issue_code`, remembering what the code page verifies next."""
    await issue_code(ctx, identifier, purpose)
    ctx.exp.pending = PendingCode(identifier, purpose, bind)
    await ctx.save()


async def check_code(ctx: Ctx, identifier: Identifier, purpose: str, code: str) -> None:
    runtime = ctx.runtime
    assert runtime.codes and runtime.sentinel
    target = target_of(identifier, await owner_row(ctx, identifier))
    attempt = await reserve_attempt(ctx, target) if purpose == "SignIn" else None
    try:
        await runtime.codes.verify(
            ctx.tenant,
            ctx.jti,
            Recipient(identifier.kind, identifier.value),
            purpose,
            code[:32],
            ctx.sie.verificationCodePolicy.max_attempts,
        )
    except CodeError as error:
        mismatch = error.code == "verification_code.code_mismatch"
        if attempt and not mismatch:
            await runtime.sentinel.release(attempt)  # not a guess (expired, used up, ...)
        elif mismatch and not attempt:
            await runtime.sentinel.failed(ctx.tenant, target)
        event = ctx.exp.event.value
        kind = "Email" if identifier.kind == "email" else "Phone"
        await ctx.audit(
            f"Interaction.{event}.Verification.{kind}VerificationCode.Submit",
            error=error.code,
            identifier=identifier.value,
        )
        raise StepError(CODE_ERRORS.get(error.code, "error.code_not_found")) from None
    if attempt:
        await runtime.sentinel.release(attempt)


# Passwords ----------------------------------------------------------------------------------
async def new_password(
    ctx: Ctx, password: str, confirm: str, user_info: dict[str, Any]
) -> dict[str, Any]:
    """Check a new password against the policy; ``user_info`` uses the users row keys
    (``username``, ``name``, ``primary_email``, ``primary_phone``)."""
    if password != confirm:
        raise StepError("error.passwords_differ")
    policy = PasswordPolicy.from_config(ctx.sie.passwordPolicy)
    rejections = check_password(password, policy, user_info)
    if rejections:
        first = rejections[0]
        raise StepError(first.code, **first.data)
    encrypted, method = await hash_password(password)
    return {"passwordEncrypted": encrypted, "passwordEncryptionMethod": method}


# What comes next ----------------------------------------------------------------------------
def have(
    profile: dict[str, Any], user: dict[str, Any] | None, social: bool = False
) -> dict[str, Any]:
    """What the user has (stored) or has given in this interaction, in the terms of
    :func:`portico.experience.identifiers.missing`. A social identity stands in for a
    password (as in Logto): such users sign in through their provider."""
    stored = user or {}
    return {
        "username": stored.get("username") or profile.get("username"),
        "email": stored.get("primary_email") or profile.get("email"),
        "phone": stored.get("primary_phone") or profile.get("phone"),
        "password": bool(
            stored.get("password_encrypted")
            or profile.get("passwordEncrypted")
            or stored.get("identities")
            or social
        ),
    }


def still_missing(ctx: Ctx, user: dict[str, Any] | None) -> str | None:
    """What sign-up still requires of this interaction's user (``user`` when signing in to
    an existing account); social sign-ups may skip identifiers (``skipRequiredIdentifiers``)."""
    exp = ctx.exp
    social = social_identity(ctx)
    if social and exp.event == Event.REGISTER and ctx.sie.socialSignIn.skipRequiredIdentifiers:
        return None
    return missing(ctx.sie, have(exp.profile, user, social=social is not None))


def social_identity(ctx: Ctx) -> dict[str, Any] | None:
    """The provider identity this interaction will link: proven by a social callback
    (``exp.social``), or waiting for the user to sign in to the account it belongs with."""
    if found := ctx.exp.social:
        return found
    link = ctx.interaction.get("socialLink")
    if link and ctx.exp.event == Event.SIGN_IN:
        return link["identity"]  # type: ignore[no-any-return]
    return None


def _fulfil_path(need: str) -> str:
    return "/password" if need == "password" else "/continue"


async def conclude(ctx: Ctx) -> str | Missing:
    """The user this interaction ends with, creating or updating it, or what sign-up still
    requires (profile fulfilment). Pages (:func:`advance`) and the Experience API (``submit``)
    share it, so both apply the same rules."""
    runtime = ctx.runtime
    assert runtime.engine is not None
    exp = ctx.exp
    profile = exp.profile
    social = social_identity(ctx)
    if exp.event == Event.REGISTER and not exp.user_id:
        if need := still_missing(ctx, None):
            return Missing(need)
        try:
            async with runtime.engine.begin() as conn:
                user = await user_service.create_user(
                    conn,
                    ctx.tenant,
                    username=profile.get("username"),
                    email=profile.get("email"),
                    phone=profile.get("phone"),
                    name=profile.get("name"),
                    avatar=profile.get("avatar"),
                )
                if profile.get("passwordEncrypted"):
                    await set_password(conn, ctx.tenant, user["id"], profile)
                if social:
                    await _link(conn, ctx.tenant, user["id"], social)
        except user_service.InvalidUser:
            raise StepError("error.identifier_taken", 409) from None
        exp.user_id, exp.created, exp.profile = user["id"], True, {}
        return str(user["id"])
    user_id = exp.user_id
    if not user_id:
        raise StepError("error.not_identified", 404)
    user = await accounts.account(runtime.engine, ctx.tenant, user_id)
    if user is None:
        ctx.reset()
        raise StepError("error.invalid_credentials", 422)
    if user["is_suspended"]:
        # Reached only once the user proved the account theirs (a code, a provider): a
        # password sign-in refuses a suspended account as a wrong password, giving no oracle.
        ctx.reset()
        raise StepError("error.suspended", 401)
    if need := still_missing(ctx, user):
        return Missing(need)
    link = social if social and not exp.created else None
    if profile or link:
        try:
            async with runtime.engine.begin() as conn:
                await _apply_profile(conn, ctx.tenant, user_id, profile)
                if link:
                    await _link(conn, ctx.tenant, user_id, link)
        except user_service.InvalidUser:  # taken by someone else since it was verified
            raise StepError("error.identifier_taken", 409) from None
    return str(user_id)


async def advance(ctx: Ctx) -> Response:
    """After any page's step: ask for what is still missing, or finish."""
    if ctx.exp.event != Event.REGISTER and not ctx.exp.user_id:
        return ctx.go("/sign-in")
    concluded = await conclude(ctx)
    if isinstance(concluded, Missing):
        await ctx.save()
        return ctx.go(_fulfil_path(concluded.need))
    return await finish(ctx, concluded)


async def set_password(
    conn: AsyncConnection, tenant: str, user_id: str, profile: dict[str, Any]
) -> None:
    """Store the hash in ``profile`` (from :func:`new_password`) as the user's password."""
    await user_service.store_password_hash(
        conn, tenant, user_id, profile["passwordEncrypted"], profile["passwordEncryptionMethod"]
    )


async def _link(conn: AsyncConnection, tenant: str, user_id: str, social: dict[str, Any]) -> None:
    """Attach the provider identity to the user (or refresh its details); with the
    connector's ``syncProfile`` on, the provider's name and avatar replace the user's."""
    try:
        await identities.link(
            conn, tenant, user_id, social["target"], social["id"], social["details"]
        )
    except identities.IdentityTaken:
        raise StepError("error.identity_taken", 409, provider=social["provider"]) from None
    details = social["details"]
    synced = provider_profile(details)
    if social.get("syncProfile") and synced:
        await user_service.update_user(conn, tenant, user_id, synced)


def provider_profile(source: dict[str, Any]) -> dict[str, Any]:
    """The name and avatar a provider gave, cut to what the users table holds."""
    profile: dict[str, Any] = {}
    if source.get("name"):
        profile["name"] = source["name"][:128]  # the column's size; providers allow more
    if source.get("avatar") and len(source["avatar"]) <= 2048:
        profile["avatar"] = source["avatar"]
    return profile


async def _apply_profile(
    conn: AsyncConnection, tenant: str, user_id: str, profile: dict[str, Any]
) -> None:
    """Store what the interaction collected (identifiers verified here, a new password)."""
    values = {
        column: profile[key]
        for key, column in (
            ("username", "username"),
            ("email", "primary_email"),
            ("phone", "primary_phone"),
        )
        if profile.get(key)
    }
    if values:
        await user_service.update_user(conn, tenant, user_id, values)
    if profile.get("passwordEncrypted"):
        await set_password(conn, tenant, user_id, profile)


async def sign_in(ctx: Ctx, user_id: str) -> str:
    """Signed in: a new session (ASVS 7.2.4), failures cleared, the interaction's state
    spent; the new session handle for the cookie."""
    runtime = ctx.runtime
    assert runtime.engine is not None and runtime.sentinel is not None
    event = ctx.exp.event.value
    social = social_identity(ctx)
    old_session = ctx.request.cookies.get(runtime.session_cookie)
    # One transaction: a sign-in happens whole or not at all, and one commit instead of five
    # was most of the page's own time (bench/sign_in.py).
    async with runtime.engine.begin() as conn:
        await runtime.sentinel.succeeded(ctx.tenant, account_target(user_id), conn)
        await sessions_mod.end_session(ctx.provider, old_session, conn)
        handle, _ = await sessions_mod.start_session(ctx.provider, user_id, conn)
        await accounts.record_sign_in(conn, user_id)
        await ctx.audit(
            f"Interaction.{event}.Submit",
            user_id=user_id,
            conn=conn,
            **({"socialTarget": social["target"]} if social else {}),
        )
        ctx.reset()
        ctx.interaction.pop("socialLink", None)
        await ctx.save(conn)
    return handle


async def finish(ctx: Ctx, user_id: str) -> Response:
    """:func:`sign_in`, then back to /oidc/auth with the new session cookie."""
    handle = await sign_in(ctx, user_id)
    response = ctx.go(f"/oidc/auth/{ctx.uid}")
    ctx.runtime.set_cookie(response, ctx.runtime.session_cookie, handle, sessions_mod.SESSION_TTL)
    return response


async def reset_password(ctx: Ctx, user_id: str, hashed: dict[str, Any]) -> None:
    """Forgot password, last step: the new password replaces the old one, whose sessions
    and tokens end with it (ASVS 3.3.3), and the account's lockout is cleared."""
    runtime = ctx.runtime
    assert runtime.engine is not None and runtime.sentinel is not None
    async with runtime.engine.begin() as conn:
        await set_password(conn, ctx.tenant, user_id, hashed)
        await accounts.end_grants(conn, ctx.tenant, user_id)
        await ctx.audit("Interaction.ForgotPassword.Submit", user_id=user_id, conn=conn)
    await runtime.sentinel.succeeded(ctx.tenant, account_target(user_id))
    ctx.reset("SignIn")
