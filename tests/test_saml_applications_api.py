"""``/api/saml-applications`` (Portico as a SAML identity provider) through the real server:
Logto's shapes, status codes and error codes, certificates and their rotation, the anonymous
metadata, and what ``/api/applications`` shows and refuses for a SAML application."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.management import error, invalid_fields
from tests.support import Server, unique

POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


def sp_certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sp.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def create(admin: httpx.Client, **body: object) -> dict:
    response = admin.post("/saml-applications", json={"name": unique("SAML"), **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_get_update_delete_in_logto_shape(admin: httpx.Client) -> None:
    app = create(admin, description="Wiki", entityId="http://sp.example/foo")
    assert app["type"] == "SAML" and app["isThirdParty"] is False and app["tenantId"] == "default"
    assert app["nameIdFormat"] == PERSISTENT and app["attributeMapping"] == {}
    assert app["acsUrl"] is None and app["encryption"] is None
    assert app["entityId"] == "http://sp.example/foo"
    assert "secret" not in app and "oidcClientMetadata" not in app
    assert admin.get(f"/saml-applications/{app['id']}").json() == app

    acs = {"binding": POST, "url": "https://sp.example/acs"}
    mapping = {"sub": "uid", "email": "mail", "preferred_username": "username"}
    patched = admin.patch(f"/saml-applications/{app['id']}", json={
        "name": "Renamed", "acsUrl": acs, "attributeMapping": mapping, "nameIdFormat": EMAIL,
    }).json()  # fmt: skip
    assert patched["name"] == "Renamed" and patched["acsUrl"] == acs
    assert patched["attributeMapping"] == mapping and patched["nameIdFormat"] == EMAIL
    assert patched["entityId"] == "http://sp.example/foo" and patched["description"] == "Wiki"
    cleared = admin.patch(f"/saml-applications/{app['id']}", json={"entityId": None}).json()
    assert cleared["entityId"] is None and cleared["acsUrl"] == acs
    assert admin.get(f"/saml-applications/{app['id']}").json() == cleared

    assert admin.delete(f"/saml-applications/{app['id']}").status_code == 204
    error(admin.get(f"/saml-applications/{app['id']}"), 404, "entity.not_exists_with_id")
    error(admin.delete(f"/saml-applications/{app['id']}"), 404, "entity.not_exists_with_id")


def test_encryption_config_is_kept_and_checked(admin: httpx.Client) -> None:
    encryption = {"encryptAssertion": True, "encryptThenSign": False,
                  "certificate": sp_certificate()}  # fmt: skip
    app = create(admin, encryption=encryption)
    assert app["encryption"] == encryption
    half = {"name": "x", "encryption": {"encryptAssertion": True}}
    error(admin.post("/saml-applications", json=half), 400, "guard.invalid_input")
    pem = "-----BEGIN CERTIFICATE-----\nMIID...\n-----END CERTIFICATE-----"
    broken = {"encryptAssertion": True, "encryptThenSign": True, "certificate": pem}
    error(admin.patch(f"/saml-applications/{app['id']}", json={"encryption": broken}), 400,
          "application.saml.invalid_certificate_pem_format")  # fmt: skip
    assert admin.get(f"/saml-applications/{app['id']}").json()["encryption"] == encryption


def test_bad_input_is_refused_precisely_and_stores_nothing(admin: httpx.Client) -> None:
    name = unique("refused")
    redirect_acs = {"binding": REDIRECT, "url": "https://sp.example/acs"}
    error(admin.post("/saml-applications", json={"name": name, "acsUrl": redirect_acs}), 422,
          "application.saml.acs_url_binding_not_supported")  # fmt: skip
    script = {"binding": POST, "url": "javascript:alert(1)"}
    error(admin.post("/saml-applications", json={"name": name, "acsUrl": script}), 400,
          "application.saml.acs_url_scheme_not_supported")  # fmt: skip
    error(admin.post("/saml-applications", json={"name": name, "attributeMapping": {"pwd": "x"}}),
          400, "guard.invalid_input")  # fmt: skip
    assert "body.nameIdFormat" in invalid_fields(
        admin.post("/saml-applications", json={"name": name, "nameIdFormat": "urn:nope"})
    )
    assert "body.extra" in invalid_fields(
        admin.post("/saml-applications", json={"name": name, "extra": 1})
    )
    listed = admin.get("/applications", params={"types": "SAML", "search": name})
    assert listed.status_code == 200 and listed.json() == []


def test_generic_application_api_shows_and_refuses_saml_apps(admin: httpx.Client) -> None:
    app = create(admin)
    shown = admin.get(f"/applications/{app['id']}").json()
    assert shown["type"] == "SAML"
    assert shown["oidcClientMetadata"] == {"redirectUris": [], "postLogoutRedirectUris": []}
    listed = admin.get("/applications", params={"types": "SAML"}).json()
    assert app["id"] in {a["id"] for a in listed} and {a["type"] for a in listed} == {"SAML"}
    error(admin.patch(f"/applications/{app['id']}", json={"name": "x"}), 400,
          "application.saml.use_saml_app_api")  # fmt: skip
    error(admin.delete(f"/applications/{app['id']}"), 400, "application.saml.use_saml_app_api")
    error(admin.post("/applications", json={"name": "x", "type": "SAML"}), 400,
          "application.saml.use_saml_app_api")  # fmt: skip
    traditional = admin.post("/applications", json={"name": "t", "type": "Traditional"}).json()
    for response in (
        admin.get(f"/saml-applications/{traditional['id']}"),
        admin.patch(f"/saml-applications/{traditional['id']}", json={"name": "x"}),
        admin.delete(f"/saml-applications/{traditional['id']}"),
        admin.get(f"/saml-applications/{traditional['id']}/secrets"),
    ):
        error(response, 422, "application.saml.saml_application_only")


def test_no_cap_on_the_number_of_saml_apps(admin: httpx.Client) -> None:
    ids = [create(admin)["id"] for _ in range(5)]  # Logto's open-source edition stops at 3
    assert len(set(ids)) == 5


def test_certificates_rotate_one_active_at_a_time(admin: httpx.Client, server: Server) -> None:
    app = create(admin)
    path = f"/saml-applications/{app['id']}/secrets"
    [first] = admin.get(path).json()
    assert first["active"] is True and "privateKey" not in first
    years = (first["expiresAt"] - first["createdAt"]) / (365.25 * 86400 * 1000)
    assert 2.9 < years < 3.1  # Logto's first certificate: three years
    created = admin.post(path, json={"lifeSpanInYears": 1})
    assert created.status_code == 201, created.text
    second = created.json()
    assert second["active"] is False and "privateKey" not in second
    sha = second["fingerprints"]["sha256"]
    assert len(sha["unformatted"]) == 64 and sha["formatted"].replace(":", "") == sha["unformatted"]

    activated = admin.patch(f"{path}/{second['id']}", json={"active": True}).json()
    assert activated["active"] is True
    listed = {s["id"]: s["active"] for s in admin.get(path).json()}
    assert listed == {first["id"]: False, second["id"]: True}
    metadata = httpx.get(f"{server.endpoint}/api/saml-applications/{app['id']}/metadata")
    published = ET.fromstring(metadata.text).find(f".//{DS}X509Certificate")
    assert (
        published is not None
        and published.text
        and published.text in second["certificate"].replace("\n", "")
    )

    error(
        admin.delete(f"{path}/{second['id']}"), 400, "application.saml.can_not_delete_active_secret"
    )
    assert admin.delete(f"{path}/{first['id']}").status_code == 204
    assert [s["id"] for s in admin.get(path).json()] == [second["id"]]
    error(admin.delete(f"{path}/{first['id']}"), 404, "entity.not_exists_with_id")
    assert "body.lifeSpanInYears" in invalid_fields(admin.post(path, json={"lifeSpanInYears": 0}))
    assert admin.patch(f"{path}/{second['id']}", json={"active": False}).json()["active"] is False
    no_key = httpx.get(f"{server.endpoint}/api/saml-applications/{app['id']}/metadata")
    error(no_key, 400, "application.saml.no_active_secret")


def test_metadata_is_anonymous_xml_with_both_bindings(admin: httpx.Client, server: Server) -> None:
    app = create(admin, nameIdFormat=EMAIL)
    response = httpx.get(f"{server.endpoint}/api/saml-applications/{app['id']}/metadata")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.text)
    assert root.get("entityID") == f"{server.endpoint}/saml/{app['id']}"
    idp = root.find(f"{MD}IDPSSODescriptor")
    assert idp is not None
    services = {
        s.get("Binding"): s.get("Location") for s in idp.findall(f"{MD}SingleSignOnService")
    }
    sso = f"{server.endpoint}/api/saml/{app['id']}/authn"
    assert services == {POST: sso, REDIRECT: sso}
    assert [f.text for f in idp.findall(f"{MD}NameIDFormat")] == [EMAIL]
    assert idp.find(f"{MD}KeyDescriptor[@use='signing']") is not None
    missing = httpx.get(f"{server.endpoint}/api/saml-applications/nope/metadata")
    error(missing, 404, "entity.not_exists_with_id")


def test_a_moved_server_rewrites_the_saml_applications_redirect_uri(
    server: Server, admin: httpx.Client
) -> None:
    """A SAML application signs its users in through Portico's own authorization, whose
    redirect URI is made from the endpoint; a server moved to a new address rewrites it at
    start, as the built-in application's."""
    from sqlalchemy import select

    from portico.services import saml_applications
    from portico.storage.tables import applications

    app = create(admin)

    def redirect_uris():  # type: ignore[no-untyped-def]
        async def read(conn):  # type: ignore[no-untyped-def]
            query = select(applications.c.oidc_client_metadata).where(
                applications.c.id == app["id"]
            )
            return (await conn.execute(query)).scalar_one()["redirectUris"]

        return server.db(read)

    assert redirect_uris() == [f"{server.endpoint}/api/saml-applications/{app['id']}/callback"]

    async def move(conn):  # type: ignore[no-untyped-def]
        await saml_applications.follow_endpoint(conn, "default", "https://moved.example/")

    async def back(conn):  # type: ignore[no-untyped-def]
        await saml_applications.follow_endpoint(conn, "default", server.endpoint)

    server.db(move)
    try:
        assert redirect_uris() == [
            f"https://moved.example/api/saml-applications/{app['id']}/callback"
        ]
    finally:  # the shared server's other SAML applications sign in at its real address
        server.db(back)


def test_the_audit_log_names_the_saml_application(admin: httpx.Client) -> None:
    """/api's entries for /saml-applications carry the application, so its log lists them."""
    app = create(admin)
    assert admin.patch(f"/saml-applications/{app['id']}", json={"name": "Wiki"}).status_code == 200
    keys = [
        entry["key"] for entry in admin.get("/logs", params={"applicationId": app["id"]}).json()
    ]
    assert "ManagementApi.CreateSamlApplication" in keys
    assert "ManagementApi.UpdateSamlApplication" in keys


def test_export_and_import_carry_saml_applications(
    server: Server, admin: httpx.Client, tmp_path: object
) -> None:
    """A SAML application travels with its settings and certificates, each private key
    re-sealed under the target's encryption key; the target signs with the same key."""
    import asyncio
    import io
    import json
    import os

    from sqlalchemy import select

    from portico.services.bootstrap import ensure_ready
    from portico.services.saml_applications import KeySealer
    from portico.storage.database import create_engine
    from portico.storage.tables import saml_application_configs, saml_application_secrets
    from portico.transfer.exporter import export
    from portico.transfer.importer import ImportOptions, import_stream
    from tests.support import create_database

    acs = {"binding": POST, "url": "https://wiki.example/acs"}
    app = create(admin, entityId=f"https://{unique('sp')}.example", acsUrl=acs)
    second = admin.post(f"/saml-applications/{app['id']}/secrets", json={"lifeSpanInYears": 2})
    assert second.status_code == 201, second.text
    source_key = server.settings.encryption_key_bytes()

    async def dump() -> str:
        engine = create_engine(server.database_url, pool=False)
        out = io.StringIO()
        try:
            await export(engine, "default", out, encryption_key=lambda: source_key)
        finally:
            await engine.dispose()
        return out.getvalue()

    text = asyncio.run(dump())
    records = [json.loads(line) for line in text.splitlines()]
    mine = [r for r in records if r.get("data", {}).get("applicationId") == app["id"]]
    assert {r["type"] for r in mine} >= {"samlApplicationConfig", "samlApplicationSecret"}
    assert "PRIVATE KEY" not in text  # keys stay sealed in the file
    url, drop = create_database(str(tmp_path))
    target_key = os.urandom(32)

    async def load() -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
        engine = create_engine(url, pool=False)
        try:
            await ensure_ready(engine)
            options = ImportOptions(encryption_key=lambda: target_key, reencrypt_from=source_key)
            await import_stream(engine, "default", io.BytesIO(text.encode()), options)
            async with engine.connect() as conn:
                config = (
                    (
                        await conn.execute(
                            select(saml_application_configs).where(
                                saml_application_configs.c.application_id == app["id"]
                            )
                        )
                    )
                    .one()
                    ._mapping
                )
                secrets = (
                    await conn.execute(
                        select(saml_application_secrets).where(
                            saml_application_secrets.c.application_id == app["id"]
                        )
                    )
                ).all()
            return dict(config), [dict(s._mapping) for s in secrets]
        finally:
            await engine.dispose()

    try:
        config, secrets = asyncio.run(load())
    finally:
        drop()
    assert config["acs_url"] == acs and config["entity_id"] == app["entityId"]
    assert len(secrets) == 2 and sum(s["active"] for s in secrets) == 1
    for row in secrets:
        opened = KeySealer(target_key).open(app["id"], row["id"], row["private_key"])
        assert opened is not None and "PRIVATE KEY" in opened
        assert KeySealer(source_key).open(app["id"], row["id"], row["private_key"]) is None
