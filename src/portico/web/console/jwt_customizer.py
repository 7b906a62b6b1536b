"""Custom JWT (Logto's "Custom JWT" page): one editor per token kind (user access tokens,
machine-to-machine tokens) with the script, its environment variables and a test runner
over a sample token and context; saving and deleting leave /api's audit entries
(``UpsertJwtCustomizer``, ``DeleteJwtCustomizer``).

Environment variables are typed one per line as ``NAME=value``; the rules and storage are
``jwt_customizer/config.py``'s, the test run is /api's (``web/api/jwt_customizer.run_test``).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response
from starlette.routing import Route

from portico.jwt_customizer import config
from portico.services.errors import ServiceError
from portico.web.api.errors import ApiError
from portico.web.api.jwt_customizer import run_test
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime

SECTION = "custom-jwt"
# The editor's starting point: the function Logto calls, returning no claims yet.
DEFAULT_SCRIPT = """// Called for each access token of this kind; the object returned joins it.
// token: the token's claims; context: the user and the application; api.denyAccess(message)
// refuses the token.
const getCustomJwtClaims = async ({ token, context, environmentVariables, api }) => {
  return {};
};"""
_TOKEN = {
    "jti": "f1d3d2d1-1f2d-3d4e-5d6f-7d8a9d0e1d2",
    "aud": "http://localhost:3000/api/test",
    "scope": "read write",
    "clientId": "my_app",
}
SAMPLE_TOKENS = {
    config.TokenType.ACCESS_TOKEN: {
        **_TOKEN,
        "accountId": "uid_123",
        "grantId": "grant_123",
        "gty": "authorization_code",
        "kind": "AccessToken",
    },
    config.TokenType.CLIENT_CREDENTIALS: {**_TOKEN, "kind": "ClientCredentials"},
}
_APPLICATION = {
    "id": "my_app",
    "name": "My App",
    "description": "My application",
    "type": "SPA",
    "customData": {"foo": "bar"},
    "isThirdParty": False,
}
SAMPLE_CONTEXTS = {
    config.TokenType.ACCESS_TOKEN: {
        "user": {
            "id": "123",
            "hasPassword": False,
            "username": "foo",
            "primaryEmail": "foo@logto.io",
            "primaryPhone": "+1234567890",
            "name": "Foo Bar",
            "customData": {},
            "identities": {},
            "profile": {},
            "ssoIdentities": [],
            "mfaVerificationFactors": [],
            "roles": [],
            "organizations": [],
            "organizationRoles": [],
        },
        "application": _APPLICATION,
    },
    config.TokenType.CLIENT_CREDENTIALS: {"application": _APPLICATION},
}


def _kind(ctx: Console) -> config.TokenType:
    try:
        return config.TokenType(ctx.request.path_params["kind"])
    except ValueError:
        raise ServiceError(ctx.t("jwt.no_such_kind"), status=404) from None


def _sealer(ctx: Console) -> Any:
    assert ctx.runtime.secret_sealer is not None
    return ctx.runtime.secret_sealer.sealer  # the server's key, as connector secrets


def _environment_text(values: dict[str, str] | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (values or {}).items())


def _environment(ctx: Console) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in ctx.field("environment", 16_384).splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ServiceError(ctx.t("jwt.environment_invalid", line=line.strip()[:60]))
        found[name.strip()] = value
    return found


async def index(ctx: Console) -> Response:
    async with ctx.read() as conn:
        found = {e["key"] for e in await config.list_all(conn, _sealer(ctx), ctx.tenant)}
    kinds = [(kind, kind.key in found) for kind in config.TokenType]
    return await ctx.render("jwt_customizer.html", section=SECTION, kinds=kinds)


async def _editor(ctx: Console, kind: config.TokenType, **values: Any) -> Response:
    async with ctx.read() as conn:
        stored = await config.read(conn, _sealer(ctx), ctx.tenant, kind)
    saved = stored or {}
    defaults = {
        "script": saved.get("script") or DEFAULT_SCRIPT,
        "environment": _environment_text(saved.get("environmentVariables")),
        "token": json.dumps(saved.get("tokenSample") or SAMPLE_TOKENS[kind], indent=2),
        "context": json.dumps(saved.get("contextSample") or SAMPLE_CONTEXTS[kind], indent=2),
    }
    return await ctx.render(
        "jwt_customizer_edit.html",
        section=SECTION,
        kind=kind,
        configured=stored is not None,
        values={**defaults, **values.pop("form", {})},
        **values,
    )


async def edit(ctx: Console) -> Response:
    return await _editor(ctx, _kind(ctx))


def _form(ctx: Console) -> dict[str, str]:
    return {
        name: ctx.field(name, config.MAX_SCRIPT + 1)
        for name in ("script", "environment", "token", "context")
    }


async def save(ctx: Console) -> Response:
    kind = _kind(ctx)
    try:
        body = {
            "script": ctx.field("script", config.MAX_SCRIPT + 1),
            "environmentVariables": _environment(ctx),
        }
        async with ctx.write() as conn:
            stored = await config.read(conn, _sealer(ctx), ctx.tenant, kind)
            keep = {k: v for k, v in (stored or {}).items() if k not in body}
            await config.put(conn, _sealer(ctx), ctx.tenant, kind, {**keep, **body})
            await ctx.audit(
                conn,
                "UpsertJwtCustomizer",
                params={"tokenTypePath": kind.value},
                status=200 if stored else 201,
            )
    except (ServiceError, ValidationError) as problem:
        message = problem.message if isinstance(problem, ServiceError) else ctx.t("jwt.invalid")
        return await _editor(ctx, kind, status=400, error=message, form=_form(ctx))
    ctx.flash(ctx.t("jwt.saved"))
    return await ctx.redirect(f"/console/custom-jwt/{kind.value}")


async def delete(ctx: Console) -> Response:
    kind = _kind(ctx)
    async with ctx.write() as conn:
        await config.delete(conn, ctx.tenant, kind)
        await ctx.audit(
            conn, "DeleteJwtCustomizer", params={"tokenTypePath": kind.value}, status=204
        )
    ctx.flash(ctx.t("jwt.deleted"))
    return await ctx.redirect("/console/custom-jwt")


async def test(ctx: Console) -> Response:
    """Runs the script as typed (not saved) against the sample token and context."""
    kind = _kind(ctx)
    values = _form(ctx)
    try:
        token, context = json.loads(values["token"] or "{}"), json.loads(values["context"] or "{}")
        body = {
            "tokenType": kind.value,
            "script": values["script"],
            "environmentVariables": _environment(ctx),
            "token": token,
            "context": context,
        }
        result = await run_test(body)
    except json.JSONDecodeError:
        return await _editor(
            ctx, kind, status=400, test_error=ctx.t("jwt.sample_not_json"), form=values
        )
    except ServiceError as problem:
        return await _editor(ctx, kind, status=400, test_error=problem.message, form=values)
    except ApiError as problem:
        shown = problem.data.get("message") if isinstance(problem.data, dict) else problem.message
        return await _editor(ctx, kind, test_error=str(shown or problem.message), form=values)
    return await _editor(ctx, kind, test_result=json.dumps(result, indent=2), form=values)


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/custom-jwt/{kind}"
    return [
        Route("/console/custom-jwt", page(runtime, index), methods=["GET"]),
        Route(base, page(runtime, edit), methods=["GET"]),
        Route(base, form(runtime, save), methods=["POST"]),
        Route(f"{base}/test", form(runtime, test), methods=["POST"]),
        Route(f"{base}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]
