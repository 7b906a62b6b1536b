"""A user's MFA factors and MFA choices: TOTP (RFC 6238), backup codes and WebAuthn
credentials, as Logto shapes them (``mfaVerifications``, ``logto_config``), kept more
safely than Logto keeps them:

- a TOTP key is sealed (AES-GCM with the server's encryption key, bound to the factor's
  id), so a copy of the database alone does not give anyone the user's codes;
- backup codes are stored only as HMACs (keyed from the encryption key) and spent by a
  guarded update, so a code works once even under parallel requests;
- a TOTP time step is accepted at most once per user (the stored step only moves forward),
  so a code seen over a shoulder cannot be replayed within its window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp
import segno

from portico.connectors.secrets import Sealer
from portico.ids import standard_id
from portico.services.errors import NotFound, ServiceError
from portico.services.sign_in_experience import MfaFactor
from portico.storage import mfa as repo
from portico.storage.database import now_ms

BACKUP_CODE_COUNT = 10
BACKUP_CODE_RE = re.compile(r"^[0-9a-f]{10}$", re.IGNORECASE)
# Logto's rule for a TOTP key given by an admin: RFC 4648 base32, upper case, up to 32
# characters, with correct padding if any. Logto takes 16 characters (80 bits); Portico
# asks for the 112 bits NIST SP 800-63B sets for a shared OTP key (23 characters or more).
TOTP_SECRET_RE = re.compile(r"^[A-Z2-7]{16,32}=*$")
TOTP_MIN_BITS = 112
TOTP_PERIOD = 30
TOTP_WINDOW = 1  # steps either side, for clocks that drift
KEY_PATH = ("key",)


STORED = (MfaFactor.TOTP, MfaFactor.WEB_AUTHN, MfaFactor.BACKUP_CODE)  # kept as rows


@dataclass(frozen=True)
class MfaKeys:
    """The keys factors are kept with, both from the server's encryption key."""

    sealer: Sealer
    code_key: bytes

    @classmethod
    def from_encryption_key(cls, key: bytes) -> MfaKeys:
        return cls(Sealer(key), hmac.new(key, b"portico mfa backup codes", "sha256").digest())

    def seal_totp(self, factor_id: str, secret: str) -> dict[str, Any]:
        return self.sealer.seal({"key": secret}, {KEY_PATH}, f"mfa:{factor_id}")

    def open_totp(self, factor_id: str, data: dict[str, Any]) -> str:
        return str(self.sealer.open(data, {KEY_PATH}, f"mfa:{factor_id}")["key"])

    def code_hash(self, code: str) -> str:
        return hmac.new(self.code_key, code.strip().lower().encode(), hashlib.sha256).hexdigest()


# TOTP -----------------------------------------------------------------------------------------
def new_totp_secret() -> str:
    """20 random bytes in base32 (32 characters), as Logto and authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def valid_totp_secret(secret: str) -> bool:
    if not TOTP_SECRET_RE.match(secret):
        return False
    padded = secret if "=" in secret else secret + "=" * (-len(secret) % 8)
    try:
        decoded = base64.b32decode(padded)  # refuses wrong padding
    except ValueError:
        return False
    return len(decoded) * 8 >= TOTP_MIN_BITS


def totp_uri(secret: str, issuer: str, label: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return pyotp.TOTP(secret, interval=TOTP_PERIOD).provisioning_uri(name=label, issuer_name=issuer)


def qr_data_url(uri: str) -> str:
    """The URI as a PNG QR code in a ``data:`` URL (Logto's ``secretQrCode``)."""
    return str(segno.make(uri, error="m").png_data_uri(scale=5, border=2))


def totp_step(secret: str, code: str, now_s: float) -> int | None:
    """The time step ``code`` belongs to, within the window around ``now_s``; None when it
    matches none. Every candidate is compared, in constant time."""
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    current = int(now_s // TOTP_PERIOD)
    found = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), code.strip().encode()[:16]):
            found = step
    return found


def display_name(user: dict[str, Any]) -> str:
    """How Logto names the user to an authenticator app."""
    phone = user.get("primary_phone")
    return str(
        user.get("name")
        or user.get("primary_email")
        or (f"+{phone}" if phone else None)
        or user.get("username")
        or "Unnamed User"
    )


# Backup codes ------------------------------------------------------------------------------
def new_backup_codes() -> list[str]:
    """Ten codes of ten lower-case hex digits (40 bits each), as Logto makes them."""
    return [secrets.token_hex(5) for _ in range(BACKUP_CODE_COUNT)]


def valid_backup_codes(codes: list[str]) -> bool:
    return len(codes) == BACKUP_CODE_COUNT and all(BACKUP_CODE_RE.match(c) for c in codes)


# Views ---------------------------------------------------------------------------------------
def iso(ms: int | None) -> str | None:
    """Logto's timestamps inside MFA data: ISO 8601 with milliseconds, UTC."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def factor_view(row: dict[str, Any]) -> dict[str, Any]:
    """A factor as Logto's Management API lists it: never a key, a code or a public key."""
    view: dict[str, Any] = {"id": row["id"], "createdAt": iso(row["created_at"])}
    if row["type"] == MfaFactor.WEB_AUTHN:
        if row.get("last_used_at"):
            view["lastUsedAt"] = iso(row["last_used_at"])
        view["type"] = row["type"]
        view["agent"] = (row.get("data") or {}).get("agent", "")
        if row.get("name"):
            view["name"] = row["name"]
        return view
    view["type"] = row["type"]
    if row["type"] == MfaFactor.BACKUP_CODE:
        view["remainCodes"] = int(row.get("remaining") or 0)
    return view


def usable_types(rows: list[dict[str, Any]]) -> list[str]:
    """The factor types a user can verify with (a set of spent backup codes is none)."""
    types: list[str] = []
    for row in rows:
        if row["type"] == MfaFactor.BACKUP_CODE and not row.get("remaining"):
            continue
        if row["type"] not in types:
            types.append(row["type"])
    return types


# Management ---------------------------------------------------------------------------------
async def factors(conn: Any, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """The user's stored factors (rows, with ``remaining`` backup codes)."""
    return await repo.list_factors(conn, tenant_id, user_id)


async def add_totp(
    conn: Any,
    tenant_id: str,
    user: dict[str, Any],
    keys: MfaKeys,
    *,
    issuer: str,
    secret: str | None = None,
) -> dict[str, str]:
    """Give the user a TOTP factor (Logto: 422 ``user.totp_already_in_use`` when they have
    one, ``user.totp_secret_invalid`` for a malformed key); the key and its QR code, once."""
    rows = await repo.list_factors(conn, tenant_id, user["id"])
    if any(r["type"] == MfaFactor.TOTP for r in rows):
        raise ServiceError(
            "The user already has a TOTP factor.", code="user.totp_already_in_use", status=422
        )
    if secret is not None and not valid_totp_secret(secret):
        raise ServiceError(
            "The TOTP secret is not valid base32.", code="user.totp_secret_invalid", status=422
        )
    secret = secret or new_totp_secret()
    await store_totp(conn, tenant_id, user["id"], secret, keys)
    uri = totp_uri(secret, issuer, display_name(user))
    return {"type": MfaFactor.TOTP, "secret": secret, "secretQrCode": qr_data_url(uri)}


async def store_totp(
    conn: Any, tenant_id: str, user_id: str, secret: str, keys: MfaKeys, step: int | None = None
) -> str:
    """Keep a TOTP key (sealed); ``step``: the time step already used to set it up, which
    the first sign-in cannot reuse."""
    factor_id = standard_id()
    await repo.insert_factor(
        conn,
        {"tenant_id": tenant_id, "id": factor_id, "user_id": user_id, "type": MfaFactor.TOTP,
         "data": keys.seal_totp(factor_id, secret), "counter": step, "created_at": now_ms()},
    )  # fmt: skip
    return factor_id


async def add_backup_codes(
    conn: Any, tenant_id: str, user_id: str, keys: MfaKeys, codes: list[str] | None = None
) -> dict[str, Any]:
    """Give the user a set of backup codes, in Logto's order of refusals (422): a set with
    unused codes exists; no other factor (a backup code is never the only one); malformed
    codes given."""
    rows = await repo.list_factors(conn, tenant_id, user_id)
    if any(r["type"] == MfaFactor.BACKUP_CODE and r["remaining"] for r in rows):
        raise ServiceError(
            "The user has unused backup codes.", code="user.backup_code_already_in_use", status=422
        )
    if not any(r["type"] != MfaFactor.BACKUP_CODE for r in rows):
        raise ServiceError("Backup codes cannot be the only factor.",
                           code="session.mfa.backup_code_can_not_be_alone", status=422)  # fmt: skip
    if codes is not None and not valid_backup_codes(codes):
        raise ServiceError(
            "Give ten codes of ten hex digits.", code="user.wrong_backup_code_format", status=422
        )
    codes = [c.lower() for c in codes] if codes is not None else new_backup_codes()
    await store_backup_codes(conn, tenant_id, user_id, codes, keys)
    return {"type": MfaFactor.BACKUP_CODE, "codes": codes}


async def store_backup_codes(
    conn: Any, tenant_id: str, user_id: str, codes: list[str], keys: MfaKeys
) -> str:
    """A new set replaces every earlier one (a regenerated set voids the old codes)."""
    await repo.delete_factors(conn, tenant_id, user_id, MfaFactor.BACKUP_CODE)
    factor_id = standard_id()
    await repo.insert_factor(
        conn,
        {"tenant_id": tenant_id, "id": factor_id, "user_id": user_id,
         "type": MfaFactor.BACKUP_CODE, "data": {}, "created_at": now_ms()},
    )  # fmt: skip
    await repo.insert_backup_codes(conn, factor_id, [keys.code_hash(c) for c in codes])
    return factor_id


async def remove(conn: Any, tenant_id: str, user_id: str, factor_id: str) -> None:
    if not await repo.delete_factor(conn, tenant_id, user_id, factor_id):
        raise ServiceError(
            "The MFA verification does not exist.", code="entity.not_found", status=404
        )


async def organization_requires(conn: Any, tenant_id: str, user_id: str) -> bool:
    """One of the user's organizations requires MFA."""
    return await repo.organization_requires(conn, tenant_id, user_id)


async def backup_codes_left(engine: Any, tenant_id: str, user_id: str) -> int:
    """How many of the user's backup codes are unused."""
    async with engine.connect() as conn:
        rows = await repo.list_factors(conn, tenant_id, user_id)
    return sum(int(r["remaining"] or 0) for r in rows if r["type"] == MfaFactor.BACKUP_CODE)


# Use ---------------------------------------------------------------------------------------
async def use_totp(
    conn: Any, tenant_id: str, user_id: str, code: str, keys: MfaKeys, now: int | None = None
) -> bool:
    """True when ``code`` is the user's current TOTP and its time step was not used before
    (the step is recorded by a guarded update, so a replay loses even in parallel)."""
    now = now if now is not None else now_ms()
    for row in await repo.list_factors(conn, tenant_id, user_id):
        if row["type"] != MfaFactor.TOTP:
            continue
        step = totp_step(keys.open_totp(row["id"], row["data"]), code, now / 1000)
        return step is not None and await repo.advance_counter(conn, row["id"], step, now)
    return False


async def use_backup_code(
    conn: Any, tenant_id: str, user_id: str, code: str, keys: MfaKeys, now: int | None = None
) -> bool:
    """True once for each of the user's unused backup codes."""
    now = now if now is not None else now_ms()
    for row in await repo.list_factors(conn, tenant_id, user_id):
        if row["type"] == MfaFactor.BACKUP_CODE:
            return await repo.spend_backup_code(conn, row["id"], keys.code_hash(code), now)
    return False


# The user's choices (``logto_config``) --------------------------------------------------------
CONFIG_FIELDS = {"mfa": ("enabled", "skipped", "skipMfaOnSignIn"), "passkeySignIn": ("skipped",)}
STORED_KEYS = {"mfa": "mfa", "passkeySignIn": "passkey_sign_in"}


def config_view(stored: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``logto-configs`` answer: ``mfa.enabled`` only when set, the rest false by
    default."""
    mfa = stored.get("mfa") or {}
    view_mfa: dict[str, Any] = {}
    if mfa.get("enabled") is not None:
        view_mfa["enabled"] = bool(mfa["enabled"])
    view_mfa["skipped"] = bool(mfa.get("skipped"))
    view_mfa["skipMfaOnSignIn"] = bool(mfa.get("skipMfaOnSignIn"))
    passkey = stored.get("passkey_sign_in") or {}
    return {"mfa": view_mfa, "passkeySignIn": {"skipped": bool(passkey.get("skipped"))}}


async def read_config(conn: Any, tenant_id: str, user_id: str) -> dict[str, Any]:
    stored = await repo.read_config(conn, tenant_id, user_id)
    if stored is None:
        raise NotFound("user", user_id)
    return stored


async def record_choices(
    conn: Any, tenant_id: str, user_id: str, choices: Mapping[str, bool | None]
) -> dict[str, Any]:
    """Merge MFA choices (``enabled``, ``skipped``, ``skipMfaOnSignIn``,
    ``additionalBindingSuggestionSkipped``) into ``logto_config.mfa``; a None removes the
    member ("not chosen yet", an admin's reset). The stored config after."""
    stored = await read_config(conn, tenant_id, user_id)
    merged = dict(stored.get("mfa") or {})
    for name, value in choices.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if merged:
        stored["mfa"] = merged
    else:
        stored.pop("mfa", None)
    await repo.write_config(conn, tenant_id, user_id, stored)
    return stored


async def record_passkey_skipped(conn: Any, tenant_id: str, user_id: str) -> None:
    stored = await read_config(conn, tenant_id, user_id)
    stored["passkey_sign_in"] = {**(stored.get("passkey_sign_in") or {}), "skipped": True}
    await repo.write_config(conn, tenant_id, user_id, stored)


async def patch_config(
    conn: Any, tenant_id: str, user_id: str, patch: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Merge the given fields (Logto's: ``mfa.enabled``, ``mfa.skipped``,
    ``mfa.skipMfaOnSignIn``, ``passkeySignIn.skipped``); others are left alone."""
    stored = await read_config(conn, tenant_id, user_id)
    for section, fields in CONFIG_FIELDS.items():
        given = patch.get(section) or {}
        key = STORED_KEYS[section]
        merged = dict(stored.get(key) or {})
        merged.update({k: v for k, v in given.items() if k in fields and v is not None})
        if merged:
            stored[key] = merged
    await repo.write_config(conn, tenant_id, user_id, stored)
    return stored
