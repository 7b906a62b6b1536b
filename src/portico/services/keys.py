"""Signing keys: EC P-384 by default, ``kid`` = RFC 7638 thumbprint, rotation-ready.

Keys are stored as Logto stores them (``logto_configs`` key ``oidc.privateKeys``: a list of
``{id, value: PKCS#8 PEM, createdAt, status?}``) so that a Logto key set imports unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey

from portico.ids import standard_secret

_EC_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
PRIVATE_KEYS = "oidc.privateKeys"
COOKIE_KEYS = "oidc.cookieKeys"


def new_private_key_entry(kind: str = "EC") -> dict[str, Any]:
    key = ECKey.generate_key("P-384") if kind == "EC" else RSAKey.generate_key(4096)
    pem = key.as_pem(private=True).decode()
    return {"id": key.thumbprint(), "value": pem, "createdAt": int(time.time())}


def new_cookie_key_entry() -> dict[str, Any]:
    return {"id": standard_secret(), "value": standard_secret(), "createdAt": int(time.time())}


def _import(pem: str) -> ECKey | RSAKey:
    try:
        return ECKey.import_key(pem)
    except Exception:  # not EC: Logto also allows RSA keys
        return RSAKey.import_key(pem)


def _alg_of(key: ECKey | RSAKey) -> str:
    if isinstance(key, ECKey):
        return _EC_ALG[key.curve_name]
    return "RS256"


@dataclass(frozen=True)
class KeyRing:
    """The signing key in use and every key still published for verification."""

    signing_key: ECKey | RSAKey
    kid: str
    alg: str
    verification_keys: KeySet
    jwks: dict[str, Any]
    algorithms: tuple[str, ...]


def load_keyring(entries: list[dict[str, Any]]) -> KeyRing:
    """Build the ring; the ``Current`` key signs (else the first), all are published."""
    if not entries:
        raise ValueError("no signing keys configured")
    current = next((e for e in entries if e.get("status") == "Current"), entries[0])
    public: list[dict[str, str]] = []
    keys: list[ECKey | RSAKey] = []
    signing = None
    for entry in entries:
        key = _import(entry["value"])
        kid = key.thumbprint()
        alg = _alg_of(key)
        key = type(key).import_key(key.as_dict(private=True), {"kid": kid, "alg": alg})
        keys.append(key)
        # Every member a string: the Go SDK decodes JWKS keys into map[string]string.
        public.append({**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"})
        if entry is current:
            signing = key
    assert signing is not None
    algorithms = tuple(sorted({_alg_of(k) for k in keys}))
    return KeyRing(
        signing_key=signing,
        kid=signing.kid or signing.thumbprint(),
        alg=_alg_of(signing),
        verification_keys=KeySet(keys),
        jwks={"keys": public},
        algorithms=algorithms,
    )
