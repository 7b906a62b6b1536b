"""DPoP (RFC 9449): the client proves, on every request, that it holds the private key its
tokens are bound to, so that a stolen access or refresh token is useless on its own.

A proof is a JWT the client signs with the key whose public half it carries in the header
(``typ: dpop+jwt``, an asymmetric ``alg``, ``jwk``). Checked as §4.3 lists: the signature with
that key, ``htm`` and ``htu`` naming this request, ``iat`` within a window, ``jti`` never seen
before (a replay cache shared by every process), ``ath`` the hash of the access token
presented with it, and a server nonce where one is required.

Server nonces (§8) are stateless: a MAC (the tenant's cookie keys) of a five-minute window
number, accepted for the current and the previous window. The token and PAR endpoints
require one, so that a proof cannot be made in advance and used later; a resource accepts a
proof without one.

Binding: the token endpoint checks the proof and opens :func:`binding` around the grant, so
that whatever access token the grant mints (``protocol/tokens.py``) carries ``cnf.jkt`` (the
key's RFC 7638 thumbprint) and a public client's refresh token is bound to the same key (§5).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from portico.ids import digest
from portico.protocol.errors import OAuthError
from portico.protocol.provider import Provider

PROOF_TYPE = "dpop+jwt"
# §4.2: asymmetric algorithms only; never ``none`` or a MAC.
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
              "EdDSA", "Ed25519")  # fmt: skip
MAX_PROOF = 8192
MAX_JTI = 256
IAT_PAST = 300  # seconds a proof may have been made before it arrives
IAT_FUTURE = 60  # another machine's clock ahead of ours
NONCE_WINDOW = 300
SEEN = "DPoPProof"
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


@dataclass(frozen=True)
class Proof:
    jkt: str  # RFC 7638 SHA-256 thumbprint of the proof key, base64url


def invalid_proof(description: str, status: int = 400) -> OAuthError:
    """§5.2 / §7.1: ``invalid_dpop_proof`` (at a resource: 401 with a ``DPoP`` challenge)."""
    headers = _challenge("invalid_dpop_proof", description) if status == 401 else None
    return OAuthError("invalid_dpop_proof", description, status, headers)


def _challenge(error: str, description: str) -> dict[str, str]:
    algs = " ".join(ALGORITHMS)
    return {
        "WWW-Authenticate": f'DPoP error="{error}", error_description="{description}", '
        f'algs="{algs}"'
    }


def single_header(values: list[str]) -> str | None:
    """§4.3 check 1: at most one ``DPoP`` header."""
    if not values:
        return None
    if len(values) > 1:
        raise invalid_proof("more than one DPoP header")
    return values[0]


def access_token_hash(access_token: str) -> str:
    """``ath`` (§4.2): base64url SHA-256 of the access token's ASCII."""
    raw = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def normalized_url(url: str) -> str:
    """§4.3 check 9: ``htu`` without query and fragment, scheme and host in lower case,
    default ports dropped (RFC 3986 §6.2.2-6.2.3)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    try:
        port = parts.port
    except ValueError:
        return ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


async def nonce(provider: Provider, now: float | None = None) -> str:
    """A fresh server nonce (§8), for the ``DPoP-Nonce`` header."""
    window = int((now or time.time()) // NONCE_WINDOW)
    tag = (await provider.cookie_keys()).sign(f"dpop-nonce:{window}")
    return f"{window}.{tag}"


async def _nonce_valid(provider: Provider, value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 128 or "." not in value:
        return False
    window_text, tag = value.split(".", 1)
    if not window_text.isdigit():
        return False
    window = int(window_text)
    if int(time.time() // NONCE_WINDOW) - window not in (0, 1):
        return False
    return (await provider.cookie_keys()).verify(f"dpop-nonce:{window}", tag)


async def use_nonce(provider: Provider, description: str, status: int = 400) -> OAuthError:
    """§8.1 / §9: ``use_dpop_nonce`` with a fresh ``DPoP-Nonce`` to retry with."""
    headers = {"DPoP-Nonce": await nonce(provider)}
    if status == 401:
        headers.update(_challenge("use_dpop_nonce", description))
    return OAuthError("use_dpop_nonce", description, status, headers)


async def check(
    provider: Provider,
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    require_nonce: bool = False,
    status: int = 400,
) -> Proof:
    """The proof's key if ``proof`` is valid for this request (``status``: 400 at the
    token and PAR endpoints, 401 at a resource); else ``invalid_dpop_proof`` or
    ``use_dpop_nonce``."""
    header, claims = _verified(proof, status)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI:
        raise invalid_proof("the DPoP proof has no valid jti", status)
    if claims.get("htm") != method:
        raise invalid_proof("the DPoP proof's htm does not match the request method", status)
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_url(htu) != normalized_url(url):
        raise invalid_proof("the DPoP proof's htu does not match the request URL", status)
    iat = claims.get("iat")
    now = time.time()
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise invalid_proof("the DPoP proof has no valid iat", status)
    if iat > now + IAT_FUTURE or iat < now - IAT_PAST:
        raise invalid_proof("the DPoP proof is too old or from the future (iat)", status)
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise invalid_proof("the DPoP proof's ath does not match the access token", status)
    wants_nonce = "nonce" in claims or require_nonce
    if wants_nonce and not await _nonce_valid(provider, claims.get("nonce")):
        raise await use_nonce(provider, "a fresh DPoP nonce is required", status)
    key = JWKRegistry.import_key(header["jwk"])
    jkt = key.thumbprint()
    ttl = IAT_PAST + IAT_FUTURE
    if not await provider.artifacts.save_once(SEEN, digest(f"{jkt}\n{jti}"), {}, ttl):
        raise invalid_proof("the DPoP proof was already used (jti)", status)
    return Proof(jkt)


def _verified(proof: str, status: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """§4.3 checks 2-7: a JWT of type ``dpop+jwt``, an allowed ``alg``, a public ``jwk``
    that verifies the signature."""
    if not proof or len(proof) > MAX_PROOF:
        raise invalid_proof("the DPoP proof is missing or too long", status)
    try:
        header = json.loads(_b64(proof.split(".")[0]))
        if not isinstance(header, dict):
            raise ValueError("header")
        if header.get("typ") != PROOF_TYPE:
            raise invalid_proof("the DPoP proof's typ must be dpop+jwt", status)
        alg, jwk = header.get("alg"), header.get("jwk")
        if alg not in ALGORITHMS:
            raise invalid_proof("the DPoP proof's alg is not allowed", status)
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & set(jwk):
            raise invalid_proof("the DPoP proof must carry a public jwk", status)
        key = JWKRegistry.import_key(jwk)
        verified = jws.deserialize_compact(proof, key, algorithms=[alg])
        claims = json.loads(verified.payload)
        if not isinstance(claims, dict):
            raise ValueError("claims")
    except OAuthError:
        raise
    except (JoseError, ValueError, TypeError, KeyError, IndexError):
        raise invalid_proof("the DPoP proof is not a valid signed JWT", status) from None
    return header, claims


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# -- binding tokens to the proof key ----------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    jkt: str
    bind_refresh: bool  # §5: a public client's refresh token is bound too


_binding: ContextVar[Binding | None] = ContextVar("portico_dpop_binding", default=None)


@contextlib.contextmanager
def binding(jkt: str | None, *, bind_refresh: bool) -> Iterator[None]:
    """Tokens minted inside are bound to ``jkt`` (nothing when None)."""
    token = _binding.set(Binding(jkt, bind_refresh) if jkt else None)
    try:
        yield
    finally:
        _binding.reset(token)


def current() -> Binding | None:
    return _binding.get()


def check_key_bound(jkt: Any, what: str) -> None:
    """A code or refresh token bound to a DPoP key is redeemed only with a proof of that
    key (``invalid_grant`` otherwise, as for any other mismatch of the grant)."""
    if jkt is None:
        return
    bound = _binding.get()
    if bound is None or not hmac.compare_digest(bound.jkt, str(jkt)):
        raise OAuthError("invalid_grant", f"the {what} is bound to another DPoP key")


def confirmation() -> dict[str, Any] | None:
    """The ``cnf`` claim for an access token minted now (RFC 7800 §3.1, RFC 9449 §6.1)."""
    bound = _binding.get()
    return {"jkt": bound.jkt} if bound else None
