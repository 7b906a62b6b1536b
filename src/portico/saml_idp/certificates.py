"""An application's signing key and self-signed certificate, and certificate fingerprints.

Logto makes an RSA 4096 key and a certificate valid for the chosen number of years; SPs
pin the certificate from the metadata, so self-signed is what they expect. RSA 3072 here:
as strong as SAML deployments ask for (NIST SP 800-57: 128-bit security) and four times
faster to make than 4096 while a request waits.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

KEY_BITS = 3072
_PEM = re.compile(r"^-{5}BEGIN CERTIFICATE-{5}[\r\n]+[\s\S]*?[\r\n]+-{5}END CERTIFICATE-{5}$")


class InvalidCertificate(ValueError):
    """Not one PEM certificate."""


def new_signing_pair(
    lifetime_years: int,
    now: datetime.datetime | None = None,
    common_name: str = "Portico SAML IdP",
) -> tuple[str, str, datetime.datetime]:
    """(private key PEM, certificate PEM, not after): a fresh key, self-signed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    not_before = now or datetime.datetime.now(datetime.UTC)
    try:
        not_after = not_before.replace(year=not_before.year + lifetime_years)
    except ValueError:  # 29 February
        not_after = not_before.replace(year=not_before.year + lifetime_years, day=28)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portico"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return key_pem, cert_pem, not_after


def load_certificate(pem: str) -> x509.Certificate:
    """One PEM certificate, parsed (an SP's encryption certificate, before it is stored)."""
    text = pem.strip()
    if not _PEM.match(text):
        raise InvalidCertificate("not a PEM certificate")
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        raise InvalidCertificate("not a PEM certificate") from None


def fingerprints(pem: str) -> dict[str, dict[str, str]]:
    """Logto's ``fingerprints``: SHA-256 of the DER, upper-case hex, with and without colons."""
    der = load_certificate(pem).public_bytes(serialization.Encoding.DER)
    plain = hashlib.sha256(der).hexdigest().upper()
    formatted = ":".join(plain[i : i + 2] for i in range(0, len(plain), 2))
    return {"sha256": {"formatted": formatted, "unformatted": plain}}


def body(pem: str) -> str:
    """The base64 of a PEM certificate without its armour (metadata's ``X509Certificate``)."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


def answer(row: dict[str, Any]) -> dict[str, Any]:
    """A stored key's certificate as Logto answers it (a SAML application's secret, a SAML
    connector's signing key): never the private key."""
    return {
        "id": row["id"],
        "certificate": row["certificate"],
        "createdAt": row["created_at"],
        "expiresAt": row["expires_at"],
        "active": bool(row["active"]),
        "fingerprints": fingerprints(row["certificate"]),
    }
