"""Console pages of SAML applications (Portico as the identity provider): created from the
SAML card, settings refused with the reason and nothing stored, certificates created,
activated (the anonymous metadata then publishes the new one) and deleted, deletion behind
the typed name and the password, and the entries /api writes for the same changes.

What was stored is read back through ``/api/saml-applications``, the Management API the
console must agree with."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.saml_idp import certificates
from portico.storage.tables import logs
from tests.console import ADMIN_PASSWORD, ConsoleClient, flash_of
from tests.support import Server, csrf_of, unique
from tests.test_console_applications import age_reauth, management_of
from tests.test_saml_applications_api import sp_certificate

BASE = "/console/saml-applications"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture(scope="module")
def management(console_server: Server) -> Iterator[httpx.Client]:
    with management_of(console_server) as client:
        yield client


def audited(console: ConsoleClient, key: str, app_id: str) -> list[dict[str, Any]]:
    """Entries ``ManagementApi.<key>`` about ``app_id`` written by the console."""

    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.payload).where(logs.c.key == f"ManagementApi.{key}")
        )
        return [r.payload for r in rows]

    found = [p for p in console.server.db(work) if p.get("applicationId") == app_id]
    assert all(p["actor"]["type"] == "console" and p["via"] == "console" for p in found)
    return found


def created(console: ConsoleClient, name: str) -> str:
    response = console.submit(f"{BASE}/new", BASE, {"name": name, "description": "Wiki"})
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith(f"{BASE}/")
    return location.rsplit("/", 1)[1]


def settings(**fields: Any) -> dict[str, Any]:
    """A complete, valid settings form; ``fields`` replace members, ``mapping`` the rows (an
    empty row last, as the page offers)."""
    rows = [*fields.pop("mapping", [("email", "mail"), ("sub", "uid")]), ("", "")]
    return {
        "name": "Wiki", "description": "Team wiki", "entity_id": "https://sp.example/meta",
        "acs_url": "https://sp.example/acs", "name_id_format": EMAIL,
        "claim": [claim for claim, _ in rows], "attribute": [attribute for _, attribute in rows],
        **fields,
    }  # fmt: skip


def save(console: ConsoleClient, app_id: str, form: dict[str, Any]) -> httpx.Response:
    return console.submit(f"{BASE}/{app_id}", f"{BASE}/{app_id}", form)


def published(server: Server, app_id: str) -> str:
    metadata = httpx.get(f"{server.endpoint}/api/saml-applications/{app_id}/metadata")
    assert metadata.status_code == 200, metadata.text
    found = ET.fromstring(metadata.text).find(f".//{DS}X509Certificate")
    assert found is not None and found.text
    return "".join(found.text.split())


def test_create_from_the_saml_card(console: ConsoleClient, management: httpx.Client) -> None:
    cards = console.get("/console/applications/new")
    assert f'href="{BASE}/new"' in cards.text and "/static/frameworks/saml.svg" in cards.text
    assert console.get("/static/frameworks/saml.svg").status_code == 200
    before = len(management.get("/applications", params={"types": "SAML"}).json())
    empty = console.submit(f"{BASE}/new", BASE, {"name": "  ", "description": "kept"})
    assert empty.status_code == 400 and "Required." in empty.text and 'value="kept"' in empty.text
    assert len(management.get("/applications", params={"types": "SAML"}).json()) == before

    name = unique("Wiki")
    app_id = created(console, name)
    page = console.get(f"{BASE}/{app_id}")
    assert page.status_code == 200 and name in flash_of(page.text)[0]
    metadata_url = f"{console.server.endpoint}/api/saml-applications/{app_id}/metadata"
    assert metadata_url in page.text and f"/api/saml/{app_id}/authn" in page.text
    app = management.get(f"/saml-applications/{app_id}").json()
    assert app["type"] == "SAML" and app["name"] == name and app["description"] == "Wiki"
    assert app["nameIdFormat"] == PERSISTENT and app["entityId"] is None
    secrets = management.get(f"/saml-applications/{app_id}/secrets").json()
    assert [s["active"] for s in secrets] == [True]
    fingerprint = secrets[0]["fingerprints"]["sha256"]["formatted"]
    assert fingerprint in page.text  # connection details and the certificates tab
    assert len(audited(console, "CreateSamlApplication", app_id)) == 1

    # The list links to the SAML page; the OIDC page sends a SAML app there (no KeyError).
    listed = console.get("/console/applications")
    assert f'href="{BASE}/{app_id}"' in listed.text
    oidc_page = console.get(f"/console/applications/{app_id}")
    assert oidc_page.status_code == 303 and oidc_page.headers["location"] == f"{BASE}/{app_id}"


def test_settings_refuse_bad_values_and_store_nothing(
    console: ConsoleClient, management: httpx.Client
) -> None:
    app_id = created(console, unique("Wiki"))
    stored = management.get(f"/saml-applications/{app_id}").json()
    pem = "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----"
    refusals = {
        "acs_url": (settings(acs_url="ftp://sp.example/acs"), "Only the HTTP and HTTPS"),
        "entity_id": (settings(entity_id=""), "Required."),
        "entity_id_long": (settings(entity_id="x" * 129), "At most 128 characters."),
        "format": (settings(name_id_format="urn:nope"), "Choose one of the NameID formats"),
        "no_cert": (settings(encrypt="on"), "Paste the service provider"),
        "bad_cert": (settings(encrypt="on", certificate=pem), "is not one PEM certificate"),
        "unknown": (settings(mapping=[("shoe_size", "size")]), "shoe_size is not a user claim"),
        "twice": (settings(mapping=[("email", "a"), ("email", "b")]), "email is mapped twice"),
        "half": (settings(mapping=[("email", "")]), "Each row needs both"),
        "name": (settings(name=" "), "Required."),
    }
    for case, (pairs, reason) in refusals.items():
        refused = save(console, app_id, pairs)
        assert refused.status_code == 400, case
        assert reason in refused.text, (case, refused.text[:300])
        assert 'value="https://sp.example/acs"' in refused.text or case == "acs_url"  # draft kept
    assert management.get(f"/saml-applications/{app_id}").json() == stored
    assert audited(console, "UpdateSamlApplication", app_id) == []

    certificate = sp_certificate()
    saved = save(console, app_id, settings(encrypt="on", encrypt_then_sign="on",
                                           certificate=certificate))  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == f"{BASE}/{app_id}"
    app = management.get(f"/saml-applications/{app_id}").json()
    assert app["name"] == "Wiki" and app["description"] == "Team wiki"
    assert app["entityId"] == "https://sp.example/meta" and app["nameIdFormat"] == EMAIL
    assert app["acsUrl"] == {"binding": POST, "url": "https://sp.example/acs"}
    assert app["attributeMapping"] == {"email": "mail", "sub": "uid"}
    assert app["encryption"] == {
        "encryptAssertion": True, "encryptThenSign": True, "certificate": certificate.strip(),
    }  # fmt: skip
    shown = console.get(f"{BASE}/{app_id}").text
    assert 'value="mail"' in shown and "checked" in shown
    assert len(audited(console, "UpdateSamlApplication", app_id)) == 1

    # Encryption off clears it (Logto's console), and an emptied mapping is empty.
    assert save(console, app_id, settings(mapping=[])).status_code == 303
    app = management.get(f"/saml-applications/{app_id}").json()
    assert app["encryption"] is None and app["attributeMapping"] == {}


def test_certificates_rotate_and_the_metadata_follows(
    console: ConsoleClient, management: httpx.Client
) -> None:
    app_id = created(console, unique("Wiki"))
    page = f"{BASE}/{app_id}"
    (first,) = management.get(f"/saml-applications/{app_id}/secrets").json()
    assert published(console.server, app_id) == certificates.body(first["certificate"])

    too_long = console.submit(page, f"{page}/certificates", {"lifetime_years": "101"})
    assert too_long.status_code == 400 and "from 1 to 100" in too_long.text
    assert len(management.get(f"/saml-applications/{app_id}/secrets").json()) == 1

    made = console.submit(page, f"{page}/certificates", {"lifetime_years": "2"})
    assert made.status_code == 303 and made.headers["location"].endswith("#saml-certificates")
    secrets = management.get(f"/saml-applications/{app_id}/secrets").json()
    (second,) = [s for s in secrets if s["id"] != first["id"]]
    assert second["active"] is False
    assert second["expiresAt"] - second["createdAt"] > 700 * 86_400_000
    assert published(console.server, app_id) == certificates.body(first["certificate"])
    pem = console.get(f"{page}/certificates/{second['id']}/certificate.pem")
    assert pem.status_code == 200 and pem.text == second["certificate"]
    assert "attachment" in pem.headers["content-disposition"]

    activated = console.submit(page, f"{page}/certificates/{second['id']}/activate")
    assert activated.status_code == 303
    assert published(console.server, app_id) == certificates.body(second["certificate"])
    listed = management.get(f"/saml-applications/{app_id}/secrets").json()
    states = {s["id"]: s["active"] for s in listed}
    assert states == {first["id"]: False, second["id"]: True}

    # The active one cannot go (refused on the page, nothing deleted); the old one can.
    refused = console.submit(page, f"{page}/certificates/{second['id']}/delete")
    assert refused.status_code == 400 and "Can not delete the active secret." in refused.text
    deleted = console.submit(page, f"{page}/certificates/{first['id']}/delete")
    assert deleted.status_code == 303
    remaining = management.get(f"/saml-applications/{app_id}/secrets").json()
    assert [s["id"] for s in remaining] == [second["id"]]
    for key in ("CreateSamlApplicationSecret", "UpdateSamlApplicationSecret",
                "DeleteSamlApplicationSecret"):  # fmt: skip
        (entry,) = audited(console, key, app_id)
        assert entry["params"]["id"] == app_id


def test_activate_and_delete_ask_for_the_password_and_the_typed_name(
    console: ConsoleClient, management: httpx.Client
) -> None:
    name = unique("Wiki")
    app_id = created(console, name)
    page = f"{BASE}/{app_id}"
    age_reauth(console)
    asked = console.submit(page, f"{page}/delete", {"confirm_name": name})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    wrong = console.post(f"{page}/delete", {
        "csrf_token": csrf_of(asked.text), "reauth_password": ADMIN_PASSWORD,
        "confirm_name": name + "x",
    })  # fmt: skip
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert management.get(f"/saml-applications/{app_id}").status_code == 200

    gone = console.submit(page, f"{page}/delete", {"confirm_name": f" {name} "})
    assert gone.status_code == 303 and gone.headers["location"] == "/console/applications"
    assert management.get(f"/saml-applications/{app_id}").status_code == 404
    assert len(audited(console, "DeleteSamlApplication", app_id)) == 1
    assert console.get(page).status_code == 404
