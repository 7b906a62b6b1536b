"""Signing keys and cookie keys of the ``default`` tenant: listed without key material,
rotated, and a non-current key deleted; both ask for the password again.

A rotation is one transaction; ``ctx.write()`` then announces the change through coherence
(as ``/api/configs`` does), so every process signs with the new key within seconds, while
the previous signing key stays published in the JWKS until it is deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import keys
from portico.services.errors import ServiceError
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime

SECTION = "signing-keys"
ALGORITHMS = {"EC": "ES384 (EC P-384)", "RSA": "RS256 (RSA 4096)"}


def _key_type(ctx: Console) -> keys.KeyType:
    try:
        return keys.KeyType(ctx.request.path_params["type"])
    except ValueError:
        raise ServiceError(ctx.t("keys.no_such_kind"), status=404) from None


def _dated(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``createdAt`` is epoch seconds (as Logto stores it)."""
    return [
        {**e, "created": datetime.fromtimestamp(e["createdAt"], UTC).strftime("%Y-%m-%d %H:%M UTC")}
        for e in entries
    ]


async def index(ctx: Console) -> Response:
    async with ctx.read() as conn:
        private = await keys.list_keys(conn, ctx.tenant, keys.KeyType.PRIVATE_KEYS)
        cookie = await keys.list_keys(conn, ctx.tenant, keys.KeyType.COOKIE_KEYS)
    return await ctx.render(
        "keys.html",
        section=SECTION,
        private_keys=_dated(private),
        cookie_keys=_dated(cookie),
        algorithms=ALGORITHMS,
    )


async def rotate(ctx: Console) -> Response:
    key_type = _key_type(ctx)
    algorithm = ctx.field("algorithm", 8) or "EC"
    if algorithm not in ALGORITHMS:
        raise ServiceError(ctx.t("keys.pick_algorithm"))
    async with ctx.write() as conn:
        rotated = await keys.rotate(conn, ctx.tenant, key_type, algorithm)
        await ctx.audit(conn, "RotateOidcKeys", params={"keyType": key_type.value}, status=200)
    if key_type is keys.KeyType.PRIVATE_KEYS:
        ctx.flash(ctx.t("keys.rotated_signing", kid=rotated[0]["id"]))
    else:
        ctx.flash(ctx.t("keys.rotated_cookie"))
    return await ctx.redirect("/console/signing-keys")


async def delete(ctx: Console) -> Response:
    key_type, key_id = _key_type(ctx), ctx.request.path_params["id"]
    async with ctx.write() as conn:
        await keys.delete(conn, ctx.tenant, key_type, key_id)
        await ctx.audit(
            conn,
            "DeleteOidcKey",
            params={"keyType": key_type.value, "keyId": key_id},
            status=204,
        )
    ctx.flash(ctx.t("keys.deleted", kid=key_id))
    return await ctx.redirect("/console/signing-keys")


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/signing-keys/{type}"
    return [
        Route("/console/signing-keys", page(runtime, index), methods=["GET"]),
        Route(f"{base}/rotate", form(runtime, rotate, destructive=True), methods=["POST"]),
        Route(f"{base}/{{id}}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]
