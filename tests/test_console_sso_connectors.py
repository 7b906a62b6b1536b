"""Console pages of enterprise SSO connectors: created from a provider card, the OIDC
connection checked against a real discovery document (the console's own server is the
upstream OpenID provider, on loopback) and refused with nothing stored when it does not
work, email domains, branding, the sign-in experience's switch, deletion behind the typed
name and the password, and the entries /api writes for the same changes.

What was stored is read back through ``/api/sso-connectors``, the Management API the
console must agree with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.services import sso_connectors as sso
from portico.storage.tables import logs, sso_connectors
from tests.console import ADMIN_PASSWORD, ConsoleClient, flash_of
from tests.support import Server, csrf_of, unique
from tests.test_console_applications import age_reauth, management_of

BASE = "/console/enterprise-sso"


@pytest.fixture(scope="module")
def management(console_server: Server) -> Iterator[httpx.Client]:
    with management_of(console_server) as client:
        yield client


def audited(console: ConsoleClient, key: str, connector_id: str | None = None) -> list[Any]:
    """Entries ``ManagementApi.<key>`` written by the console (about ``connector_id``)."""

    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.payload).where(logs.c.key == f"ManagementApi.{key}")
        )
        return [r.payload for r in rows]

    found = [p for p in console.server.db(work) if p.get("via") == "console"]
    assert all(p["actor"]["type"] == "console" for p in found)
    if connector_id is None:
        return found
    return [p for p in found if (p.get("params") or {}).get("id") == connector_id]


def created(console: ConsoleClient, name: str, provider: str = "OIDC") -> str:
    page = f"{BASE}/new/{provider}"
    response = console.submit(page, page, {"connector_name": name})
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith(f"{BASE}/") and location.endswith("#sso-connection")
    return location.split("#")[0].rsplit("/", 1)[1]


def connect(console: ConsoleClient, connector_id: str, **fields: str) -> httpx.Response:
    page = f"{BASE}/{connector_id}"
    return console.submit(page, f"{page}/connection", fields)


def opened_secret(server: Server, connector_id: str) -> str:
    """The client secret as stored, opened with the server's key (it is sealed at rest)."""

    async def work(conn):  # type: ignore[no-untyped-def]
        found = await conn.execute(
            select(sso_connectors).where(sso_connectors.c.id == connector_id)
        )
        return dict(found.one()._mapping)

    row = server.db(work)
    assert row["config"]["clientSecret"] != "s3cret-value"  # sealed, not plain
    sealer = sso.sealer_for(server.settings.encryption_key_bytes())
    return str(sso.opened(sealer, row)["config"]["clientSecret"])


def test_create_from_a_provider_card(console: ConsoleClient, management: httpx.Client) -> None:
    listed = console.get(BASE)
    assert listed.status_code == 200 and f'href="{BASE}/new"' in listed.text
    assert 'href="/console/enterprise-sso"' in console.get("/console/users").text  # the nav
    cards = console.get(f"{BASE}/new").text
    for provider in ("OIDC", "AzureAdOidc", "GoogleWorkspace", "Okta"):
        assert f'href="{BASE}/new/{provider}"' in cards
    assert "data:image/svg+xml" in cards  # the providers' logos
    assert console.get(f"{BASE}/new/Nope").status_code == 404

    before = len(management.get("/sso-connectors").json())
    empty = console.submit(f"{BASE}/new/Okta", f"{BASE}/new/Okta", {"connector_name": "  "})
    assert empty.status_code == 400 and "Required." in empty.text
    assert len(management.get("/sso-connectors").json()) == before

    name = unique("Acme")
    connector_id = created(console, name, "Okta")
    page = console.get(f"{BASE}/{connector_id}")
    assert page.status_code == 200 and name in flash_of(page.text)[0]
    redirect_uri = f"{console.server.endpoint}/callback/sso/{connector_id}"
    assert redirect_uri in page.text and "Not configured yet" in page.text
    assert "In the Okta admin console" in page.text  # the provider's guide
    stored = management.get(f"/sso-connectors/{connector_id}").json()
    assert (stored["providerName"], stored["connectorName"]) == ("Okta", name)
    assert stored["config"] == {} and stored["domains"] == []
    assert len(audited(console, "CreateSsoConnector")) >= 1

    again = console.submit(f"{BASE}/new/OIDC", f"{BASE}/new/OIDC", {"connector_name": name})
    assert again.status_code == 400 and "Another connector already has this name." in again.text
    assert len(management.get("/sso-connectors").json()) == before + 1
    shown = console.get(BASE).text
    assert f'href="{BASE}/{connector_id}"' in shown and "Okta" in shown


def test_connection_is_checked_and_a_bad_config_stores_nothing(
    console: ConsoleClient, management: httpx.Client
) -> None:
    connector_id = created(console, unique("Corp"))
    issuer = console.server.issuer
    refusals = {
        "missing": ({"clientId": "portal", "issuer": issuer}, "Required."),
        "unreachable": (
            {"clientId": "portal", "clientSecret": "x", "issuer": "http://127.0.0.1:9/oidc"},
            "Cannot fetch the discovery document",
        ),
        "plain_http": (
            {"clientId": "portal", "clientSecret": "x", "issuer": "http://idp.example/oidc"},
            "https",
        ),
    }
    for case, (fields, reason) in refusals.items():
        refused = connect(console, connector_id, **fields)
        assert refused.status_code == 400, case
        assert reason in refused.text, (case, refused.text[:2000])
        assert 'value="portal"' in refused.text  # the draft is kept
        assert management.get(f"/sso-connectors/{connector_id}").json()["config"] == {}
    assert audited(console, "UpdateSsoConnector", connector_id) == []

    saved = connect(
        console, connector_id, clientId="portal", clientSecret="s3cret-value", issuer=issuer,
        scope="groups", trustUnverifiedEmail="true",
    )  # fmt: skip
    assert saved.status_code == 303, saved.text[:2000]
    assert saved.headers["location"] == f"{BASE}/{connector_id}#sso-connection"
    stored = management.get(f"/sso-connectors/{connector_id}").json()
    assert stored["config"] == {
        "clientId": "portal", "clientSecret": "******", "issuer": issuer, "scope": "groups",
        "trustUnverifiedEmail": True,
    }  # fmt: skip
    discovered = stored["providerConfig"]["authorizationEndpoint"]
    page = console.get(f"{BASE}/{connector_id}").text
    assert "Connected" in page and discovered in page and "s3cret-value" not in page
    assert "Stored: leave blank to keep" in page  # the secret input's placeholder
    assert len(audited(console, "UpdateSsoConnector", connector_id)) == 1

    # A blank secret keeps the stored one; a broken issuer later changes nothing.
    kept = connect(console, connector_id, clientId="portal2", clientSecret="", issuer=issuer)
    assert kept.status_code == 303
    assert opened_secret(console.server, connector_id) == "s3cret-value"
    broken = connect(console, connector_id, clientId="portal3", issuer="http://127.0.0.1:9/x")
    assert broken.status_code == 400
    assert management.get(f"/sso-connectors/{connector_id}").json()["config"]["clientId"] == (
        "portal2"
    )


def test_domains_branding_and_sync_profile(
    console: ConsoleClient, management: httpx.Client
) -> None:
    name = unique("Corp")
    connector_id = created(console, name)
    page = f"{BASE}/{connector_id}"

    def add(domain: str) -> httpx.Response:
        return console.submit(page, f"{page}/domains", {"domain": domain})

    domain = f"{unique('corp').replace('_', '-')}.example"
    assert add(domain.upper()).status_code == 303
    refusals = {
        domain: "is already listed",
        "gmail.com": "public mail provider",
        "not a domain": "Enter a domain such as example.com.",
    }
    for typed, reason in refusals.items():
        refused = add(typed)
        assert refused.status_code == 400 and reason in refused.text, (typed, refused.text[:500])
    assert management.get(f"/sso-connectors/{connector_id}").json()["domains"] == [domain]
    assert add("second.example").status_code == 303
    removed = console.submit(page, f"{page}/domains/{domain}/delete")
    assert removed.status_code == 303
    assert management.get(f"/sso-connectors/{connector_id}").json()["domains"] == ["second.example"]
    assert len(audited(console, "UpdateSsoConnector", connector_id)) == 3

    form = {"name": name, "display_name": "Acme staff", "sync_profile": "on"}
    for logo in ("javascript:alert(1)", "http://cdn.example/l.png"):
        refused = console.submit(page, page, {**form, "logo": logo})
        assert refused.status_code == 400 and "Enter a public https URL" in refused.text
    stored = management.get(f"/sso-connectors/{connector_id}").json()
    assert stored["branding"] == {} and stored["syncProfile"] is False
    saved = console.submit(page, page, {**form, "logo": "https://cdn.example/l.png"})
    assert saved.status_code == 303
    stored = management.get(f"/sso-connectors/{connector_id}").json()
    assert stored["branding"] == {"displayName": "Acme staff", "logo": "https://cdn.example/l.png"}
    assert stored["syncProfile"] is True
    other = created(console, unique("Other"))
    taken = console.submit(f"{BASE}/{other}", f"{BASE}/{other}", {**form, "name": name})
    assert taken.status_code == 400 and "Another connector already has this name." in taken.text


def test_experience_switch_and_typed_delete(
    console: ConsoleClient, management: httpx.Client
) -> None:
    name = unique("Corp")
    connector_id = created(console, name)
    page = f"{BASE}/{connector_id}"
    shown = console.get(page).text
    assert f"direct_sign_in=sso:{connector_id}" in shown and "Not available for sign-in" in shown

    was = management.get("/sign-in-exp").json()["singleSignOnEnabled"]
    turned = console.submit(page, f"{page}/single-sign-on", {"enabled": "false" if was else "true"})
    assert turned.status_code == 303
    assert management.get("/sign-in-exp").json()["singleSignOnEnabled"] is (not was)
    back = console.submit(page, f"{page}/single-sign-on", {"enabled": "true" if was else "false"})
    assert back.status_code == 303
    assert management.get("/sign-in-exp").json()["singleSignOnEnabled"] is was
    assert len(audited(console, "PatchSignInExp")) >= 2

    age_reauth(console)
    asked = console.submit(page, f"{page}/delete", {"confirm_name": name})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    wrong = console.post(f"{page}/delete", {
        "csrf_token": csrf_of(asked.text), "reauth_password": ADMIN_PASSWORD,
        "confirm_name": name + "x",
    })  # fmt: skip
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert management.get(f"/sso-connectors/{connector_id}").status_code == 200

    gone = console.submit(page, f"{page}/delete", {"confirm_name": f" {name} "})
    assert gone.status_code == 303 and gone.headers["location"] == BASE
    assert management.get(f"/sso-connectors/{connector_id}").status_code == 404
    assert len(audited(console, "DeleteSsoConnector", connector_id)) == 1
    assert console.get(page).status_code == 404


def test_a_saml_provider_needs_no_console_code(console: ConsoleClient) -> None:
    """Whatever provider is registered gets its card, its config form from its schema and
    what /api's GET says the IdP needs (a SAML SP's entity ID and ACS URL, before any config)."""
    from portico.sso import PROVIDERS

    if "SAML" not in PROVIDERS:
        pytest.skip("no SAML provider registered in this build")
    assert f'href="{BASE}/new/SAML"' in console.get(f"{BASE}/new").text
    connector_id = created(console, unique("Idp"), "SAML")
    page = console.get(f"{BASE}/{connector_id}").text
    assert f"/api/authn/single-sign-on/saml/{connector_id}" in page  # the ACS URL
    assert f"/enterprise-sso/{connector_id}" in page  # Portico's entity ID
    assert "/callback/sso/" not in page  # no OIDC redirect URI for SAML
    assert 'name="metadataUrl"' in page and '<textarea id="cfg-metadata"' in page
    refused = connect(console, connector_id, metadataUrl="http://127.0.0.1:9/metadata")
    assert refused.status_code == 400


# Request signing (SAML) --------------------------------------------------------------------------
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
IDP_ENTITY = "https://idp.example/adfs/services/trust"
IDP_SIGN_IN = "https://idp.example/adfs/ls"


def saml_connector(console: ConsoleClient) -> tuple[str, dict[str, str]]:
    """A SAML connector configured on its Connection tab with the IdP's fields (nothing is
    fetched), and those fields."""
    from portico.saml_idp import certificates

    _, idp_certificate, _ = certificates.new_signing_pair(1, None, "Test IdP")
    fields = {"entityId": IDP_ENTITY, "signInEndpoint": IDP_SIGN_IN,
              "x509Certificate": idp_certificate.strip()}  # fmt: skip
    connector_id = created(console, unique("Adfs"), "SAML")
    saved = connect(console, connector_id, **fields)
    assert saved.status_code == 303, saved.text[:2000]
    return connector_id, fields


def test_request_signing_keys_and_the_switch(
    console: ConsoleClient, management: httpx.Client
) -> None:
    """Create a key (inactive), activate it, sign with RSA-SHA512 (the config as /api shows
    it), the key in use refused deactivation and deletion, its certificate downloaded, then
    signing off, the key deactivated and deleted; each change with /api's entry."""
    connector_id, fields = saml_connector(console)
    page = f"{BASE}/{connector_id}"
    keys = f"/sso-connectors/{connector_id}/signing-keys"
    shown = console.get(page).text
    assert 'href="#sso-signing"' in shown and "No signing key yet." in shown
    assert 'name="signAuthnRequest"' not in shown  # the Connection form leaves it to the section
    assert '<label for="request_signature_algorithm">' in shown

    made = console.submit(page, f"{page}/signing-keys")
    assert made.status_code == 303 and made.headers["location"] == f"{page}#sso-signing"
    (key,) = management.get(keys).json()
    assert key["active"] is False
    shown = console.get(page).text
    assert "Signing key created (inactive)" in flash_of(shown)[0]
    assert key["fingerprints"]["sha256"]["formatted"] in shown and "PRIVATE KEY" not in shown
    assert f"{page}/signing-keys/{key['id']}/activate" in shown
    assert f"{page}/signing-keys/{key['id']}/deactivate" not in shown

    activated = console.submit(page, f"{page}/signing-keys/{key['id']}/activate")
    assert activated.status_code == 303, activated.text[:2000]
    assert [k["active"] for k in management.get(keys).json()] == [True]
    assert f"{page}/signing-keys/{key['id']}/deactivate" in console.get(page).text

    enabled = console.submit(page, f"{page}/signing", {
        "sign_authn_request": "on", "request_signature_algorithm": RSA_SHA512,
    })  # fmt: skip
    assert enabled.status_code == 303, enabled.text[:2000]
    assert enabled.headers["location"] == f"{page}#sso-signing"
    signing = {"signAuthnRequest": True, "requestSignatureAlgorithm": RSA_SHA512}
    stored = management.get(f"/sso-connectors/{connector_id}").json()
    assert stored["config"] == {**fields, **signing}
    shown = console.get(page).text
    assert "Request signing saved." in flash_of(shown)[0]
    assert re.search(r'name="sign_authn_request"[^>]* checked', shown)
    assert f'<option value="{RSA_SHA512}" selected>' in shown
    # Saving the Connection form again keeps what the Request signing form set.
    assert connect(console, connector_id, **fields).status_code == 303
    stored = management.get(f"/sso-connectors/{connector_id}").json()
    assert stored["config"] == {**fields, **signing}

    in_use = console.submit(page, f"{page}/signing-keys/{key['id']}/deactivate")
    assert in_use.status_code == 400
    assert "turn off “Sign authentication requests” before deactivating it" in in_use.text
    active_delete = console.submit(page, f"{page}/signing-keys/{key['id']}/delete")
    assert active_delete.status_code == 400
    assert "The active key cannot be deleted" in active_delete.text
    assert [k["active"] for k in management.get(keys).json()] == [True]

    pem = console.get(f"{page}/signing-keys/{key['id']}/certificate.pem")
    assert pem.status_code == 200 and pem.text == key["certificate"]
    assert pem.text.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE" not in pem.text
    assert pem.headers["content-disposition"].startswith("attachment;")
    assert pem.headers["content-type"].startswith("application/x-pem-file")
    assert console.get(f"{page}/signing-keys/nope/certificate.pem").status_code == 404

    disabled = console.submit(page, f"{page}/signing", {"request_signature_algorithm": RSA_SHA512})
    assert disabled.status_code == 303
    assert management.get(f"/sso-connectors/{connector_id}").json()["config"] == {
        **fields, **signing, "signAuthnRequest": False,
    }  # fmt: skip
    deactivated = console.submit(page, f"{page}/signing-keys/{key['id']}/deactivate")
    assert deactivated.status_code == 303
    assert [k["active"] for k in management.get(keys).json()] == [False]
    deleted = console.submit(page, f"{page}/signing-keys/{key['id']}/delete")
    assert deleted.status_code == 303
    assert management.get(keys).json() == []
    assert "Signing key deleted." in flash_of(console.get(page).text)[0]

    assert len(audited(console, "CreateSsoConnectorSigningKey", connector_id)) == 1
    for operation, count in (("UpdateSsoConnectorSigningKey", 2),
                             ("DeleteSsoConnectorSigningKey", 1)):  # fmt: skip
        entries = audited(console, operation, connector_id)
        assert len(entries) == count and {e["params"]["keyId"] for e in entries} == {key["id"]}
    # Connection, signing on, Connection again, signing off.
    assert len(audited(console, "UpdateSsoConnector", connector_id)) == 4


def test_signed_requests_need_an_active_key(
    console: ConsoleClient, management: httpx.Client
) -> None:
    """Turning signing on without an active key is refused on the page (the draft kept) and
    stores nothing; so are an unknown algorithm and a connector without a connection yet."""
    connector_id, fields = saml_connector(console)
    page = f"{BASE}/{connector_id}"
    keys = f"/sso-connectors/{connector_id}/signing-keys"
    on = {"sign_authn_request": "on", "request_signature_algorithm": RSA_SHA512}

    refused = console.submit(page, f"{page}/signing", on)
    assert refused.status_code == 400
    assert "Create and activate a signing key before turning on" in refused.text
    assert re.search(r'name="sign_authn_request"[^>]* checked', refused.text)  # the draft
    assert management.get(f"/sso-connectors/{connector_id}").json()["config"] == fields
    assert console.submit(page, f"{page}/signing-keys").status_code == 303  # inactive: still no
    again = console.submit(page, f"{page}/signing", on)
    assert again.status_code == 400 and "Create and activate a signing key" in again.text
    wrong = console.submit(page, f"{page}/signing", {**on, "request_signature_algorithm": "sha1"})
    assert wrong.status_code == 400 and "Choose one of the algorithms offered." in wrong.text
    assert management.get(f"/sso-connectors/{connector_id}").json()["config"] == fields
    assert len(audited(console, "UpdateSsoConnector", connector_id)) == 1  # the Connection's

    # Activating asks for the password, as the SAML applications' certificates do.
    (key,) = management.get(keys).json()
    age_reauth(console)
    asked = console.submit(page, f"{page}/signing-keys/{key['id']}/activate")
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert [k["active"] for k in management.get(keys).json()] == [False]

    blank = created(console, unique("Blank"), "SAML")
    blank_page = f"{BASE}/{blank}"
    unset = console.submit(blank_page, f"{blank_page}/signing", on)
    assert unset.status_code == 400 and "Save a working connection first" in unset.text
    assert management.get(f"/sso-connectors/{blank}").json()["config"] == {}

    oidc = created(console, unique("Oidc"))
    assert 'href="#sso-signing"' not in console.get(f"{BASE}/{oidc}").text
    not_saml = console.submit(f"{BASE}/{oidc}", f"{BASE}/{oidc}/signing-keys")
    assert not_saml.status_code == 404
