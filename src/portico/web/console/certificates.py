"""How the console shows certificates a page lists (SAML applications' signing certificates,
SAML connectors' request-signing keys): table rows and the PEM download."""

from __future__ import annotations

import datetime
from typing import Any

from starlette.responses import Response


def day(ms: int) -> str:
    """An epoch-milliseconds instant as its UTC date (the tables show days)."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).date().isoformat()


def rows(items: list[dict[str, Any]], now: int) -> list[dict[str, Any]]:
    """Each certificate (Logto's answer shape: ``fingerprints``, ``createdAt``,
    ``expiresAt``) with what the table shows: fingerprint, dates, whether it has expired."""
    return [
        {
            **item,
            "fingerprint": item["fingerprints"]["sha256"]["formatted"],
            "created": day(item["createdAt"]),
            "expires": day(item["expiresAt"]),
            "expired": item["expiresAt"] <= now,
        }
        for item in items
    ]


def pem_download(certificate: str, filename: str) -> Response:
    """The certificate as a file to save (never cached)."""
    return Response(
        certificate,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip
