"""The Logto Go SDK (``github.com/logto-io/go/v2``, ``client`` + ``core`` packages, read at
commit a4f1d800) re-enacted in Python, request for request, for test_client_go_sdk_shape.py.

Go cannot fetch modules on these machines, so the SDK cannot run here; this module makes the
same HTTP requests in the same shape and applies the same checks to the answers, including the
ones Go's ``encoding/json`` imposes by decoding into typed structs (a JSON array where the
struct has a ``string`` fails, a number with a fraction cannot fill an ``int64``, JWKS members
that are not strings cannot fill ``map[string]string``). Each method names its Go original.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlsplit

import httpx
from joserfc import jws
from joserfc.jwk import KeySet

DEFAULT_SCOPES = ("openid", "offline_access", "profile")  # core.DefaultScopes
SCOPE_ORGANIZATIONS = "urn:logto:scope:organizations"
RESOURCE_ORGANIZATIONS = "urn:logto:resource:organizations"
ISSUED_AT_RESTRICTIONS = 60  # core.ISSUED_AT_RESTRICTIONS, seconds
GO_USER_AGENT = "Go-http-client/1.1"
EC_COORDINATE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}

# Storage keys (client/constants.go).
SIGN_IN_SESSION = "logto_sign_in_session"
REFRESH_TOKEN = "logto_refresh_token"
ID_TOKEN = "logto_id_token"
ACCESS_TOKEN_MAP = "logto_access_token_map"


class GoSdkError(Exception):
    """What the Go SDK would return as ``error``."""


# --- encoding/json into the SDK's structs (core/type.go, core/fetch_jwks.go) ---------------

STRING, INT, BOOL, STRINGS, OBJECT = "string", "int64", "bool", "[]string", "map"
OIDC_CONFIG = dict.fromkeys(
    (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
        "revocation_endpoint",
        "jwks_uri",
        "issuer",
    ),
    STRING,
)
TOKEN_RESPONSE = {
    "access_token": STRING,
    "refresh_token": STRING,
    "id_token": STRING,
    "scope": STRING,
    "expires_in": INT,
}
ID_TOKEN_CLAIMS = {
    **dict.fromkeys(("iss", "sub", "aud", "at_hash", "name", "username", "picture"), STRING),
    **dict.fromkeys(("email", "phone_number"), STRING),
    **dict.fromkeys(("exp", "iat"), INT),
    **dict.fromkeys(("email_verified", "phone_number_verified"), BOOL),
    **dict.fromkeys(("roles", "organizations", "organization_roles"), STRINGS),
}
ORGANIZATION = dict.fromkeys(("id", "name", "description"), STRING)
USER_INFO = {
    **dict.fromkeys(("sub", "name", "username", "picture", "email", "phone_number"), STRING),
    **dict.fromkeys(("email_verified", "phone_number_verified"), BOOL),
    **dict.fromkeys(("custom_data", "identities"), OBJECT),
    **dict.fromkeys(("roles", "organizations", "organization_roles"), STRINGS),
    "organization_data": [ORGANIZATION],
}


def _fits(value: Any, go_type: Any) -> bool:
    if value is None:  # JSON null leaves a Go field at its zero value
        return True
    if isinstance(go_type, list):
        return isinstance(value, list) and all(_fits_struct(v, go_type[0]) for v in value)
    if go_type == STRING:
        return isinstance(value, str)
    if go_type == INT:  # a JSON number with a fraction or exponent does not fit an int
        return isinstance(value, int) and not isinstance(value, bool)
    if go_type == BOOL:
        return isinstance(value, bool)
    if go_type == STRINGS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if go_type == OBJECT:
        return isinstance(value, dict)
    raise AssertionError(go_type)


def _fits_struct(value: Any, struct: dict[str, Any]) -> bool:
    return isinstance(value, dict) and all(
        _fits(value.get(name), go_type) for name, go_type in struct.items()
    )


def go_unmarshal(body: Any, struct: dict[str, Any], name: str) -> dict[str, Any]:
    """``json.Unmarshal(body, &name{})``: the struct's fields, or the error Go would return."""
    if not isinstance(body, dict):
        raise GoSdkError(f"json: cannot unmarshal {type(body).__name__} into Go value of {name}")
    for field_name, go_type in struct.items():
        if not _fits(body.get(field_name), go_type):
            raise GoSdkError(
                f"json: cannot unmarshal {json.dumps(body[field_name])} into Go struct field "
                f"{name}.{field_name} of type {go_type}"
            )
    return {k: body.get(k) for k in struct}


def _parse(response: httpx.Response, struct: dict[str, Any], name: str) -> dict[str, Any]:
    """core.parseDataFromResponse: anything but 200 is an error."""
    if response.status_code != 200:
        raise GoSdkError(
            f"unexpected status code: {response.status_code}, response body: {response.text}"
        )
    return go_unmarshal(response.json(), struct, name)


# --- url.Values.Encode + url.QueryUnescape -------------------------------------------------


def values_encode(pairs: list[tuple[str, str]]) -> str:
    """``url.Values.Encode``: sorted by key (stable within a key), QueryEscape'd."""
    ordered = sorted(pairs, key=lambda kv: kv[0])
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in ordered)


def unescaped(pairs: list[tuple[str, str]]) -> str:
    """What core.GenerateSignInUri/GenerateSignOutUri put after ``?``: the encoded query run
    through ``url.QueryUnescape``, so spaces, ``:`` and ``/`` appear raw."""
    return unquote_plus(values_encode(pairs))


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _random() -> str:
    """core.generateRandomString(64): base64url of 64 random bytes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- the client package ----------------------------------------------------------------------


@dataclass
class GoLogtoClient:
    """client.LogtoClient with a map as its ``Storage``; ``http`` records what it sends."""

    endpoint: str
    app_id: str
    app_secret: str
    storage: dict[str, str]
    scopes: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    prompt: str = ""
    sent: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        # LogtoConfig.normalized
        for scope in DEFAULT_SCOPES:
            if scope not in self.scopes:
                self.scopes.append(scope)
        if SCOPE_ORGANIZATIONS in self.scopes and RESOURCE_ORGANIZATIONS not in self.resources:
            self.resources.append(RESOURCE_ORGANIZATIONS)
        self.http = httpx.Client(
            timeout=30,
            headers={"User-Agent": GO_USER_AGENT},
            event_hooks={"request": [self.sent.append]},
        )

    # storage helpers (client/client.go)
    def _get(self, key: str) -> str:
        return self.storage.get(key, "")

    def _set(self, key: str, value: str) -> None:
        self.storage[key] = value

    def _access_token_map(self) -> dict[str, dict[str, Any]]:
        raw = self._get(ACCESS_TOKEN_MAP)
        return json.loads(raw) if raw else {}

    def is_authenticated(self) -> bool:
        return self._get(ID_TOKEN) != ""

    def fetch_oidc_config(self) -> dict[str, Any]:
        """client.fetchOidcConfig: discovery on every operation."""
        url = self.endpoint.rstrip("/") + "/oidc/.well-known/openid-configuration"
        return _parse(self.http.get(url), OIDC_CONFIG, "core.OidcConfigResponse")

    def sign_in(self, redirect_uri: str) -> str:
        """client.SignInWithRedirectUri -> core.GenerateSignInUri."""
        config = self.fetch_oidc_config()
        verifier = _random()
        challenge = _challenge(verifier)
        state = _random()
        pairs = [
            ("client_id", self.app_id),
            ("redirect_uri", redirect_uri),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", state),
            ("scope", " ".join(self.scopes)),
            *(("resource", r) for r in self.resources),
            ("response_type", "code"),
            ("prompt", self.prompt or "consent"),
        ]
        session = {
            "RedirectUri": redirect_uri,
            "CodeVerifier": verifier,
            "CodeChallenge": challenge,
            "State": state,
        }
        self._set(SIGN_IN_SESSION, json.dumps(session))
        return f"{config['authorization_endpoint']}?{unescaped(pairs)}"

    def handle_sign_in_callback(self, callback_uri: str) -> None:
        """client.HandleSignInCallback; ``callback_uri`` is GetOriginRequestUrl(request)."""
        session = json.loads(self._get(SIGN_IN_SESSION))
        if not callback_uri.startswith(session["RedirectUri"]):
            raise GoSdkError("callback uri not match redirect uri")
        query = parse_qs(urlsplit(callback_uri).query)
        if "error" in query:
            raise GoSdkError(query["error"][0])
        if query.get("state", [""])[0] != session["State"]:
            raise GoSdkError("state not match")
        code = query.get("code", [""])[0]
        if not code:
            raise GoSdkError("code not found in callback uri")
        config = self.fetch_oidc_config()
        tokens = self._token_request(
            config,
            [
                ("client_id", self.app_id),
                ("redirect_uri", session["RedirectUri"]),
                ("code_verifier", session["CodeVerifier"]),
                ("code", code),
                ("grant_type", "authorization_code"),
            ],
        )
        self._set(SIGN_IN_SESSION, "")
        self._verify_and_save(config, tokens, key="@")

    def _token_request(self, config: dict[str, Any], pairs: list[tuple[str, str]]) -> dict:
        """core.FetchTokenByAuthorizationCode / FetchTokenByRefreshToken: the form, plus
        Basic authentication when there is a secret (``client_id`` stays in the form)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.app_secret:
            raw = f"{self.app_id}:{self.app_secret}".encode()  # Go's SetBasicAuth: no escaping
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        response = self.http.post(
            config["token_endpoint"], content=values_encode(pairs), headers=headers
        )
        return _parse(response, TOKEN_RESPONSE, "core.CodeTokenResponse")

    def _verify_and_save(self, config: dict[str, Any], tokens: dict, key: str) -> None:
        """client.verifyAndSaveTokenResponse."""
        if tokens["id_token"]:
            jwks = self._remote_jwks(config["jwks_uri"])
            verify_id_token(tokens["id_token"], self.app_id, config["issuer"], jwks)
            self._set(ID_TOKEN, tokens["id_token"])
        self._set(REFRESH_TOKEN, tokens["refresh_token"] or "")  # overwritten, even with ""
        token_map = self._access_token_map()
        token_map[key] = {
            "token": tokens["access_token"],
            "scope": tokens["scope"],
            "expiresAt": int(time.time()) + (tokens["expires_in"] or 0),
        }
        self._set(ACCESS_TOKEN_MAP, json.dumps(token_map))

    def _remote_jwks(self, jwks_uri: str) -> KeySet:
        """core.FetchJwks into ``[]map[string]string``, each re-marshalled into a JSONWebKey
        (go-jose also wants EC coordinates at the curve's full length, RFC 7518 §6.2.1.2)."""
        response = self.http.get(jwks_uri)
        if response.status_code != 200:
            raise GoSdkError(f"unexpected status code: {response.status_code}")
        keys = response.json().get("keys")
        for key in keys or []:
            for member, value in key.items():
                if not isinstance(value, str):
                    raise GoSdkError(
                        f"json: cannot unmarshal {json.dumps(value)} into Go struct field "
                        f"JwksResponse.keys.{member} of type string"
                    )
            if key.get("kty") == "EC":
                size = EC_COORDINATE_BYTES.get(key.get("crv", ""))
                if size is None or any(len(_b64decode(key[c])) != size for c in ("x", "y")):
                    raise GoSdkError("go-jose/go-jose: invalid EC key, wrong length for x/y")
        return KeySet.import_key_set({"keys": keys or []})

    def get_access_token(self, resource: str = "") -> dict[str, Any]:
        """client.GetAccessToken: the cached token, else the refresh-token grant."""
        return self._access_token(resource, "")

    def get_organization_token(self, organization_id: str) -> dict[str, Any]:
        """client.GetOrganizationToken: the refresh-token grant with ``organization_id``."""
        if SCOPE_ORGANIZATIONS not in self.scopes:
            raise GoSdkError("missing 'urn:logto:scope:organizations' scope")
        return self._access_token("", organization_id)

    def _access_token(self, resource: str, organization_id: str) -> dict[str, Any]:
        """client.getAccessToken (key: buildAccessTokenKey([], resource, organizationId))."""
        if not self.is_authenticated():
            raise GoSdkError("not authenticated")
        if resource and resource not in self.resources:
            raise GoSdkError("unacknowledged resource found")
        key = f"@{resource}" + (f"#{organization_id}" if organization_id else "")
        cached = self._access_token_map().get(key)
        if cached and cached["expiresAt"] > int(time.time()):
            return cached
        refresh_token = self._get(REFRESH_TOKEN)
        if not refresh_token:
            raise GoSdkError("not authenticated")
        config = self.fetch_oidc_config()
        pairs = [
            ("client_id", self.app_id),
            ("refresh_token", refresh_token),
            ("grant_type", "refresh_token"),
        ]
        if resource:
            pairs.append(("resource", resource))
        if organization_id:
            pairs.append(("organization_id", organization_id))
        tokens = self._token_request(config, pairs)
        self._verify_and_save(config, tokens, key=key)
        return self._access_token_map()[key]

    def fetch_user_info(self) -> dict[str, Any]:
        """client.FetchUserInfo -> core.FetchUserInfo (Bearer token for resource "")."""
        if not self.is_authenticated():
            raise GoSdkError("not authenticated")
        config = self.fetch_oidc_config()
        token = self.get_access_token("")["token"]
        response = self.http.get(
            config["userinfo_endpoint"], headers={"Authorization": f"Bearer {token}"}
        )
        return _parse(response, USER_INFO, "core.UserInfoResponse")

    def get_id_token_claims(self) -> dict[str, Any]:
        """client.GetIdTokenClaims -> core.DecodeIdToken (no verification)."""
        if not self.is_authenticated():
            raise GoSdkError("not authenticated")
        claims = json.loads(_b64decode(self._get(ID_TOKEN).split(".")[1]))
        return go_unmarshal(claims, ID_TOKEN_CLAIMS, "core.IdTokenClaims")

    def sign_out(self, post_logout_redirect_uri: str) -> tuple[str, httpx.Response | None]:
        """client.SignOut: clears the storage, tries to revoke the refresh token without the
        secret (the answer is ignored; returned here for the test to look at), and builds the
        end-session URL without ``id_token_hint``."""
        refresh_token = self._get(REFRESH_TOKEN)
        for key in (ACCESS_TOKEN_MAP, REFRESH_TOKEN, ID_TOKEN):
            self._set(key, "")
        config = self.fetch_oidc_config()
        revocation = None
        if refresh_token:  # core.Revoke: http.Client.PostForm, no Authorization header
            revocation = self.http.post(
                config["revocation_endpoint"],
                content=values_encode([("client_id", self.app_id), ("token", refresh_token)]),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        pairs = [("client_id", self.app_id)]
        if post_logout_redirect_uri:
            pairs.append(("post_logout_redirect_uri", post_logout_redirect_uri))
        return f"{config['end_session_endpoint']}?{unescaped(pairs)}", revocation


def verify_id_token(
    token: str, client_id: str, issuer: str, jwks: KeySet, now: int | None = None
) -> dict[str, Any]:
    """core.VerifyIdToken with go-jose v4: ``alg`` from the header (must be set), the key
    found by ``kid`` in the set, then iss, aud (a string), exp and iat within 60 s of ``now``
    (the client's clock)."""
    header = json.loads(_b64decode(token.split(".")[0]))
    alg = header.get("alg")
    if not alg:
        raise GoSdkError("alg field is missing in token header")
    candidates = [key for key in jwks.keys if key.kid == header.get("kid")]
    if not candidates:
        raise GoSdkError("go-jose/go-jose: JWK with matching kid not found in JWK Set")
    try:
        verified = jws.deserialize_compact(token, candidates[0], algorithms=[alg])
    except Exception as error:  # joserfc raises several error types
        raise GoSdkError(f"go-jose/go-jose: error in cryptographic primitive: {error}") from None
    claims = go_unmarshal(json.loads(verified.payload), ID_TOKEN_CLAIMS, "core.IdTokenClaims")
    now = int(time.time()) if now is None else now
    if claims["iss"] != issuer:
        raise GoSdkError("token issuer not match")
    if claims["aud"] != client_id:
        raise GoSdkError("token audience not match")
    if (claims["exp"] or 0) < now:
        raise GoSdkError("token expired")
    if (claims["iat"] or 0) > now + ISSUED_AT_RESTRICTIONS:
        raise GoSdkError("token issued in the future")
    if (claims["iat"] or 0) < now - ISSUED_AT_RESTRICTIONS:
        raise GoSdkError("token issued in the past")
    return claims
