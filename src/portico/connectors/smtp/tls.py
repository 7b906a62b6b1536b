"""The ``tls`` options a Logto/nodemailer config carries, mapped onto an ``SSLContext``."""

from __future__ import annotations

import ssl
from typing import Any

from portico.connectors.errors import invalid_config

_VERSIONS = {
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def context(options: dict[str, Any]) -> ssl.SSLContext:
    """Verification on by default; ``rejectUnauthorized: false`` turns it off (self-signed
    relays); ``ca`` (PEM) trusts a private CA; ``minVersion`` raises the floor. TLS 1.0/1.1
    are never offered, whatever the config says."""
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if options.get("ca"):
        cas = options["ca"] if isinstance(options["ca"], list) else [options["ca"]]
        try:
            ctx.load_verify_locations(cadata="\n".join(cas))
        except (ssl.SSLError, ValueError) as exc:
            raise invalid_config(f"tls.ca is not a valid PEM certificate: {exc}") from None
    if options.get("minVersion") in _VERSIONS:
        ctx.minimum_version = _VERSIONS[options["minVersion"]]
    if options.get("rejectUnauthorized") is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def server_name(options: dict[str, Any], servername: str | None, host: str) -> str:
    return str(options.get("servername") or servername or host)
