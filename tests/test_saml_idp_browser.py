"""Portico as a SAML identity provider, end to end: a pysaml2 Service Provider (its own key
and certificate, Portico's metadata) starts SP-initiated sign-in, Chromium signs in on the
hosted pages, and the SP verifies the posted response (signature, audience, InResponseTo,
NameID, attributes; an encrypted assertion decrypted), also after a certificate rotation.
Refusals (wrong ACS URL, unknown issuer, unknown application, no session) are pages, with
audit entries."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from playwright.sync_api import Page, Route
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.response import AuthnResponse

from tests.conftest import User, make_user
from tests.support import Server, unique
from tests.test_pages_browser import chromium_context

POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
ACS = "http://127.0.0.1:9/saml/acs"  # answered by the test through the browser (page.route)
SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    key_file, cert_file = folder / f"{name}.key", folder / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@dataclass
class ServiceProvider:
    """A pysaml2 SP trusting the IdP metadata it was given."""

    entity_id: str
    key_file: Path
    cert_file: Path

    @property
    def certificate(self) -> str:
        return self.cert_file.read_text()

    def client(self, idp_metadata: str) -> Saml2Client:
        pair = {"key_file": str(self.key_file), "cert_file": str(self.cert_file)}
        config = SPConfig()
        config.load({
            "entityid": self.entity_id, "xmlsec_binary": "/usr/bin/xmlsec1",
            **pair, "encryption_keypairs": [pair],
            "metadata": {"inline": [idp_metadata]},
            "accepted_time_diff": 60,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
                "want_response_signed": True, "want_assertions_signed": True,
                "allow_unsolicited": False, "authn_requests_signed": True,
            }},
        })  # fmt: skip
        return Saml2Client(config)


@pytest.fixture
def sp(tmp_path: Path) -> ServiceProvider:
    key_file, cert_file = key_pair(tmp_path, "sp")
    return ServiceProvider(f"https://{unique('sp')}.example/metadata", key_file, cert_file)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def saml_app(admin: httpx.Client, sp: ServiceProvider, **body: Any) -> dict[str, Any]:
    created = admin.post("/saml-applications", json={
        "name": unique("Wiki"), "entityId": sp.entity_id,
        "acsUrl": {"binding": POST, "url": ACS}, **body})  # fmt: skip
    assert created.status_code == 201, created.text
    return created.json()


def metadata(server: Server, app_id: str) -> str:
    response = httpx.get(f"{server.endpoint}/api/saml-applications/{app_id}/metadata")
    assert response.status_code == 200, response.text
    return response.text


def sign_in_and_capture(page: Page, start: Any, user: User) -> dict[str, list[str]]:
    """Start the flow in Chromium, sign in on Portico's pages, and return the form the
    response page posts to the ACS URL."""
    posted: dict[str, list[str]] = {}

    def acs(route: Route) -> None:
        posted.update(parse_qs(route.request.post_data or ""))
        route.fulfill(status=200, content_type="text/plain", body="SP got it")

    page.route(f"{ACS}*", acs)
    start()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{ACS}*")
    page.get_by_text("SP got it").wait_for()
    return posted


def test_sp_initiated_redirect_binding_signed_request_verified_by_the_sp(
    server: Server, admin: httpx.Client, sp: ServiceProvider, page: Page
) -> None:
    user = make_user(server, name="Ada Lovelace")
    mapping = {"sub": "uid", "email": "mail", "name": "displayName", "username": "login"}
    app = saml_app(
        admin, sp, attributeMapping=mapping, encryption={"certificate": sp.certificate}
    )  # verifies the SP's signatures
    client = sp.client(metadata(server, app["id"]))
    request_id, info = client.prepare_for_authenticate(
        entityid=f"{server.endpoint}/saml/{app['id']}", relay_state="/wiki/page-1",
        binding=BINDING_HTTP_REDIRECT, sign=True, sigalg=SHA256,
    )  # fmt: skip
    location = dict(info["headers"])["Location"]
    assert location.startswith(f"{server.endpoint}/api/saml/{app['id']}/authn?")

    posted = sign_in_and_capture(page, lambda: page.goto(location), user)
    assert posted["RelayState"] == ["/wiki/page-1"]
    response: AuthnResponse = client.parse_authn_request_response(
        posted["SAMLResponse"][0], BINDING_HTTP_POST, outstanding={request_id: "/wiki/page-1"}
    )
    assert response.in_response_to == request_id
    assert response.response.destination == ACS and response.response.signature is not None
    assertion = response.assertion
    assert assertion.signature is not None
    assert assertion.conditions.audience_restriction[0].audience[0].text == sp.entity_id
    confirmation = assertion.subject.subject_confirmation[0].subject_confirmation_data
    assert confirmation.recipient == ACS and confirmation.in_response_to == request_id
    statement = assertion.authn_statement[0]
    assert statement.session_index
    # Signed in just now (prompt=login), for no longer than the sign-in session lasts.
    signed_in = datetime.datetime.fromisoformat(statement.authn_instant)
    now = datetime.datetime.now(datetime.UTC)
    assert now - datetime.timedelta(minutes=2) < signed_in <= now + datetime.timedelta(seconds=5)
    session_end = datetime.datetime.fromisoformat(statement.session_not_on_or_after)
    assert session_end - signed_in == datetime.timedelta(days=14)
    assert response.name_id.format == PERSISTENT and response.name_id.text == user.id
    attributes = {a.name: [v.text for v in a.attribute_value]
                  for a in assertion.attribute_statement[0].attribute}  # fmt: skip
    assert attributes == {"uid": [user.id], "mail": [user.email], "displayName": ["Ada Lovelace"],
                          "login": [user.username]}  # fmt: skip
    lifetime = datetime.datetime.fromisoformat(assertion.conditions.not_on_or_after) - (
        datetime.datetime.fromisoformat(assertion.conditions.not_before))  # fmt: skip
    assert lifetime <= datetime.timedelta(minutes=10)
    logs = admin.get("/logs", params={"logKey": "SamlApplication.Callback"}).json()
    mine = [entry for entry in logs if entry["payload"].get("applicationId") == app["id"]]
    assert mine and mine[0]["payload"]["result"] == "Success"
    assert mine[0]["payload"]["userId"] == user.id


def test_post_binding_encrypted_assertion_after_rotation(
    server: Server, admin: httpx.Client, sp: ServiceProvider, page: Page
) -> None:
    user = make_user(server, name="Grace Hopper")
    encryption = {"encryptAssertion": True, "encryptThenSign": False,
                  "certificate": sp.certificate}  # fmt: skip
    app = saml_app(admin, sp, nameIdFormat=EMAIL, encryption=encryption)
    before = metadata(server, app["id"])
    secrets = f"/saml-applications/{app['id']}/secrets"
    new = admin.post(secrets, json={"lifeSpanInYears": 1}).json()
    assert metadata(server, app["id"]) == before  # a new certificate is not active yet
    assert admin.patch(f"{secrets}/{new['id']}", json={"active": True}).json()["active"]
    after = metadata(server, app["id"])
    assert after != before and new["certificate"].splitlines()[1] in after

    client = sp.client(after)
    request_id, info = client.prepare_for_authenticate(
        entityid=f"{server.endpoint}/saml/{app['id']}", binding=BINDING_HTTP_POST
    )
    form = info["data"]

    def start() -> None:  # the SP's auto-posting form, as the SP would serve it
        page.set_content(form.replace("<script", "<noscript").replace("</script>", "</noscript>"))
        page.locator("form").evaluate("form => form.submit()")

    posted = sign_in_and_capture(page, start, user)
    assert "RelayState" not in posted
    raw = posted["SAMLResponse"][0]
    response = client.parse_authn_request_response(
        raw, BINDING_HTTP_POST, outstanding={request_id: "/"}
    )
    assert response.in_response_to == request_id
    assert b"EncryptedAssertion" in base64.b64decode(raw)
    assert response.name_id.format == EMAIL and response.name_id.text == user.email
    attributes = {a.name: [v.text for v in a.attribute_value]
                  for a in response.assertion.attribute_statement[0].attribute}  # fmt: skip
    assert attributes == {"sub": [user.id], "email": [user.email], "name": ["Grace Hopper"]}
    with pytest.raises(Exception):  # noqa: B017 - signed by the new key, not the old one
        sp.client(before).parse_authn_request_response(
            raw, BINDING_HTTP_POST, outstanding={request_id: "/"}
        )


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert "text/html" in response.headers["content-type"] and code in response.text


def test_refusals_are_pages_with_audit_entries(
    server: Server, admin: httpx.Client, sp: ServiceProvider
) -> None:
    app = saml_app(admin, sp)
    client = sp.client(metadata(server, app["id"]))
    entity_id = f"{server.endpoint}/saml/{app['id']}"

    def start(sp_client: Saml2Client, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("sign", False)
        _, info = sp_client.prepare_for_authenticate(
            entityid=entity_id, binding=BINDING_HTTP_REDIRECT, **kwargs
        )
        return httpx.get(dict(info["headers"])["Location"])

    ok = start(client)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/oidc/auth?")
    query = parse_qs(urlsplit(ok.headers["location"]).query)
    assert query["client_id"] == [app["id"]] and query["code_challenge_method"] == ["S256"]
    assert query["prompt"] == ["login"] and "offline_access" not in query["scope"][0]

    refused(start(client, assertion_consumer_service_url="https://evil.example/acs"), 400,
            "application.saml.acs_url_mismatch")  # fmt: skip
    stranger = ServiceProvider("https://stranger.example/sp", sp.key_file, sp.cert_file)
    refused(start(stranger.client(metadata(server, app["id"]))), 400,
            "application.saml.auth_request_issuer_not_match")  # fmt: skip
    # Signed, but Portico has no certificate for this SP: refused rather than trusted.
    refused(start(client, sign=True, sigalg=SHA256), 400, "application.saml.invalid_saml_request")
    refused(httpx.get(f"{server.endpoint}/api/saml/{app['id']}/authn?SAMLRequest=bm9wZQ"), 400,
            "application.saml.invalid_saml_request")  # fmt: skip
    refused(httpx.get(f"{server.endpoint}/api/saml/{app['id']}/authn"), 400, "guard.invalid_input")
    refused(httpx.get(f"{server.endpoint}/api/saml/unknown-app/authn?SAMLRequest=x"), 404,
            "entity.not_exists_with_id")  # fmt: skip
    spanish = httpx.get(f"{server.endpoint}/api/saml/unknown-app/authn?SAMLRequest=x",
                        headers={"Accept-Language": "es"})  # fmt: skip
    assert "Error en el inicio de sesión único" in spanish.text  # the page in the user's language
    callback = f"{server.endpoint}/api/saml-applications/{app['id']}/callback?code=x&state=y"
    refused(httpx.get(callback), 400,
            "application.saml.sp_initiated_saml_sso_session_not_found_in_cookies")  # fmt: skip
    refused(httpx.get(callback, cookies={"portico_saml": "forged"}), 400,
            "application.saml.sp_initiated_saml_sso_session_not_found")  # fmt: skip

    logs = admin.get("/logs", params={"logKey": "SamlApplication.AuthnRequest"}).json()
    mine = [e["payload"] for e in logs if e["payload"].get("applicationId") == app["id"]]
    codes = {p["error"]["code"] for p in mine if p["result"] == "Error"}
    assert {"application.saml.acs_url_mismatch", "application.saml.auth_request_issuer_not_match",
            "application.saml.invalid_saml_request"} <= codes  # fmt: skip
    assert any(p["result"] == "Success" for p in mine)


def test_state_mismatch_consumes_the_session(
    server: Server, admin: httpx.Client, sp: ServiceProvider
) -> None:
    app = saml_app(admin, sp)
    started = httpx.get(f"{server.endpoint}/api/saml/{app['id']}/sign-in?RelayState=home")
    assert started.status_code == 303, started.text
    cookie = {"portico_saml": started.cookies["portico_saml"]}
    callback = f"{server.endpoint}/api/saml-applications/{app['id']}/callback"
    refused(httpx.get(callback, params={"code": "x", "state": "wrong"}, cookies=cookie), 400,
            "application.saml.state_mismatch")  # fmt: skip
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    refused(httpx.get(callback, params={"code": "x", "state": state}, cookies=cookie), 400,
            "application.saml.sp_initiated_saml_sso_session_not_found")  # fmt: skip
