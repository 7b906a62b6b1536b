"""``/api/organization-invitations`` through the real server: Logto's shapes, status codes and
error codes (its integration tests ``organization-invitation.*.test.ts``), the invitation
email received by a real SMTP server (aiosmtpd), and acceptance adding the membership."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from portico.storage.tables import organization_invitation_role_relations as role_rows
from portico.storage.tables import organization_invitations as rows
from tests.management import error, invalid_fields
from tests.smtp_server import Recorder, smtp_config, smtp_server
from tests.support import Server, unique

SMTP = "simple-mail-transfer-protocol"
INVITATION_TEMPLATE = {
    "usageType": "OrganizationInvitation",
    "contentType": "text/html",
    "subject": "Join {{organization.name}}",
    "content": '<p>{{inviter.name}} invites you: <a href="{{link}}">{{link}}</a></p>',
}
FIELDS = {
    "tenantId", "id", "inviterId", "invitee", "acceptedUserId", "organizationId", "status",
    "createdAt", "updatedAt", "expiresAt", "organizationRoles",
}  # fmt: skip


def _later(ms: int = 1_000_000) -> int:
    return int(time.time() * 1000) + ms


def _email() -> str:
    return f"{unique('invitee')}@example.com"


def _org(admin: httpx.Client) -> dict[str, Any]:
    response = admin.post("/organizations", json={"name": unique("Org")})
    assert response.status_code == 201, response.text
    return response.json()


def _role(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post("/organization-roles", json={"name": unique("member"), **body})
    assert response.status_code == 201, response.text
    return response.json()


def _user(admin: httpx.Client, email: str, name: str | None = None) -> dict[str, Any]:
    response = admin.post("/users", json={"primaryEmail": email, "name": name or "Someone"})
    assert response.status_code == 200, response.text
    return response.json()


def _invite(admin: httpx.Client, org_id: str, invitee: str, **body: Any) -> dict[str, Any]:
    payload = {"organizationId": org_id, "invitee": invitee, "expiresAt": _later(), **body}
    response = admin.post("/organization-invitations", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def _listed(admin: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = admin.get("/organization-invitations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _accept(admin: httpx.Client, invitation_id: str, user_id: str | None) -> httpx.Response:
    body = {"status": "Accepted", "acceptedUserId": user_id}
    return admin.put(f"/organization-invitations/{invitation_id}/status", json=body)


def _expire(server: Server, invitation_id: str) -> None:
    """Move the invitation's expiry into the past, as time would."""

    async def work(conn):  # type: ignore[no-untyped-def]
        await conn.execute(update(rows).where(rows.c.id == invitation_id).values(expires_at=1_000))

    server.db(work)


def _stored(server: Server, org_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The organization's invitation rows (stored status) and their role relation rows."""

    async def work(conn):  # type: ignore[no-untyped-def]
        found = await conn.execute(select(rows).where(rows.c.organization_id == org_id))
        invitations = [dict(r._mapping) for r in found]
        ids = [i["id"] for i in invitations]
        relations = await conn.execute(
            select(role_rows.c.organization_role_id).where(
                role_rows.c.organization_invitation_id.in_(ids)
            )
        )
        return invitations, [r.organization_role_id for r in relations]

    return server.db(work)


@dataclass
class Mailbox:
    handler: Recorder
    connector_id: str


@pytest.fixture
def mailbox(admin: httpx.Client) -> Iterator[Mailbox]:
    """An SMTP connector (with an HTML OrganizationInvitation template) delivering to a real
    aiosmtpd server; removed after the test."""
    with smtp_server() as mail:
        config = smtp_config(mail.port)
        config["templates"].append(INVITATION_TEMPLATE)
        created = admin.post("/connectors", json={"connectorId": SMTP, "config": config})
        assert created.status_code == 200, created.text
        yield Mailbox(mail.handler, created.json()["id"])
        assert admin.delete(f"/connectors/{created.json()['id']}").status_code == 204


# Creating and reading ----------------------------------------------------------------------
def test_create_without_email_and_read_back(admin: httpx.Client, server: Server) -> None:
    org, role = _org(admin), _role(admin)
    inviter = _user(admin, _email(), "Ines Inviter")
    address = _email()
    expires = _later()
    invitation = _invite(
        admin, org["id"], address.upper(), expiresAt=expires, inviterId=inviter["id"],
        organizationRoleIds=[role["id"]], messagePayload=False,
    )  # fmt: skip
    assert set(invitation) == FIELDS
    assert invitation["invitee"] == address  # one form per mailbox, as user emails
    assert (invitation["status"], invitation["acceptedUserId"]) == ("Pending", None)
    assert (invitation["organizationId"], invitation["inviterId"]) == (org["id"], inviter["id"])
    assert invitation["expiresAt"] == expires and invitation["tenantId"] == "default"
    assert invitation["organizationRoles"] == [{"id": role["id"], "name": role["name"]}]
    assert admin.get(f"/organization-invitations/{invitation['id']}").json() == invitation
    stored, role_ids = _stored(server, org["id"])
    assert [(s["invitee"], s["status"]) for s in stored] == [(address, "Pending")]
    assert role_ids == [role["id"]]

    other = _invite(admin, _org(admin)["id"], address)  # same invitee, another organization
    assert _listed(admin, organizationId=org["id"]) == [invitation]
    assert _listed(admin, inviterId=inviter["id"]) == [invitation]
    by_invitee = _listed(admin, invitee=address.title())
    assert [i["id"] for i in by_invitee] == [other["id"], invitation["id"]]  # newest first
    everything = admin.get("/organization-invitations")
    assert "total-number" not in everything.headers  # not paginated, as Logto
    assert {invitation["id"], other["id"]} <= {i["id"] for i in everything.json()}


def test_creation_refusals_keep_nothing(admin: httpx.Client, server: Server) -> None:
    org = _org(admin)
    address = _email()

    def create(**body: Any) -> httpx.Response:
        payload = {"organizationId": org["id"], "invitee": address, "expiresAt": _later()}
        return admin.post("/organization-invitations", json={**payload, **body})

    assert invalid_fields(create(invitee="not-an-email")) == {"body.invitee"}
    assert "body.extra" in invalid_fields(create(extra=1))
    assert "body.expiresAt" in invalid_fields(create(expiresAt=10**19))
    error(create(expiresAt=_later(-1_000)), 400, "request.invalid_input")
    error(create(organizationId="nope"), 422, "entity.relation_foreign_key_not_found")
    error(create(inviterId="nope"), 422, "entity.relation_foreign_key_not_found")
    error(create(organizationRoleIds=["nope"]), 422, "entity.relation_foreign_key_not_found")
    m2m = _role(admin, type="MachineToMachine")
    error(create(organizationRoleIds=[m2m["id"]]), 422, "entity.db_constraint_violated")
    member = _user(admin, _email())
    assert (
        admin.post(
            f"/organizations/{org['id']}/users", json={"userIds": [member["id"]]}
        ).status_code
        == 201
    )
    error(create(invitee=member["primaryEmail"].upper()), 422, "request.invalid_input")
    assert _stored(server, org["id"]) == ([], [])

    first = create()
    assert first.status_code == 201, first.text
    error(create(), 422, "entity.unique_integrity_violation")  # one Pending per invitee
    assert [i["id"] for i in _listed(admin, organizationId=org["id"])] == [first.json()["id"]]
    _expire(server, first.json()["id"])
    second = create()  # an expired invitation no longer blocks a new one
    assert second.status_code == 201, second.text
    stored, _ = _stored(server, org["id"])
    assert sorted(s["status"] for s in stored) == ["Expired", "Pending"]


def test_message_payload_must_be_false_or_an_object(admin: httpx.Client) -> None:
    org = _org(admin)
    body = {"organizationId": org["id"], "invitee": _email(), "expiresAt": _later()}
    for bad in (True, "yes", {"link": 1}):
        response = admin.post("/organization-invitations", json={**body, "messagePayload": bad})
        assert {f.split(".")[1] for f in invalid_fields(response)} == {"messagePayload"}, bad


# Email -------------------------------------------------------------------------------------
def test_invitation_email_carries_the_payload(admin: httpx.Client, mailbox: Mailbox) -> None:
    org = _org(admin)
    inviter = _user(admin, _email(), "Ines <Inviter>")
    address = _email()
    link = "https://app.example.com/invite?id=1&next=<home>"
    invitation = _invite(
        admin, org["id"], address, inviterId=inviter["id"], messagePayload={"link": link}
    )
    [sent] = mailbox.handler.messages
    assert sent["To"] == address and sent["Subject"] == f"Join {org['name']}"
    body = sent.get_content()
    escaped = "https://app.example.com/invite?id=1&amp;next=&lt;home&gt;"
    assert f'<a href="{escaped}">{escaped}</a>' in body  # HTML-escaped in HTML mail
    assert "Ines &lt;Inviter&gt; invites you" in body

    resent = admin.post(
        f"/organization-invitations/{invitation['id']}/message",
        json={"link": "https://app.example.com/again"},
    )
    assert resent.status_code == 204, resent.text
    assert 'href="https://app.example.com/again"' in mailbox.handler.messages[1].get_content()
    error(
        admin.post("/organization-invitations/nope/message", json={"link": "x"}),
        404, "entity.not_found",
    )  # fmt: skip
    assert len(mailbox.handler.messages) == 2


def test_sends_to_one_recipient_are_limited(
    admin: httpx.Client, server: Server, mailbox: Mailbox
) -> None:
    """Invitations share the recipient's send limit (10 in 10 minutes) with codes: resends
    beyond it are refused with Logto's 429, and a refused invitation is not stored."""
    org = _org(admin)
    address = _email()
    invitation = _invite(admin, org["id"], address, messagePayload={})
    resend = f"/organization-invitations/{invitation['id']}/message"
    for _ in range(9):
        assert admin.post(resend, json={}).status_code == 204
    assert len(mailbox.handler.messages) == 10
    error(admin.post(resend, json={}), 429, "request.message_rate_limited")
    other = _org(admin)
    body = {"organizationId": other["id"], "invitee": address.upper(), "expiresAt": _later(),
            "messagePayload": {}}  # fmt: skip
    error(admin.post("/organization-invitations", json=body), 429, "request.message_rate_limited")
    assert _stored(server, other["id"]) == ([], [])
    assert len(mailbox.handler.messages) == 10
    # Without an email, nothing is sent and nothing is limited.
    quiet = admin.post("/organization-invitations", json={**body, "messagePayload": False})
    assert quiet.status_code == 201


def test_failed_send_keeps_no_invitation(
    admin: httpx.Client, server: Server, mailbox: Mailbox
) -> None:
    org = _org(admin)
    mailbox.handler.rcpt_reply = "550 5.1.1 No such mailbox"
    body = {"organizationId": org["id"], "invitee": _email(), "expiresAt": _later(),
            "messagePayload": {"link": "https://app.example.com/i"}}  # fmt: skip
    response = admin.post("/organization-invitations", json=body)
    assert response.status_code == 400 and response.json()["code"].startswith("connector.")
    assert _stored(server, org["id"]) == ([], [])
    mailbox.handler.rcpt_reply = None
    assert admin.post("/organization-invitations", json=body).status_code == 201


def test_without_email_connector_sending_is_501(admin: httpx.Client, server: Server) -> None:
    if any(c["type"] == "Email" for c in admin.get("/connectors").json()):
        pytest.skip("another module left an Email connector on the shared server")
    org = _org(admin)
    body = {"organizationId": org["id"], "invitee": _email(), "expiresAt": _later(),
            "messagePayload": {"link": "https://app.example.com/i"}}  # fmt: skip
    error(admin.post("/organization-invitations", json=body), 501, "connector.not_found")
    assert _stored(server, org["id"]) == ([], [])


# Status ------------------------------------------------------------------------------------
def test_accepting_adds_membership_and_roles_once(admin: httpx.Client, server: Server) -> None:
    org, role = _org(admin), _role(admin)
    address = _email()
    invitation = _invite(admin, org["id"], address, organizationRoleIds=[role["id"]])
    user = _user(admin, address.upper())
    accepted = _accept(admin, invitation["id"], user["id"])
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["status"], body["acceptedUserId"]) == ("Accepted", user["id"])
    assert body["updatedAt"] >= invitation["updatedAt"] and set(body) == FIELDS
    assert admin.get(f"/organization-invitations/{invitation['id']}").json() == body
    [membership] = admin.get(f"/users/{user['id']}/organizations").json()
    assert membership["id"] == org["id"]
    assert [r["id"] for r in membership["organizationRoles"]] == [role["id"]]
    error(_accept(admin, invitation["id"], user["id"]), 422, "request.invalid_input")
    revoke = {"status": "Revoked"}
    error(admin.put(f"/organization-invitations/{invitation['id']}/status", json=revoke), 422,
          "request.invalid_input")  # fmt: skip
    stored, _ = _stored(server, org["id"])
    assert [(s["status"], s["accepted_user_id"]) for s in stored] == [("Accepted", user["id"])]


def test_acceptance_refusals_change_nothing(admin: httpx.Client, server: Server) -> None:
    org = _org(admin)
    address = _email()
    invitation = _invite(admin, org["id"], address)
    stranger = _user(admin, _email())
    error(_accept(admin, invitation["id"], None), 422, "request.invalid_input")
    error(_accept(admin, invitation["id"], "nope"), 404, "entity.not_found")
    error(_accept(admin, invitation["id"], stranger["id"]), 422, "request.invalid_input")
    error(_accept(admin, "nope", stranger["id"]), 404, "entity.not_found")
    assert invalid_fields(
        admin.put(f"/organization-invitations/{invitation['id']}/status",
                  json={"status": "Expired"})
    ) == {"body.status"}  # fmt: skip
    assert admin.get(f"/organizations/{org['id']}/users").json() == []
    assert admin.get(f"/organization-invitations/{invitation['id']}").json() == invitation

    user = _user(admin, address)
    _expire(server, invitation["id"])
    assert admin.get(f"/organization-invitations/{invitation['id']}").json()["status"] == "Expired"
    error(_accept(admin, invitation["id"], user["id"]), 422, "request.invalid_input")
    assert admin.get(f"/organizations/{org['id']}/users").json() == []


def test_two_acceptances_at_once_one_wins(admin: httpx.Client) -> None:
    org = _org(admin)
    address = _email()
    invitation = _invite(admin, org["id"], address)
    user = _user(admin, address)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _accept(admin, invitation["id"], user["id"]), [0, 1]))
    assert sorted(a.status_code for a in answers) == [200, 422]
    assert [u["id"] for u in admin.get(f"/organizations/{org['id']}/users").json()] == [user["id"]]


def test_revoke_then_delete(admin: httpx.Client) -> None:
    org = _org(admin)
    address = _email()
    invitation = _invite(admin, org["id"], address)
    path = f"/organization-invitations/{invitation['id']}"
    revoked = admin.put(f"{path}/status", json={"status": "Revoked", "acceptedUserId": None})
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["acceptedUserId"]) == ("Revoked", None)
    error(_accept(admin, invitation["id"], _user(admin, address)["id"]), 422,
          "request.invalid_input")  # fmt: skip
    assert admin.delete(path).status_code == 204
    error(admin.get(path), 404, "entity.not_found")
    error(admin.delete(path), 404, "entity.not_found")
    assert _listed(admin, organizationId=org["id"]) == []


def test_writes_are_audited(admin: httpx.Client) -> None:
    org = _org(admin)
    invitation = _invite(admin, org["id"], _email())
    error(_accept(admin, invitation["id"], None), 422, "request.invalid_input")
    assert admin.delete(f"/organization-invitations/{invitation['id']}").status_code == 204

    def newest(key: str) -> dict[str, Any]:
        found = admin.get("/logs", params={"logKey": f"ManagementApi.{key}", "page_size": 1})
        return found.json()[0]["payload"]

    created = newest("CreateOrganizationInvitation")
    assert created["result"] == "Success"
    refused = newest("ReplaceOrganizationInvitationStatus")
    assert refused["params"] == {"id": invitation["id"]}
    assert refused["error"]["code"] == "request.invalid_input"
    assert newest("DeleteOrganizationInvitation")["params"] == {"id": invitation["id"]}
