"""The end of an interaction: carry out :func:`next_step` (create the account, store the
collected profile, link the provider identity), sign the user in, or store a reset
password. Pages and the Experience API end here, so both apply the same rules and write
the same audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.experience import accounts, devices, mfa
from portico.experience.answers import StepError
from portico.experience.interaction import Event
from portico.experience.next_step import (
    BindMfa,
    CreateAccount,
    Finish,
    Fulfil,
    Refuse,
    Step,
    VerifyMfa,
    next_step,
)
from portico.experience.profile import provider_profile, social_identity
from portico.experience.sentinel import account_target
from portico.protocol import acr
from portico.protocol import sessions as sessions_mod
from portico.services import identities, organization_jit, sso_connectors, webauthn, webhook_events
from portico.services import mfa as mfa_service
from portico.services import users as user_service
from portico.services.webauthn import Credential

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from portico.experience.turn import Turn


Pending = Fulfil | VerifyMfa | BindMfa


async def conclude(turn: Turn) -> str | Pending:
    """The user this interaction ends with, created or updated; or what it still needs
    from the user (a profile field, a second factor, a factor to bind). An account made
    here is created first and the rest asked of it after (as Logto: sign-up creates the
    account, then MFA binding is prompted)."""
    while True:
        step = await current_step(turn)
        if isinstance(step, Fulfil | VerifyMfa | BindMfa):
            return step
        if isinstance(step, Refuse):
            if step.reset:
                turn.reset()
            raise step.error
        if isinstance(step, CreateAccount):
            await _create(turn, step)
            continue
        return await _update(turn, step)


async def current_step(turn: Turn) -> Step:
    """:func:`next_step` for the interaction as it stands (the account and its MFA read
    here), without carrying it out: what a page may show."""
    state = turn.state
    user = None
    if state.user_id:
        user = await accounts.account(turn.engine, turn.tenant, state.user_id)
    user_mfa = await mfa.load(turn, user) if user else None
    step_up = acr.wants_mfa(turn.interaction.get("request", {}).get("acr_values") or [])
    trusted = False
    if user is not None and user_mfa is not None:
        trusted = await devices.trusted(turn, str(user["id"]), user_mfa)
    return next_step(state, turn.sie, user, social_identity(turn), user_mfa, step_up, trusted)


async def _create(turn: Turn, step: CreateAccount) -> str:
    state, profile = turn.state, turn.state.profile
    try:
        async with turn.engine.begin() as conn:
            user = await user_service.create_user(
                conn,
                turn.tenant,
                username=profile.get("username"),
                email=profile.get("email"),
                phone=profile.get("phone"),
                name=profile.get("name"),
                avatar=profile.get("avatar"),
            )
            if profile.get("passwordEncrypted"):
                await _store_password(conn, turn.tenant, user["id"], profile)
            if step.link:
                await _link(conn, turn.tenant, user["id"], step.link)
            if state.sso:
                await _link_sso(conn, turn, str(user["id"]), state.sso, created=True)
            await organization_jit.provision(conn, turn.tenant, str(user["id"]))
            await webhook_events.emit_user_created(
                conn, turn.tenant, str(user["id"]), interaction_event=state.event.value,
                session_id=turn.jti, ip=turn.origin.ip, user_agent=turn.origin.user_agent,
            )  # fmt: skip
    except user_service.InvalidUser:
        raise StepError("error.identifier_taken", 409) from None
    state.user_id, state.created, state.profile = str(user["id"]), True, {}
    return str(user["id"])


async def _update(turn: Turn, step: Finish) -> str:
    choices = _mfa_choices(turn)
    pending = mfa.bound(turn.state) or turn.state.mfa.passkey_skipped
    sso = turn.state.sso if not turn.state.created else None
    if step.profile or step.link or choices or pending or sso:
        try:
            async with turn.engine.begin() as conn:
                await _apply_profile(conn, turn.tenant, step.user_id, step.profile)
                if step.link:
                    await _link(conn, turn.tenant, step.user_id, step.link)
                if sso:
                    await _link_sso(conn, turn, step.user_id, sso, created=False)
                await _store_mfa(conn, turn, step.user_id, choices)
        except user_service.InvalidUser:  # taken by someone else since it was verified
            raise StepError("error.identifier_taken", 409) from None
        turn.state.profile = {}
    return step.user_id


def _mfa_choices(turn: Turn) -> dict[str, bool]:
    """What the user chose about MFA here, as ``logto_config.mfa`` keeps it; binding a
    factor turns MFA on."""
    state = turn.state.mfa
    choices: dict[str, bool] = {}
    factors = [f for f in mfa.bound(turn.state) if f != "WebAuthn" or state.enabled]
    if state.enabled is not None or factors:
        choices["enabled"] = bool(state.enabled) or bool(factors)
    if state.skipped:
        choices["skipped"] = True
    if state.suggestion_skipped:
        choices["additionalBindingSuggestionSkipped"] = True
    return choices


async def _store_mfa(
    conn: AsyncConnection, turn: Turn, user_id: str, choices: dict[str, bool]
) -> None:
    """Store the factors bound here (their secrets then leave the interaction) and the
    user's MFA choices."""
    state, keys = turn.state.mfa, turn.mfa_keys
    if state.totp:
        await mfa_service.store_totp(
            conn, turn.tenant, user_id, state.totp, keys, step=state.totp_step
        )
        await turn.audit("Interaction.Mfa.Totp.Bind", user_id=user_id, conn=conn)
    if state.backup_codes:
        await mfa_service.store_backup_codes(conn, turn.tenant, user_id, state.backup_codes, keys)
        await turn.audit("Interaction.Mfa.BackupCode.Bind", user_id=user_id, conn=conn)
    for credential in state.web_authn:
        await webauthn.store(
            conn, turn.tenant, user_id, Credential.from_json(credential),
            agent=turn.origin.user_agent or "", name=credential.get("name"),
        )  # fmt: skip
        await turn.audit("Interaction.Mfa.WebAuthn.Bind", user_id=user_id, conn=conn)
    if choices:
        await mfa_service.record_choices(conn, turn.tenant, user_id, choices)
    if state.passkey_skipped and turn.state.event == Event.SIGN_IN:
        # Skipped at sign-up, the invitation comes back at the first sign-in (Logto).
        await mfa_service.record_passkey_skipped(conn, turn.tenant, user_id)
    state.totp = state.totp_step = state.backup_codes = None
    state.contacts, state.web_authn = [], []


async def _store_password(
    conn: AsyncConnection, tenant: str, user_id: str, hashed: dict[str, Any]
) -> None:
    """Store a hash from ``passwords.new_password`` as the user's password."""
    await user_service.store_password_hash(
        conn, tenant, user_id, hashed["passwordEncrypted"], hashed["passwordEncryptionMethod"]
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
    synced = provider_profile(social["details"])
    if social.get("syncProfile") and synced:
        await user_service.update_user(conn, tenant, user_id, synced)


async def _link_sso(
    conn: AsyncConnection, turn: Turn, user_id: str, sso: dict[str, Any], *, created: bool
) -> None:
    """Store the enterprise SSO identity (or refresh its detail); a first link joins the
    connector's JIT organizations (Logto's ``addSsoIdentityToUser``); at a sign-in with
    ``syncProfile`` on, the provider's name and avatar replace the user's."""
    try:
        linked = await sso_connectors.link(
            conn, turn.tenant, user_id, sso["connectorId"], sso["issuer"], sso["id"],
            sso.get("detail") or {},
        )  # fmt: skip
    except sso_connectors.IdentityTaken:
        raise StepError("error.identity_taken", 409, provider=sso["connectorId"]) from None
    if linked:
        await organization_jit.provision_sso(conn, turn.tenant, user_id, sso["connectorId"])
    synced = provider_profile(sso)
    if not created and sso.get("syncProfile") and synced:
        await user_service.update_user(conn, turn.tenant, user_id, synced)


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
        await _store_password(conn, tenant, user_id, profile)


@dataclass(frozen=True)
class SignedIn:
    """The new session's handle, and a trusted-device token when the user asked to be
    remembered on this browser (each for its cookie)."""

    session: str
    device: str | None = None


async def sign_in(turn: Turn, user_id: str, old_session: str | None) -> SignedIn:
    """Signed in: a new session (ASVS 7.2.4; ``old_session`` ends), failures cleared, the
    interaction's state spent; the handles for the cookies. One transaction: a sign-in
    happens whole or not at all, and one commit instead of five was most of the page's own
    time (bench/sign_in.py)."""
    event = turn.state.event.value
    social = social_identity(turn)
    second = mfa.second_factor_amr(turn.state)
    amr = acr.with_mfa(turn.state.amr, second)
    device, factors = None, None
    if turn.state.mfa.remember and second and turn.sie.trustedDevice.enabled:
        user = await accounts.account(turn.engine, turn.tenant, user_id)
        factors = await mfa.load(turn, user) if user else None  # what the trust is bound to
    async with turn.engine.begin() as conn:
        await turn.sentinel.succeeded(turn.tenant, account_target(user_id), conn)
        await sessions_mod.end_session(turn.provider, old_session, conn)
        handle, _ = await sessions_mod.start_session(turn.provider, user_id, conn, tuple(amr))
        await accounts.record_sign_in(conn, user_id)
        await organization_jit.provision(conn, turn.tenant, user_id)  # JIT: joins at sign-in too
        await turn.audit(
            f"Interaction.{event}.Submit",
            user_id=user_id,
            conn=conn,
            **({"socialTarget": social["target"]} if social else {}),
            **({"ssoConnectorId": turn.state.sso["connectorId"]} if turn.state.sso else {}),
        )
        if factors is not None:
            device = await devices.remember(turn, user_id, factors, conn)
        await _emit(turn, conn, event, user_id)
        turn.reset()
        turn.interaction.pop("socialLink", None)
        await turn.save(conn)
    return SignedIn(handle, device)


async def reset_password(turn: Turn, user_id: str, hashed: dict[str, Any]) -> None:
    """Forgot password, last step: the new password replaces the old one, whose sessions
    and tokens end with it (ASVS 3.3.3), and the account's lockout is cleared. Nobody is
    signed in."""
    async with turn.engine.begin() as conn:
        await _store_password(conn, turn.tenant, user_id, hashed)
        await accounts.end_grants(conn, turn.tenant, user_id)
        await turn.audit("Interaction.ForgotPassword.Submit", user_id=user_id, conn=conn)
        await _emit(turn, conn, Event.FORGOT_PASSWORD.value, user_id)
    await turn.sentinel.succeeded(turn.tenant, account_target(user_id))
    turn.reset(Event.SIGN_IN)


async def _emit(turn: Turn, conn: AsyncConnection, event: str, user_id: str) -> None:
    """The interaction's webhook event (``PostSignIn``...), in the transaction that concludes
    it: sent if and only if the sign-in or reset happened."""
    await webhook_events.emit_interaction(
        conn, turn.tenant, event, user_id, session_id=turn.jti,
        application_id=turn.origin.application_id, ip=turn.origin.ip,
        user_agent=turn.origin.user_agent,
    )  # fmt: skip
