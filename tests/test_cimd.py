"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as Logto has
them): off by default; when on, an https ``client_id`` is fetched (a real TLS server here,
with a certificate from a test authority the server trusts through ``SSL_CERT_FILE``) and
the document is the client. Consent every time; OpenID Connect scopes only."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.conftest import User
from tests.flows import redeem
from tests.support import Browser, Server, authorize_url, csrf_of, pkce_pair, query_of

REDIRECT = "http://localhost:3000/callback"


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test authority, a certificate it signed for localhost, and a bundle (the public
    authorities plus the test one) for ``SSL_CERT_FILE``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portico test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path, bundle = folder / "leaf.pem", folder / "leaf.key", folder / "bundle.pem"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())
    )
    bundle.write_bytes(
        Path(certifi.where()).read_bytes() + ca.public_bytes(serialization.Encoding.PEM)
    )
    return cert_path, key_path, bundle


@dataclass
class Documents:
    """A site publishing client metadata documents: path -> (status, body, headers)."""

    base: str = ""
    served: dict[str, tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)

    def publish(self, path: str, document: Any, status: int = 200,
                headers: dict[str, str] | None = None) -> str:  # fmt: skip
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.served[path] = (status, body, headers or {"Cache-Control": "max-age=60"})
        return self.base + path

    def client(self, path: str, **members: Any) -> str:
        """A public client's document at ``path``; its URL (the client id)."""
        url = self.base + path
        document = {"client_id": url, "client_name": "Notes", "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "none", **members}  # fmt: skip
        return self.publish(path, {k: v for k, v in document.items() if v is not None})


@pytest.fixture
def documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, admin: httpx.Client
) -> Iterator[Documents]:
    cert, key, bundle = _certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # read when a connection pool is made
    state = Documents()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches.append(self.path)
            status, body, headers = state.served.get(self.path, (404, b"", {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.base = f"https://localhost:{httpd.server_address[1]}"
    assert admin.patch("/configs/cimd", json={"enabled": True}).json() == {"enabled": True}
    try:
        yield state
    finally:
        admin.patch("/configs/cimd", json={"enabled": False})
        httpd.shutdown()


def _authorize(browser: Browser, server: Server, client_id: str, **params: str) -> httpx.Response:
    return browser.follow_until_external(
        browser.client.get(authorize_url(server, client_id, REDIRECT, **params))
    )


def _sign_in_and_consent(
    browser: Browser, server: Server, client_id: str, user: User, challenge: str
) -> tuple[str, str]:
    """The consent page's text and the redirect to the client after allowing."""
    page = _authorize(browser, server, client_id, code_challenge=challenge,
                      code_challenge_method="S256", scope="openid profile")  # fmt: skip
    if "password" in page.text:
        page = browser.follow_until_external(browser.client.post(
            f"{server.endpoint}/sign-in", data={"csrf_token": csrf_of(page.text),
            "identifier": user.username, "password": user.password}))  # fmt: skip
    assert page.status_code == 200 and "/consent" in page.text, page.text[:300]
    done = browser.follow_until_external(browser.client.post(
        f"{server.endpoint}/consent", data={"csrf_token": csrf_of(page.text),
                                            "decision": "allow"}))  # fmt: skip
    assert done.status_code == 303, done.text[:300]
    return page.text, done.headers["location"]


def test_off_by_default(admin: httpx.Client, browser: Browser, server: Server,
                        http: httpx.Client) -> None:  # fmt: skip
    assert admin.get("/configs/cimd").json() == {"enabled": False}
    assert "client_id_metadata_document_supported" not in http.get(
        "/oidc/.well-known/openid-configuration").json()  # fmt: skip
    page = _authorize(browser, server, "https://app.example/client.json")
    assert page.status_code == 400 and "invalid_client" in page.text


def test_a_document_is_the_client(
    documents: Documents, browser: Browser, server: Server, http: httpx.Client, user: User
) -> None:
    assert http.get("/oidc/.well-known/openid-configuration").json()[
        "client_id_metadata_document_supported"] is True  # fmt: skip
    client_id = documents.client("/notes/client.json", logo_uri="https://localhost/logo.png")
    verifier, challenge = pkce_pair()
    consent, location = _sign_in_and_consent(browser, server, client_id, user, challenge)
    assert "Notes (localhost)" in consent  # the name, and the site that published it
    code = query_of(location)["code"]
    app = type("Public", (), {"id": client_id, "secret": None, "redirect_uri": REDIRECT})()
    tokens = redeem(http, app, code, verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"].split() == ["openid", "profile"]
    # consent is asked again next time: nothing is remembered for an unregistered client
    _, challenge = pkce_pair()
    again = _authorize(browser, server, client_id, code_challenge=challenge,
                       code_challenge_method="S256")  # fmt: skip
    assert again.status_code == 200 and "/consent" in again.text
    # fetched once, then served from the cache (max-age=60)
    assert documents.fetches.count("/notes/client.json") == 1


def test_no_resources_and_only_oidc_scopes(
    documents: Documents, browser: Browser, server: Server, user: User, api_resource: Any
) -> None:
    client_id = documents.client("/wide/client.json")
    _, challenge = pkce_pair()
    refused = _authorize(browser, server, client_id, code_challenge=challenge,
                         code_challenge_method="S256", resource=api_resource.indicator)  # fmt: skip
    assert refused.status_code == 303
    assert query_of(refused.headers["location"])["error"] == "invalid_target"


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("client_id_mismatch", "invalid_client_metadata"),
        ("secret", "invalid_client_metadata"),
        ("secret_method", "invalid_client_metadata"),
        ("logto_private", "invalid_client_metadata"),
        ("http_logo", "invalid_client_metadata"),
        ("bad_redirect", "invalid_redirect_uri"),
        ("not_found", "invalid_client"),
        ("redirected", "invalid_client"),
        ("too_big", "invalid_client"),
        ("not_json", "invalid_client_metadata"),
        ("dot_segment", "invalid_client"),
    ],
)
def test_documents_that_make_no_client(
    documents: Documents, browser: Browser, server: Server, case: str, error: str
) -> None:
    path = f"/bad/{case}.json"
    url = documents.base + path
    if case == "client_id_mismatch":
        documents.client(path, client_id=documents.base + "/other.json")
    elif case == "secret":
        documents.client(path, client_secret="s3cret")
    elif case == "secret_method":
        documents.client(path, token_endpoint_auth_method="client_secret_basic")
    elif case == "logto_private":
        documents.client(path, isDeviceFlow=True)
    elif case == "http_logo":
        documents.client(path, logo_uri="http://localhost/logo.png")
    elif case == "bad_redirect":
        documents.client(path, redirect_uris=["https://app.example/cb#fragment"])
    elif case == "redirected":
        documents.publish(path, b"", 302, {"Location": documents.base + "/notes/client.json"})
    elif case == "too_big":
        documents.client(path, client_name="x" * 6000)
    elif case == "not_json":
        documents.publish(path, b"<html>")
    elif case == "dot_segment":
        url = documents.base + "/a/%2e%2e/bad.json"
    page = _authorize(browser, server, url)
    assert page.status_code == 400, (case, page.status_code)
    assert error in page.text, (case, page.text[:300])
    assert "location" not in page.headers  # never a redirect to an unchecked URI


def test_a_document_client_with_keys_authenticates_with_private_key_jwt(
    documents: Documents, browser: Browser, server: Server, http: httpx.Client, user: User
) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "doc-1"})
    client_id = documents.client("/keyed/client.json", token_endpoint_auth_method="private_key_jwt",
                                 jwks={"keys": [key.as_dict(private=False)]})  # fmt: skip
    verifier, challenge = pkce_pair()
    _, location = _sign_in_and_consent(browser, server, client_id, user, challenge)
    now = int(time.time())
    assertion = jwt.encode({"alg": "ES256", "kid": "doc-1"}, {
        "iss": client_id, "sub": client_id, "aud": server.issuer, "iat": now, "exp": now + 60,
        "jti": uuid.uuid4().hex}, key)  # fmt: skip
    data = {"grant_type": "authorization_code", "code": query_of(location)["code"],
            "redirect_uri": REDIRECT, "code_verifier": verifier,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}  # fmt: skip
    tokens = http.post("/oidc/token", data=data)
    assert tokens.status_code == 200, tokens.text
    # without its key it is refused: a document client never has a secret
    refused = http.post("/oidc/token", data={**data, "client_assertion": "x.y.z"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
