"""Enterprise SSO over SAML 2.0, Portico as the service provider: a local SAML IdP
(pysaml2's ``saml2.server.Server``, driven through ``portico.saml_idp.entity``, with its own
key and certificate made here with ``cryptography``) serves its metadata and sign-in page on
loopback; users sign in on the lab's pages (a new account, an account linked by email),
through the Experience API, IdP-initiated, and in Chromium. Crafted responses posted to the
ACS are refused with the reason audited: tampered, replayed, wrong audience, expired,
unsigned, signature-wrapped, comment-injected, signed by another key, answering another
request."""

from __future__ import annotations

import base64
import datetime
import html
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import xmldsig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID

from portico.saml_idp import entity
from portico.saml_idp.formats import Binding
from tests.lab import EMAIL_WITH_PASSWORD, Lab
from tests.support import Browser, csrf_of, free_port, query_of, unique
from tests.test_experience_flows import finish, start

DOMAIN = "saml-corp.example"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


def key_and_certificate(name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


class SamlIdp:
    """The organization's IdP: ``/metadata``, and ``/sso`` (HTTP-Redirect) answering with a
    page that posts a signed response for ``user`` to the ACS."""

    def __init__(self) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        key, cert = key_and_certificate("Test IdP")
        self.idp = entity.IdentityProvider(
            f"{self.base}/idp", f"{self.base}/sso", key, cert, NAMEID_FORMAT_EMAILADDRESS
        )
        self.sp: entity.ServiceProvider | None = None
        self.user: tuple[str, dict[str, list[str]]] = ("nobody@" + DOMAIN, {})
        self.metadata = entity.metadata(self.idp)
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/metadata":
                    self._send(200, idp.metadata, "text/xml")
                elif parts.path == "/sso":
                    self._send(200, idp.sign_in_page(parse_qs(parts.query)), "text/html")
                else:
                    self._send(404, "not found", "text/plain")

            def _send(self, status: int, body: str, kind: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def request_id(self, saml_request: str, relay_state: str | None = None) -> str:
        assert self.sp is not None
        parsed = entity.parse_request(
            self.idp, self.sp, Binding.REDIRECT, saml_request, relay_state=relay_state
        )
        return parsed.id

    def response_xml(
        self,
        in_response_to: str | None,
        *,
        audience: str | None = None,
        signed: bool = True,
        minutes: int = 10,
        key: tuple[str, str] | None = None,
    ) -> str:
        assert self.sp is not None
        sp = entity.ServiceProvider(audience or self.sp.entity_id, self.sp.acs_url)
        idp = self.idp
        if key is not None:
            idp = entity.IdentityProvider(idp.entity_id, idp.sso_url, *key, idp.name_id_format)
        name_id, attributes = self.user
        with (
            mock.patch.object(entity, "ASSERTION_MINUTES", minutes),
            entity._server(idp, sp) as server,
        ):
            response = server.create_authn_response(
                attributes, in_response_to, sp.acs_url, sp.entity_id,
                name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name_id),
                authn={"class_ref": entity.PASSWORD_PROTECTED},
                sign_response=signed, sign_assertion=signed,
                sign_alg=xmldsig.SIG_RSA_SHA256, digest_alg=xmldsig.DIGEST_SHA256,
            )  # fmt: skip
        return str(response)

    def sign_in_page(self, query: dict[str, list[str]]) -> str:
        relay = query.get("RelayState", [""])[0]
        answered = self.request_id(query["SAMLRequest"][0], relay)
        posted = encode(self.response_xml(answered))
        assert self.sp is not None
        return (
            f'<html><body><form method="post" action="{html.escape(self.sp.acs_url)}">'
            f'<input type="hidden" name="SAMLResponse" value="{posted}">'
            f'<input type="hidden" name="RelayState" value="{html.escape(relay)}">'
            '<button id="go" type="submit">Continue</button></form></body></html>'
        )


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


@pytest.fixture(scope="module")
def idp() -> Iterator[SamlIdp]:
    server = SamlIdp()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def corp(lab_session: Lab, idp: SamlIdp) -> Iterator[str]:
    """A SAML connector at the lab for ``DOMAIN``, its IdP's metadata fetched by URL."""
    created = lab_session.api.post(
        "/api/sso-connectors",
        json={
            "providerName": "SAML",
            "connectorName": unique("saml"),
            "domains": [DOMAIN],
            "branding": {"displayName": "Corp SAML"},
            "syncProfile": True,
            "config": {"metadataUrl": f"{idp.base}/metadata"},
        },
    )
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    shown = lab_session.api.get(f"/api/sso-connectors/{cid}").json()["providerConfig"]
    sp = shown["serviceProvider"]
    idp.sp = entity.ServiceProvider(sp["entityId"], sp["assertionConsumerServiceUrl"])
    yield cid
    lab_session.api.delete(f"/api/sso-connectors/{cid}")


@pytest.fixture
def sso_lab(lab: Lab, corp: str) -> Iterator[Lab]:
    lab.configure(singleSignOnEnabled=True, **EMAIL_WITH_PASSWORD)
    yield lab
    lab.configure(singleSignOnEnabled=False)


def sso_start(lab: Lab, here: Browser, email: str) -> tuple[str, str, str]:
    """The sign-in page, the email, "Single sign-on": ``(request id, RelayState, verifier)``
    of the AuthnRequest the browser is sent to the IdP with."""
    page, verifier = start(lab, here, scope="openid profile email")
    offered = here.client.post(
        f"{lab.server.endpoint}/sign-in",
        data={"csrf_token": csrf_of(page.text), "identifier": email},
    )
    assert offered.status_code == 200 and "Continue with Corp SAML" in offered.text
    corp_id = offered.text.split('href="/sso/')[1].split('"')[0]
    to_idp = here.get(f"/sso/{corp_id}")
    assert to_idp.status_code == 303, to_idp.text
    location = to_idp.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith("http://127.0.0.1:") and "/sso?" in location
    relay = query["RelayState"][0]
    return SamlIdpRef.current.request_id(query["SAMLRequest"][0], relay), relay, verifier


class SamlIdpRef:
    current: SamlIdp


@pytest.fixture(autouse=True)
def _current_idp(idp: SamlIdp) -> None:
    SamlIdpRef.current = idp
    idp.user = ("nobody@" + DOMAIN, {})


def post_acs(here: Browser, idp: SamlIdp, xml: str, relay: str | None) -> httpx.Response:
    assert idp.sp is not None
    data = {"SAMLResponse": encode(xml)}
    if relay is not None:
        data["RelayState"] = relay
    return here.client.post(idp.sp.acs_url, data=data)


def person(idp: SamlIdp, name: str = "Saml Person") -> str:
    email = f"{unique('s')}@{DOMAIN}"
    idp.user = (email, {"email": [email], "name": [name]})
    return email


def audited_reasons(lab: Lab) -> list[str]:
    logs = lab.api.get("/api/logs", params={"page_size": 100}).json()
    return [
        str(e["payload"].get("reason"))
        for e in logs
        if e["key"] == "Interaction.SignIn.Identifier.SingleSignOn.Submit"
        and e["payload"].get("result") == "Error"
    ]


# Configuration ------------------------------------------------------------------------------
def test_provider_config_shows_portico_sp_and_the_idp(
    sso_lab: Lab, idp: SamlIdp, corp: str
) -> None:
    endpoint = sso_lab.server.endpoint
    shown = sso_lab.api.get(f"/api/sso-connectors/{corp}").json()
    assert shown["providerName"] == "SAML" and shown["providerType"] == "saml"
    config = shown["providerConfig"]
    assert config["serviceProvider"] == {
        "entityId": f"{endpoint}/enterprise-sso/{corp}",
        "assertionConsumerServiceUrl": f"{endpoint}/api/authn/single-sign-on/saml/{corp}",
    }
    assert config["defaultAttributeMapping"] == {"id": "nameID", "email": "email", "name": "name"}
    assert config["identityProvider"]["entityId"] == idp.idp.entity_id
    assert config["identityProvider"]["signInEndpoint"] == idp.idp.sso_url
    assert config["identityProvider"]["isCertificateValid"] is True
    names = [p["providerName"] for p in sso_lab.api.get("/api/sso-connector-providers").json()]
    assert names[:3] == ["OIDC", "SAML", "AzureAD"]
    empty = sso_lab.api.post(
        "/api/sso-connectors", json={"providerName": "AzureAD", "connectorName": unique("az")}
    ).json()
    try:
        detail = sso_lab.api.get(f"/api/sso-connectors/{empty['id']}").json()
        assert set(detail["providerConfig"]) == {"defaultAttributeMapping", "serviceProvider"}
        bad = sso_lab.api.patch(
            f"/api/sso-connectors/{empty['id']}", json={"config": {"metadata": "<not-xml"}}
        )
        assert (bad.status_code, bad.json()["code"]) == (400, "connector.invalid_metadata")
        down = sso_lab.api.patch(
            f"/api/sso-connectors/{empty['id']}",
            json={"config": {"metadataUrl": "http://127.0.0.1:9/metadata"}},
        )
        assert (down.status_code, down.json()["code"]) == (400, "connector.invalid_config")
        inline = sso_lab.api.patch(
            f"/api/sso-connectors/{empty['id']}", json={"config": {"metadata": idp.metadata}}
        )
        assert inline.status_code == 200, inline.text
        assert inline.json()["providerConfig"]["identityProvider"]["entityId"] == idp.idp.entity_id
    finally:
        sso_lab.api.delete(f"/api/sso-connectors/{empty['id']}")


# Sign-in ------------------------------------------------------------------------------------
def test_new_user_signs_up_through_saml(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    email = person(idp, "New Saml Person")
    here = sso_lab.browser()
    request_id, relay, verifier = sso_start(sso_lab, here, email)
    posted = post_acs(here, idp, idp.response_xml(request_id), relay)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].startswith(f"/callback/sso/{corp}?RelayState=")
    claims = finish(sso_lab, here, here.get(posted.headers["location"]), verifier)
    assert claims["email"] == email and claims["name"] == "New Saml Person"
    found = sso_lab.api.get(f"/api/users/{claims['sub']}/sso-identities/{corp}").json()
    assert found["ssoIdentity"]["issuer"] == idp.idp.entity_id
    assert found["ssoIdentity"]["identityId"] == email  # nameID, Logto's default mapping


def test_existing_user_is_linked_and_profile_synced(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    email = person(idp, "Synced Saml Name")
    existing = sso_lab.api.post("/api/users", json={"primaryEmail": email, "name": "Old"})
    user_id = existing.json()["id"]
    here = sso_lab.browser()
    request_id, relay, verifier = sso_start(sso_lab, here, email)
    posted = post_acs(here, idp, idp.response_xml(request_id), relay)
    claims = finish(sso_lab, here, here.get(posted.headers["location"]), verifier)
    assert claims["sub"] == user_id
    assert sso_lab.api.get(f"/api/users/{user_id}").json()["name"] == "Synced Saml Name"


def test_experience_api_flow(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    endpoint = sso_lab.server.endpoint
    email = person(idp)
    here = sso_lab.browser()
    start(sso_lab, here, scope="openid profile email")
    here.client.put(f"{endpoint}/api/experience", json={"interactionEvent": "SignIn"})
    begun = here.client.post(
        f"{endpoint}/api/experience/verification/sso/{corp}/authorization-uri",
        json={"state": "spa-state-1", "redirectUri": "http://localhost:3000/spa-callback"},
    )
    assert begun.status_code == 200, begun.text
    query = parse_qs(urlsplit(begun.json()["authorizationUri"]).query)
    request_id = idp.request_id(query["SAMLRequest"][0])
    posted = post_acs(here, idp, idp.response_xml(request_id), query["RelayState"][0])
    back = here.get(posted.headers["location"])
    assert back.status_code == 303
    assert back.headers["location"] == "http://localhost:3000/spa-callback?state=spa-state-1"
    verification_id = begun.json()["verificationId"]
    verified = here.client.post(
        f"{endpoint}/api/experience/verification/sso/{corp}/verify",
        json={"verificationId": verification_id, "connectorData": {"state": "spa-state-1"}},
    )
    assert verified.status_code == 200, verified.text
    identified = here.client.post(
        f"{endpoint}/api/experience/identification", json={"verificationId": verification_id}
    )
    assert (identified.status_code, identified.json()["code"]) == (
        404,
        "user.sso_identity_not_exist",
    )
    assert email


# Refusals -----------------------------------------------------------------------------------
def _tamper(xml: str) -> str:
    return xml.replace(">Saml Person<", ">Someone Else<")


def _wrap(xml: str) -> str:
    """XML signature wrapping: an unsigned copy of the assertion for someone else takes its
    place, with the signed one moved inside it."""
    found = re.search(r"<(\w+):Assertion[ >]", xml)
    assert found
    close = f"</{found.group(1)}:Assertion>"
    start_at, end_at = found.start(), xml.index(close) + len(close)
    signed = xml[start_at:end_at]
    evil = re.sub(r"<(\w+):Signature[ >].*?</\1:Signature>", "", signed, flags=re.S)
    evil = evil.replace('ID="', 'ID="evil', 1).replace("Saml Person", "Evil")
    forged = evil[: -len(close)] + signed + close
    return xml[:start_at] + forged + xml[end_at:]


def _comment(xml: str) -> str:
    name_id = SamlIdpRef.current.user[0]
    local, _, host = name_id.partition("@")
    return xml.replace(f">{name_id}<", f">{local}@{host}<!---->.evil.example<", 1)


CRAFTED = {
    "tampered": lambda idp, rid: _tamper(idp.response_xml(rid)),
    "wrong_audience": lambda idp, rid: idp.response_xml(rid, audience="https://other.example/sp"),
    "expired": lambda idp, rid: idp.response_xml(rid, minutes=-10),
    "unsigned": lambda idp, rid: idp.response_xml(rid, signed=False),
    "wrapped": lambda idp, rid: _wrap(idp.response_xml(rid)),
    "comment_injection": lambda idp, rid: _comment(idp.response_xml(rid)),
}


@pytest.mark.parametrize("reason", [*CRAFTED, "other_key"])
def test_crafted_responses_are_refused_and_audited(
    sso_lab: Lab, idp: SamlIdp, corp: str, reason: str
) -> None:
    email = person(idp, "Saml Person")
    here = sso_lab.browser()
    request_id, relay, _ = sso_start(sso_lab, here, email)
    if reason == "other_key":
        xml = idp.response_xml(request_id, key=key_and_certificate("Attacker"))
    else:
        xml = CRAFTED[reason](idp, request_id)
    refused = post_acs(here, idp, xml, relay)
    assert refused.status_code == 400, refused.text
    assert "Single sign-on failed" in refused.text and "Traceback" not in refused.text
    assert "connector.authorization_failed" in refused.text
    expected = "tampered" if reason == "other_key" else reason
    assert audited_reasons(sso_lab)[0] == expected
    assert sso_lab.api.get("/api/users", params={"search": email}).json() == []


def test_replayed_assertion_is_refused(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    email = person(idp)
    here = sso_lab.browser()
    request_id, relay, verifier = sso_start(sso_lab, here, email)
    xml = idp.response_xml(request_id)
    first = post_acs(here, idp, xml, relay)
    assert first.status_code == 303
    again = post_acs(sso_lab.browser(), idp, xml, "another-relay-state")
    assert again.status_code == 400 and "already used" in again.text
    assert audited_reasons(sso_lab)[0] == "replayed"
    finish(sso_lab, here, here.get(first.headers["location"]), verifier)  # the first works


def test_refusals_are_limited_per_address(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    """The ACS is anonymous: past 30 refused responses an address is refused at once for a
    while, and its posts leave no more audit entries (a flood neither probes on nor fills
    the log); its good responses are not what counts."""
    from portico.storage.sentinel import clear_failures
    from portico.web import sso_acs

    here = sso_lab.browser()
    junk = {"SAMLResponse": encode("<nope/>"), "RelayState": "x"}
    try:
        replies = [here.client.post(idp.sp.acs_url, data=junk) for _ in range(sso_acs.REFUSALS + 1)]
        before = len(audited_reasons(sso_lab))
        after_lock = here.client.post(idp.sp.acs_url, data=junk)
        assert len(audited_reasons(sso_lab)) == before  # nothing more written
    finally:  # the lock is on this address, which every test of this server shares
        sso_lab.server.db(lambda conn: clear_failures(conn, "default"))
    statuses = [r.status_code for r in replies]
    assert 429 in statuses and set(statuses[statuses.index(429) :]) == {429}
    assert set(statuses[: statuses.index(429)]) == {400}
    assert after_lock.status_code == 429 and "Traceback" not in after_lock.text


def test_response_to_another_request_is_refused(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    email = person(idp)
    here = sso_lab.browser()
    _, relay, _ = sso_start(sso_lab, here, email)
    posted = post_acs(here, idp, idp.response_xml("_another-request"), relay)
    assert posted.status_code == 303  # the ACS cannot know: the browser's interaction does
    refused = here.get(posted.headers["location"])
    assert refused.status_code == 400 and "did not work" in refused.text
    assert audited_reasons(sso_lab)[0] == "wrong_in_response_to"
    replay = here.get(posted.headers["location"])  # taken once
    assert replay.status_code == 400


def test_unreachable_metadata_gives_a_clear_page(sso_lab: Lab, idp: SamlIdp) -> None:
    made = sso_lab.api.post(
        "/api/sso-connectors",
        json={
            "providerName": "SAML",
            "connectorName": unique("gone"),
            "domains": ["gone-saml.example"],
            "config": {"metadata": idp.metadata},
        },
    )
    cid = made.json()["id"]
    try:

        async def break_it(conn: Any) -> None:
            from sqlalchemy import update

            from portico.storage.tables import sso_connectors

            await conn.execute(
                update(sso_connectors)
                .where(sso_connectors.c.id == cid)
                .values(config={"metadataUrl": "http://127.0.0.1:9/gone"})
            )

        sso_lab.server.db(break_it)
        here = sso_lab.browser()
        page, _ = start(sso_lab, here)
        offered = here.client.post(
            f"{sso_lab.server.endpoint}/sign-in",
            data={"csrf_token": csrf_of(page.text), "identifier": "a@gone-saml.example"},
        )
        assert f"/sso/{cid}" in offered.text
        failed = here.get(f"/sso/{cid}")
        assert failed.status_code == 500 and "did not work" in failed.text
        acs = here.client.post(
            f"{sso_lab.server.endpoint}/api/authn/single-sign-on/saml/{cid}",
            data={"SAMLResponse": encode("<x/>"), "RelayState": "r"},
        )
        assert acs.status_code == 500 and "Single sign-on failed" in acs.text
        assert "connector.invalid_config" in acs.text
    finally:
        sso_lab.api.delete(f"/api/sso-connectors/{cid}")


# IdP-initiated ------------------------------------------------------------------------------
def test_idp_initiated_sign_in_only_when_configured(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    api, path = sso_lab.api, f"/api/sso-connectors/{corp}/idp-initiated-auth-config"
    email = person(idp, "Idp Initiated")
    unsolicited = idp.response_xml(None)
    refused = post_acs(sso_lab.browser(), idp, unsolicited, None)
    assert refused.status_code == 404 and "not enabled" in refused.text
    assert audited_reasons(sso_lab)[0] == "unsolicited"
    assert api.get(path).status_code == 404
    config = {
        "defaultApplicationId": sso_lab.app_id,
        "autoSendAuthorizationRequest": True,
        "redirectUri": sso_lab.redirect_uri,
        "authParameters": {"scope": "email"},
    }
    put = api.put(path, json=config)
    assert put.status_code == 200, put.text
    assert put.json()["autoSendAuthorizationRequest"] is True and put.json()["connectorId"] == corp
    try:
        here = sso_lab.browser()
        landed = post_acs(here, idp, unsolicited, None)
        assert landed.status_code == 303, landed.text
        target = landed.headers["location"]
        assert target.startswith(f"{sso_lab.server.endpoint}/oidc/auth?")
        query = query_of(target)
        assert query["direct_sign_in"] == f"sso:{corp}" and query["prompt"] == "login"
        assert query["scope"] == "openid profile email"
        back = here.follow_until_external(here.client.get(target))
        assert back.status_code == 303 and "code" in query_of(back.headers["location"]), back.text
        users = api.get("/api/users", params={"search": email}).json()
        assert [u["primaryEmail"] for u in users] == [email]
        again = post_acs(here, idp, unsolicited, None)  # the same assertion: a replay
        assert again.status_code == 400
        by_client = api.put(
            path,
            json={
                "defaultApplicationId": sso_lab.app_id,
                "autoSendAuthorizationRequest": False,
                "clientIdpInitiatedAuthCallbackUri": "http://localhost:3000/idp-callback",
            },
        )
        assert by_client.status_code == 200, by_client.text
        sent = post_acs(sso_lab.browser(), idp, idp.response_xml(None), None)
        assert sent.headers["location"] == (
            f"http://localhost:3000/idp-callback?ssoConnectorId={corp}"
        )
    finally:
        assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_idp_initiated_config_rules(sso_lab: Lab, corp: str) -> None:
    api = sso_lab.api
    oidc = api.post(
        "/api/sso-connectors", json={"providerName": "OIDC", "connectorName": unique("o")}
    ).json()["id"]
    try:
        body = {"defaultApplicationId": sso_lab.app_id, "autoSendAuthorizationRequest": True}
        refused = api.put(f"/api/sso-connectors/{oidc}/idp-initiated-auth-config", json=body)
        assert refused.json()["code"] == "single_sign_on.idp_initiated_authentication_not_supported"
    finally:
        api.delete(f"/api/sso-connectors/{oidc}")
    path = f"/api/sso-connectors/{corp}/idp-initiated-auth-config"
    unregistered = api.put(
        path, json={**body, "redirectUri": "http://localhost:3000/not-registered"}
    )
    assert unregistered.json()["code"] == (
        "single_sign_on.idp_initiated_authentication_redirect_uri_not_registered"
    )
    missing = api.put(path, json={**body, "autoSendAuthorizationRequest": False})
    assert (missing.status_code, missing.json()["code"]) == (400, "guard.invalid_input")
    unknown = api.put(path, json={**body, "defaultApplicationId": "nope"})
    assert unknown.status_code == 404
    assert api.get(path).status_code == 404  # nothing was stored


# A real browser -----------------------------------------------------------------------------
def test_chromium_signs_in_through_saml(sso_lab: Lab, idp: SamlIdp, corp: str) -> None:
    """The email leads to "Single sign-on", the IdP's page (another site) posts the
    response to the ACS, and the browser lands at the client with a code."""
    from tests.support import authorize_url
    from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

    email = person(idp, "Browser Saml")
    url = authorize_url(sso_lab.server, sso_lab.app_id, sso_lab.redirect_uri)
    with chromium_context() as context:
        page = context.new_page()
        page.goto(url)
        page.fill("#identifier", email)
        page.click("button[type=submit]")
        page.get_by_text("Continue with Corp SAML").click()
        page.wait_for_url(f"{idp.base}/**")
        landed = submit_and_wait_for_client(page, lambda: page.click("#go"))
        assert "code" in query_of(landed), landed
    users = sso_lab.api.get("/api/users", params={"search": email}).json()
    assert [u["name"] for u in users] == ["Browser Saml"]


# Signed AuthnRequests ---------------------------------------------------------------------------
def test_signing_keys_api_rules(sso_lab: Lab, corp: str) -> None:
    """Logto's ``/sso-connectors/:id/signing-keys``: SAML connectors only, one active key,
    the key in use neither deleted nor deactivated, never a private key in an answer."""
    api = sso_lab.api
    keys = f"/api/sso-connectors/{corp}/signing-keys"
    config = api.get(f"/api/sso-connectors/{corp}").json()["config"]
    refused = api.patch(
        f"/api/sso-connectors/{corp}", json={"config": {**config, "signAuthnRequest": True}}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "single_sign_on.active_signing_key_required"
    new = api.post("/api/sso-connectors", json={
        "providerName": "SAML", "connectorName": unique("signed"),
        "config": {**config, "signAuthnRequest": True}})  # fmt: skip
    assert new.status_code == 400
    assert new.json()["code"] == "single_sign_on.active_signing_key_required"

    first = api.post(keys, json={})
    assert first.status_code == 201, first.text
    key = first.json()
    assert set(key) == {"id", "certificate", "createdAt", "expiresAt", "active", "fingerprints"}
    assert key["active"] is False and "PRIVATE" not in first.text
    assert len(key["fingerprints"]["sha256"]["unformatted"]) == 64
    lifetime = datetime.timedelta(milliseconds=key["expiresAt"] - key["createdAt"])
    assert datetime.timedelta(days=3 * 365) <= lifetime <= datetime.timedelta(days=3 * 366 + 1)
    cert = x509.load_pem_x509_certificate(key["certificate"].encode())
    assert cert.subject.rfc4514_string() == "O=Portico,CN=Portico SAML SP"
    activated = api.patch(f"{keys}/{key['id']}", json={"active": True})
    assert activated.status_code == 200 and activated.json()["active"] is True
    second = api.post(keys, json={"active": True}).json()  # rotation: the new one takes over
    listed = {k["id"]: k["active"] for k in api.get(keys).json()}
    assert listed == {key["id"]: False, second["id"]: True}

    enabled = api.patch(
        f"/api/sso-connectors/{corp}", json={"config": {**config, "signAuthnRequest": True}}
    )
    assert enabled.status_code == 200, enabled.text
    try:
        in_use = api.patch(f"{keys}/{second['id']}", json={"active": False})
        assert in_use.status_code == 400
        assert in_use.json()["code"] == "single_sign_on.can_not_deactivate_signing_key_in_use"
        active_delete = api.delete(f"{keys}/{second['id']}")
        assert active_delete.status_code == 400
        assert active_delete.json()["code"] == "single_sign_on.can_not_delete_active_signing_key"
    finally:
        api.patch(f"/api/sso-connectors/{corp}", json={"config": config})
    assert api.delete(f"{keys}/{key['id']}").status_code == 204
    assert api.delete(f"{keys}/{key['id']}").status_code == 404
    assert api.patch(f"{keys}/{second['id']}", json={"active": False}).status_code == 200
    assert api.delete(f"{keys}/{second['id']}").status_code == 204
    assert api.get(keys).json() == []
    oidc = api.post("/api/sso-connectors", json={"providerName": "OIDC",
                                                  "connectorName": unique("oidc")})  # fmt: skip
    assert oidc.status_code == 200, oidc.text
    try:
        not_saml = api.get(f"/api/sso-connectors/{oidc.json()['id']}/signing-keys")
        assert not_saml.status_code == 404 and not_saml.json()["code"] == "connector.not_found"
    finally:
        api.delete(f"/api/sso-connectors/{oidc.json()['id']}")


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "rsa-sha512"])
def test_signed_authn_requests_are_verified_by_the_idp(
    sso_lab: Lab, idp: SamlIdp, corp: str, algorithm: str
) -> None:
    """With ``signAuthnRequest`` the AuthnRequest carries ``SigAlg`` and ``Signature``
    (HTTP-Redirect binding); pysaml2 on the IdP's side verifies them against the certificate
    of the connector's active key, refuses a tampered one, and the sign-in completes."""
    api = sso_lab.api
    keys = f"/api/sso-connectors/{corp}/signing-keys"
    key = api.post(keys, json={"active": True}).json()
    config = api.get(f"/api/sso-connectors/{corp}").json()["config"]
    uri = f"http://www.w3.org/2001/04/xmldsig-more#{algorithm}"
    signed = {**config, "signAuthnRequest": True, "requestSignatureAlgorithm": uri}
    assert api.patch(f"/api/sso-connectors/{corp}", json={"config": signed}).status_code == 200
    try:
        email = person(idp, "Signed Request Person")
        here = sso_lab.browser()
        page, verifier = start(sso_lab, here, scope="openid profile email")
        typed = {"csrf_token": csrf_of(page.text), "identifier": email}
        offered = here.client.post(f"{sso_lab.server.endpoint}/sign-in", data=typed)
        location = here.get(f"/sso/{corp}").headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert offered.status_code == 200 and query["SigAlg"] == uri and query["Signature"]
        assert list(query) == ["SAMLRequest", "RelayState", "SigAlg", "Signature"]
        assert idp.sp is not None
        sp = entity.ServiceProvider(
            idp.sp.entity_id, idp.sp.acs_url, certificate=key["certificate"]
        )

        def parse(signature: str) -> entity.AuthnRequest:
            return entity.parse_request(
                idp.idp, sp, Binding.REDIRECT, query["SAMLRequest"],
                relay_state=query["RelayState"], sig_alg=query["SigAlg"], signature=signature,
            )  # fmt: skip

        request = parse(query["Signature"])
        forged = base64.b64encode(b"\0" * 384).decode()
        with pytest.raises(entity.SamlRequestError):
            parse(forged)
        posted = post_acs(here, idp, idp.response_xml(request.id), query["RelayState"])
        assert posted.status_code == 303, posted.text
        claims = finish(sso_lab, here, here.get(posted.headers["location"]), verifier)
        assert claims["email"] == email
    finally:
        api.patch(f"/api/sso-connectors/{corp}", json={"config": config})
        api.patch(f"{keys}/{key['id']}", json={"active": False})
        api.delete(f"{keys}/{key['id']}")


def test_export_and_import_carry_signing_keys(sso_lab: Lab, corp: str, tmp_path: Any) -> None:
    """A connector's signing keys travel sealed; under another encryption key the private
    key is re-sealed and opens there to the same key."""
    import asyncio
    import io
    import json
    import os

    from sqlalchemy import select

    from portico.connectors.secrets import Sealer
    from portico.services import sso_signing_keys
    from portico.services.bootstrap import ensure_ready
    from portico.storage.database import create_engine
    from portico.storage.tables import saml_sso_connector_signing_keys as keys
    from portico.transfer.exporter import export
    from portico.transfer.importer import ImportOptions, import_stream
    from tests.support import create_database

    made = sso_lab.api.post(f"/api/sso-connectors/{corp}/signing-keys", json={}).json()
    source_key = sso_lab.server.settings.encryption_key_bytes()

    async def stored(url: str) -> dict[str, Any]:
        engine = create_engine(url, pool=False)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(select(keys).where(keys.c.id == made["id"]))).one()
            return dict(row._mapping)
        finally:
            await engine.dispose()

    async def dump() -> str:
        engine = create_engine(sso_lab.server.database_url, pool=False)
        out = io.StringIO()
        try:
            await export(engine, "default", out, encryption_key=lambda: source_key)
        finally:
            await engine.dispose()
        return out.getvalue()

    try:
        text = asyncio.run(dump())
        assert "PRIVATE KEY" not in text
        records = [json.loads(line) for line in text.splitlines()]
        [record] = [r for r in records if r.get("data", {}).get("id") == made["id"]]
        assert record["type"] == "samlSsoConnectorSigningKey"
        source = asyncio.run(stored(sso_lab.server.database_url))
        pem = sso_signing_keys.open_key(Sealer(source_key), corp, made["id"], source["private_key"])
        assert pem and "PRIVATE KEY" in pem
        url, drop = create_database(str(tmp_path))
        target_key = os.urandom(32)

        async def load() -> None:
            engine = create_engine(url, pool=False)
            try:
                await ensure_ready(engine)
                options = ImportOptions(
                    encryption_key=lambda: target_key, reencrypt_from=source_key
                )
                await import_stream(engine, "default", io.BytesIO(text.encode()), options)
            finally:
                await engine.dispose()

        try:
            asyncio.run(load())
            moved = asyncio.run(stored(url))
            assert moved["certificate"] == made["certificate"] and moved["active"] is False
            opened = sso_signing_keys.open_key(Sealer(target_key), corp, made["id"],
                                               moved["private_key"])  # fmt: skip
            assert opened == pem
            assert sso_signing_keys.open_key(Sealer(source_key), corp, made["id"],
                                             moved["private_key"]) is None  # fmt: skip
        finally:
            drop()
    finally:
        sso_lab.api.delete(f"/api/sso-connectors/{corp}/signing-keys/{made['id']}")
