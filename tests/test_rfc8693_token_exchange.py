"""Token exchange (RFC 8693) as Logto: subject tokens (``/api/subject-tokens``), access
tokens of first-party applications and personal access tokens traded for a user's access
token, an actor named by ``act``; against the real server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from portico.services import rbac
from tests.conftest import Api, App, User, make_app
from tests.management import error
from tests.support import Server

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
IMPERSONATION = "urn:logto:token-type:impersonation_token"
PAT = "urn:logto:token-type:personal_access_token"


@pytest.fixture
def exchanger(server: Server, admin: httpx.Client) -> App:
    """A first-party application allowed token exchange."""
    app = make_app(server, "Traditional")
    allowed = admin.patch(f"/applications/{app.id}",
                          json={"customClientMetadata": {"allowTokenExchange": True}})  # fmt: skip
    assert allowed.status_code == 200, allowed.text
    return app


def _exchange(http: httpx.Client, app: App, **params: str) -> httpx.Response:
    return http.post("/oidc/token", headers=app.basic(), data={"grant_type": GRANT, **params})


def _subject_token(admin: httpx.Client, user: User) -> str:
    created = admin.post("/subject-tokens", json={"userId": user.id, "context": {"why": "t"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["subjectToken"].startswith("sub_") and body["expiresIn"] == 600
    return str(body["subjectToken"])


def _claims(server: Server, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["ES384"]).claims)


def test_rfc8693_2_1_a_subject_token_is_traded_once_for_the_users_token(
    http: httpx.Client, admin: httpx.Client, exchanger: App, user: User
) -> None:
    subject = _subject_token(admin, user)
    reply = _exchange(http, exchanger, subject_token=subject, subject_token_type=IMPERSONATION,
                      scope="openid profile")  # fmt: skip
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile"
    assert "refresh_token" not in body and "id_token" not in body
    me = http.get("/oidc/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["sub"] == user.id
    again = _exchange(http, exchanger, subject_token=subject, subject_token_type=IMPERSONATION)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_rfc8693_2_1_an_access_token_for_another_resource_within_the_users_rights(
    http: httpx.Client, server: Server, admin: httpx.Client, exchanger: App, user: User,
    api_resource: Api,
) -> None:  # fmt: skip
    async def assign(conn: Any) -> None:
        await rbac.assign_role(conn, "default", role_name=api_resource.role, user_id=user.id)

    server.db(assign)
    first = _exchange(http, exchanger, subject_token=_subject_token(admin, user),
                      subject_token_type=ACCESS, scope="openid")  # fmt: skip
    opaque = first.json()["access_token"]
    for _ in range(2):  # an access token may be exchanged more than once
        reply = _exchange(http, exchanger, subject_token=opaque, subject_token_type=ACCESS,
                          resource=api_resource.indicator, scope="read admin")  # fmt: skip
        assert reply.status_code == 200, reply.text
        claims = _claims(server, reply.json()["access_token"])
        assert claims["sub"] == user.id and claims["aud"] == api_resource.indicator
        assert claims["scope"] == "read"  # admin: not the user's
        assert claims["client_id"] == exchanger.id
    # A JWT access token of this server works as a subject too.
    jwt_token = reply.json()["access_token"]
    reply = _exchange(http, exchanger, subject_token=jwt_token, subject_token_type=ACCESS,
                      scope="openid")  # fmt: skip
    assert reply.status_code == 200, reply.text


def test_rfc8693_4_1_an_actor_is_named_by_act(
    http: httpx.Client, server: Server, admin: httpx.Client, exchanger: App, user: User,
    api_resource: Api,
) -> None:  # fmt: skip
    agent = _exchange(http, exchanger, subject_token=_subject_token(admin, user),
                      subject_token_type=ACCESS, scope="openid")  # fmt: skip
    support_agent = agent.json()["access_token"]
    reply = _exchange(http, exchanger, subject_token=_subject_token(admin, user),
                      subject_token_type=IMPERSONATION, resource=api_resource.indicator,
                      actor_token=support_agent, actor_token_type=ACCESS)  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert _claims(server, reply.json()["access_token"])["act"] == {"sub": user.id}
    # An opaque exchanged token keeps its actor too (RFC 8693 §4.1, in introspection).
    opaque = _exchange(http, exchanger, subject_token=_subject_token(admin, user),
                       subject_token_type=IMPERSONATION, scope="openid",
                       actor_token=support_agent, actor_token_type=ACCESS)  # fmt: skip
    seen = http.post("/oidc/token/introspection", headers=exchanger.basic(),
                     data={"token": opaque.json()["access_token"]}).json()  # fmt: skip
    assert seen["active"] and seen["act"] == {"sub": user.id}
    id_token_type = "urn:ietf:params:oauth:token-type:id_token"
    wrong_type = _exchange(http, exchanger, subject_token=_subject_token(admin, user),
                           subject_token_type=IMPERSONATION, actor_token=support_agent,
                           actor_token_type=id_token_type)  # fmt: skip
    assert wrong_type.status_code == 400 and wrong_type.json()["error"] == "invalid_grant"


def test_personal_access_tokens_are_shown_once_and_exchanged(
    http: httpx.Client, admin: httpx.Client, exchanger: App, user: User
) -> None:
    path = f"/users/{user.id}/personal-access-tokens"
    created = admin.post(path, json={"name": "ci"})
    assert created.status_code == 201, created.text
    value = created.json()["value"]
    assert value.startswith("pat_") and len(value) == 36
    error(admin.post(path, json={"name": "ci"}), 422, "user.personal_access_token_name_exists")
    listed = admin.get(path).json()
    assert [t["name"] for t in listed] == ["ci"] and "value" not in listed[0]
    for _ in range(2):  # multi-use
        reply = _exchange(http, exchanger, subject_token=value, subject_token_type=PAT,
                          scope="openid")  # fmt: skip
        assert reply.status_code == 200, reply.text
    renamed = admin.patch(path, json={"currentName": "ci", "name": "deploy"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "deploy"
    assert admin.post(f"{path}/delete", json={"name": "deploy"}).status_code == 204
    gone = _exchange(http, exchanger, subject_token=value, subject_token_type=PAT)
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
    past = admin.post(path, json={"name": "old", "expiresAt": int(time.time() * 1000) - 1})
    assert past.status_code == 400


def test_refusals(
    http: httpx.Client, server: Server, admin: httpx.Client, exchanger: App, user: User,
    web_app: App,
) -> None:  # fmt: skip
    missing = _exchange(http, exchanger, subject_token_type=IMPERSONATION)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    for kind in (ACCESS, "urn:ietf:params:oauth:token-type:refresh_token"):
        bad = _exchange(http, exchanger, subject_token="not-a-token", subject_token_type=kind)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant", kind
    # Not allowed to exchange: the grant is not the client's.
    refused = _exchange(http, web_app, subject_token=_subject_token(admin, user),
                        subject_token_type=IMPERSONATION)  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    # A third-party application cannot be allowed it.
    third = admin.post("/applications", json={
        "name": "3p", "type": "Traditional", "isThirdParty": True,
        "customClientMetadata": {"allowTokenExchange": True}})  # fmt: skip
    assert third.status_code == 422, third.text
    # A suspended user's tokens are not traded.
    subject = _subject_token(admin, user)
    assert (
        admin.patch(f"/users/{user.id}/is-suspended", json={"isSuspended": True}).status_code == 200
    )
    suspended = _exchange(http, exchanger, subject_token=subject, subject_token_type=IMPERSONATION)
    assert suspended.status_code == 400 and suspended.json()["error"] == "invalid_grant"
    error(
        admin.post("/subject-tokens", json={"userId": "nobody"}), 404, "entity.not_exists_with_id"
    )
