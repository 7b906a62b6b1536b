"""Signing keys: EC P-384 by default, ``kid`` = RFC 7638 thumbprint, rotation-ready.

Keys are stored as Logto stores them (``logto_configs`` key ``oidc.privateKeys``: a list of
``{id, value: PKCS#8 PEM, createdAt, status?}``) so that a Logto key set imports unchanged.

An application may ask for ID tokens signed with another algorithm than the tenant key's
(``idTokenSignedResponseAlg``: ES256, RS256, EdDSA). Those keys ("companion keys", one per
algorithm, made when an application first asks for it) are kept apart, under
``portico.companionKeys``, so that Logto's list keeps its one Current key. Every key is
published in the JWKS.

Rotation (Logto #4452): a retired key stays published until every token it may have signed
has expired (``publishUntil``, from the longest token lifetime configured at the moment of
rotation), however many rotations come in between; then the next rotation drops it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_secret
from portico.services.errors import ServiceError
from portico.storage import configs

_EC_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
PRIVATE_KEYS = "oidc.privateKeys"
COOKIE_KEYS = "oidc.cookieKeys"
COMPANION_KEYS = "portico.companionKeys"
# What an application may choose for its ID tokens; the tenant key's own algorithm (ES384 by
# default, or that of an imported key) is always allowed too.
ID_TOKEN_ALGORITHMS = ("ES384", "ES256", "RS256", "EdDSA")
SigningKey = ECKey | RSAKey | OKPKey


def new_private_key_entry(kind: str = "EC") -> dict[str, Any]:
    key = ECKey.generate_key("P-384") if kind == "EC" else RSAKey.generate_key(4096)
    pem = key.as_pem(private=True).decode()
    return {"id": key.thumbprint(), "value": pem, "createdAt": int(time.time())}


def new_cookie_key_entry() -> dict[str, Any]:
    return {"id": standard_secret(), "value": standard_secret(), "createdAt": int(time.time())}


def new_companion_entry(alg: str) -> dict[str, Any]:
    key: SigningKey
    if alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519")
    elif alg == "RS256":
        key = RSAKey.generate_key(3072)
    else:
        key = ECKey.generate_key({"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg])
    pem = key.as_pem(private=True).decode()
    return {"id": key.thumbprint(), "value": pem, "createdAt": int(time.time()), "alg": alg,
            "status": "Current"}  # fmt: skip


def _import(pem: str) -> SigningKey:
    # EC or RSA (as Logto allows), or a companion's Ed25519: told apart by the PEM's key type.
    loaded = load_pem_private_key(pem.encode(), password=None)
    if isinstance(loaded, ec.EllipticCurvePrivateKey):
        return ECKey.import_key(pem)
    if isinstance(loaded, rsa.RSAPrivateKey):
        return RSAKey.import_key(pem)
    return OKPKey.import_key(pem)


def _alg_of(key: SigningKey) -> str:
    if isinstance(key, ECKey):
        return _EC_ALG[key.curve_name]
    if isinstance(key, OKPKey):
        return "EdDSA"
    return "RS256"


@dataclass(frozen=True)
class KeyRing:
    """The signing key in use and every key still published for verification;
    ``by_alg``: the Current key of each algorithm (the tenant key and companion keys)."""

    signing_key: SigningKey
    kid: str
    alg: str
    verification_keys: KeySet
    jwks: dict[str, Any]
    algorithms: tuple[str, ...]
    by_alg: dict[str, SigningKey]

    def signer(self, alg: str | None) -> tuple[SigningKey, str]:
        """The key that signs for ``alg`` and its algorithm; the tenant key when ``alg`` is
        None or has no key (yet)."""
        key = self.by_alg.get(alg or self.alg)
        if key is None:
            return self.signing_key, self.alg
        return key, alg or self.alg


def load_keyring(
    entries: list[dict[str, Any]], companions: list[dict[str, Any]] | None = None
) -> KeyRing:
    """Build the ring; the ``Current`` key signs (else the first), all are published."""
    if not entries:
        raise ValueError("no signing keys configured")
    current = next((e for e in entries if e.get("status") == "Current"), entries[0])
    public: list[dict[str, str]] = []
    keys: list[SigningKey] = []
    signing = None
    by_alg: dict[str, SigningKey] = {}
    for entry in [*entries, *(companions or [])]:
        key = _import(entry["value"])
        kid = key.thumbprint()
        alg = _alg_of(key)
        key = type(key).import_key(key.as_dict(private=True), {"kid": kid, "alg": alg})
        keys.append(key)
        # Every member a string: the Go SDK decodes JWKS keys into map[string]string.
        public.append({**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"})
        if entry is current:
            signing = key
        elif entry.get("alg") and entry.get("status") == CURRENT:
            by_alg.setdefault(alg, key)
    assert signing is not None
    by_alg[_alg_of(signing)] = signing
    algorithms = tuple(sorted({_alg_of(k) for k in keys}))
    return KeyRing(
        signing_key=signing,
        kid=signing.kid or signing.thumbprint(),
        alg=_alg_of(signing),
        verification_keys=KeySet(keys),  # type: ignore[arg-type]
        jwks={"keys": public},
        algorithms=algorithms,
        by_alg=by_alg,
    )


async def ensure_companion_key(conn: AsyncConnection, tenant_id: str, alg: str) -> bool:
    """A Current key for ``alg`` unless the tenant key or a companion already signs with
    it (an application chose ``alg`` for its ID tokens). True when one was made."""
    entries = await configs.get(conn, tenant_id, PRIVATE_KEYS) or []
    main = next((e for e in _with_status(entries) if e["status"] == CURRENT), None)
    if main is not None and _alg_of(_import(main["value"])) == alg:
        return False
    companions = list(await configs.get(conn, tenant_id, COMPANION_KEYS, for_update=True) or [])
    if any(c.get("alg") == alg and c.get("status") == CURRENT for c in companions):
        return False
    await configs.put(conn, tenant_id, COMPANION_KEYS, [*companions, new_companion_entry(alg)])
    return True


# Management API: list, rotate, delete (Logto's ``/api/configs/oidc/:keyType``) -------------
class KeyType(StrEnum):
    PRIVATE_KEYS = "private-keys"
    COOKIE_KEYS = "cookie-keys"


_CONFIG_KEY = {KeyType.PRIVATE_KEYS: PRIVATE_KEYS, KeyType.COOKIE_KEYS: COOKIE_KEYS}
CURRENT, PREVIOUS, NEXT = "Current", "Previous", "Next"


def _with_status(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Logto's reading of keys stored without ``status``: the first is Current, others
    Previous."""
    return [
        {**e, "status": e.get("status") or (CURRENT if i == 0 else PREVIOUS)}
        for i, e in enumerate(entries)
    ]


def redacted(key_type: KeyType, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the API shows: ids, dates, status and algorithm, never key material."""
    if key_type is KeyType.COOKIE_KEYS:
        return [{"id": e["id"], "createdAt": e["createdAt"]} for e in entries]
    return [
        {
            "id": e["id"],
            "createdAt": e["createdAt"],
            "status": e["status"],
            "signingKeyAlgorithm": "EC" if isinstance(_import(e["value"]), ECKey) else "RSA",
            **({"publishUntil": e["publishUntil"]} if "publishUntil" in e else {}),
        }
        for e in _with_status(entries)
    ]


async def _stored(conn: AsyncConnection, tenant_id: str, key_type: KeyType) -> list[dict[str, Any]]:
    return list(await configs.get(conn, tenant_id, _CONFIG_KEY[key_type], for_update=True) or [])


async def list_keys(
    conn: AsyncConnection, tenant_id: str, key_type: KeyType
) -> list[dict[str, Any]]:
    return redacted(key_type, await configs.get(conn, tenant_id, _CONFIG_KEY[key_type]) or [])


async def longest_token_lifetime(conn: AsyncConnection, tenant_id: str) -> int:
    """Seconds the longest-lived token signed now may stay valid: ID tokens (each
    application's ``idTokenTtl``), access tokens (each resource's TTL), logout tokens."""
    from portico.storage import applications as app_repo  # the one reader of these two
    from portico.storage import rbac as rbac_repo

    longest = DEFAULT_TOKEN_LIFETIME
    for row in await app_repo.all_client_metadata(conn, tenant_id):
        ttl = (row["custom_client_metadata"] or {}).get("idTokenTtl")
        if isinstance(ttl, int) and not isinstance(ttl, bool):
            longest = max(longest, ttl)
    access = await rbac_repo.longest_access_token_ttl(conn, tenant_id)
    return max(longest, access or 0)


DEFAULT_TOKEN_LIFETIME = 3600


def _retire(entry: dict[str, Any], publish_for: int, now: int) -> dict[str, Any]:
    return {**entry, "status": PREVIOUS, "publishUntil": now + publish_for}


def _still_needed(entry: dict[str, Any], now: int) -> bool:
    """A Previous key stays while tokens it signed may be valid. Keys retired before
    ``publishUntil`` was kept (Logto's own, imported) stay until the rotation after next."""
    until = entry.get("publishUntil")
    return isinstance(until, int) and until > now


async def rotate(
    conn: AsyncConnection, tenant_id: str, key_type: KeyType, algorithm: str = "EC"
) -> list[dict[str, Any]]:
    """A new key in front. Signing keys: the new one is Current at once; the old Current
    stays published as Previous until every token it signed has expired, as do earlier
    Previous keys whose tokens may still be valid (the ones past that go). Companion keys
    rotate with it. Cookie keys: the new one first, one older kept."""
    entries = await _stored(conn, tenant_id, key_type)
    if key_type is KeyType.COOKIE_KEYS:
        updated = [new_cookie_key_entry(), *entries][:2]
        await configs.put(conn, tenant_id, _CONFIG_KEY[key_type], updated)
        return redacted(key_type, updated)
    keyed = _with_status(entries)
    if any(e["status"] == NEXT for e in keyed):
        raise ServiceError(
            "a staged key is pending; it must be activated first",
            code="oidc.invalid_request",
            status=422,
        )
    now = int(time.time())
    publish_for = await longest_token_lifetime(conn, tenant_id)
    current = next(e for e in keyed if e["status"] == CURRENT)
    updated = [
        {**new_private_key_entry(algorithm), "status": CURRENT},
        _retire(current, publish_for, now),
        *(e for e in keyed if e["status"] == PREVIOUS and _still_needed(e, now)),
    ]
    await configs.put(conn, tenant_id, PRIVATE_KEYS, updated)
    companions = await configs.get(conn, tenant_id, COMPANION_KEYS, for_update=True) or []
    if companions:
        renewed = []
        for entry in companions:
            if entry.get("status") == CURRENT:
                renewed += [new_companion_entry(entry["alg"]), _retire(entry, publish_for, now)]
            elif _still_needed(entry, now):
                renewed.append(entry)
        await configs.put(conn, tenant_id, COMPANION_KEYS, renewed)
    return redacted(key_type, updated)


async def delete(conn: AsyncConnection, tenant_id: str, key_type: KeyType, key_id: str) -> None:
    """Remove a key; the last one stays, and only a Previous signing key may go."""
    entries = await _stored(conn, tenant_id, key_type)
    if len(entries) <= 1:
        raise ServiceError("at least one key must remain", code="oidc.key_required", status=422)
    keyed = _with_status(entries) if key_type is KeyType.PRIVATE_KEYS else entries
    target = next((e for e in keyed if e["id"] == key_id), None)
    if target is None:
        raise ServiceError(f"no key with ID `{key_id}`", code="oidc.key_not_found", status=404)
    if key_type is KeyType.PRIVATE_KEYS and target["status"] != PREVIOUS:
        raise ServiceError(
            "only a Previous signing key can be deleted",
            code="oidc.only_previous_key_can_be_deleted",
            status=422,
        )
    await configs.put(conn, tenant_id, _CONFIG_KEY[key_type], [e for e in keyed if e is not target])
