"""Applications: framework cards, create, details (endpoint, issuer, App ID, secrets shown
once, URIs, CORS origins, token lifetimes, the advanced protocol settings), the framework's
integration guide, delete (the application's name typed again).

Writes go through ``services/applications`` in one transaction with the audit entry /api
writes for the same change (``ManagementApi.CreateApplication``...), then redirect to the
details page (post/redirect/get: reloading it repeats nothing). A new secret reaches that
page through :func:`_hold_secret`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.routing import Route

from portico.ids import digest, opaque_token
from portico.services import applications as service
from portico.services import rbac
from portico.services.applications import AppType
from portico.services.bootstrap import ADMIN_TENANT
from portico.services.errors import ServiceError
from portico.services.keys import ID_TOKEN_ALGORITHMS
from portico.storage import applications as repo
from portico.storage import rbac as rbac_repo
from portico.storage.artifacts import ArtifactStore
from portico.storage.database import now_ms
from portico.web.console import frameworks
from portico.web.console.context import Console, form, page
from portico.web.console.frameworks import BY_KEY, DEFAULT_GUIDE, FRAMEWORKS, guides_for
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

SECTION = "applications"
MAX_ID_TOKEN_TTL = 86_400
MAX_REFRESH_DAYS = 180
MAX_GRANTS = 1000  # concurrent devices per user (Logto sets no upper bound; inputs have one)
MAX_URI = 2048
NEW_SECRET = "ConsoleNewSecret"
NEW_SECRET_TTL = 10 * 60

# The "Advanced" settings: form field -> ``oidcClientMetadata`` member. An empty URI, an
# unchecked box or the tenant's default algorithm removes the member.
ADVANCED_URIS = {
    "backchannel_logout_uri": "backchannelLogoutUri",
    "frontchannel_logout_uri": "frontchannelLogoutUri",
}
ADVANCED_FLAGS = {
    "backchannel_logout_session_required": "backchannelLogoutSessionRequired",
    "frontchannel_logout_session_required": "frontchannelLogoutSessionRequired",
    "require_par": "requirePushedAuthorizationRequests",
    "dpop_bound": "dpopBoundAccessTokens",
    "require_signed_request_object": "requireSignedRequestObject",
}
ID_TOKEN_ALG = "id_token_alg"
ADVANCED_FIELDS = (*ADVANCED_URIS, *ADVANCED_FLAGS, ID_TOKEN_ALG)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _advanced_shown(app_type: AppType, oidc: dict[str, Any]) -> frozenset[str]:
    """The advanced fields that mean something for the application: a machine-to-machine
    app has no browser (no redirects, logout or ID tokens); signed request objects need the
    app's keys (``private_key_jwt``, confidential apps only). The others are kept as stored."""
    if app_type is AppType.M2M:
        return frozenset({"dpop_bound"})
    shown = set(ADVANCED_FIELDS)
    if oidc.get("tokenEndpointAuthMethod") != "private_key_jwt":
        shown.discard("require_signed_request_object")
    return frozenset(shown)


def _apply_advanced(
    oidc: dict[str, Any], draft: dict[str, str], shown: frozenset[str]
) -> dict[str, Any]:
    merged = dict(oidc)
    for name, member in ADVANCED_URIS.items():
        if name in shown:
            if uri := draft[name].strip():
                merged[member] = uri
            else:
                merged.pop(member, None)
    for name, member in ADVANCED_FLAGS.items():
        if name in shown:
            if draft[name]:
                merged[member] = True
            else:
                merged.pop(member, None)
    if ID_TOKEN_ALG in shown:
        if alg := draft[ID_TOKEN_ALG].strip():
            merged["idTokenSignedResponseAlg"] = alg  # the service checks it
        else:
            merged.pop("idTokenSignedResponseAlg", None)
    return merged


async def _tenant_alg(ctx: Console) -> str:
    """The tenant key's algorithm: what signs ID tokens unless the app chooses another."""
    provider = ctx.runtime.provider
    return (await provider.current_keys()).alg if provider is not None else ID_TOKEN_ALGORITHMS[0]


def _held(ctx: Console, app_id: str) -> tuple[ArtifactStore, str]:
    assert ctx.runtime.engine is not None
    return ArtifactStore(ctx.runtime.engine, ADMIN_TENANT), digest(f"{ctx.session.handle}:{app_id}")


async def _hold_secret(ctx: Console, conn: AsyncConnection, app_id: str, value: str) -> None:
    """Keep a new secret for the page the redirect leads to, in ``conn``'s transaction: an
    artifact of the console's tenant for this console session and application only, sealed
    with the server's encryption key, taken by the first view of the page (then gone) or
    expired after :data:`NEW_SECRET_TTL`. Never in a URL, a flash or a log; ``accountId``
    ends it with the admin's other artifacts (new password, admin deleted)."""
    sealer = ctx.runtime.secret_sealer
    assert sealer is not None
    store, group = _held(ctx, app_id)
    value_digest = digest(value)
    payload = {
        "accountId": ctx.admin["id"],
        "digest": value_digest,
        "sealed": sealer.seal(app_id, value_digest, value),
    }
    await store.save(
        NEW_SECRET, digest(opaque_token()), payload, NEW_SECRET_TTL, grant_id=group, conn=conn
    )


async def _take_secret(ctx: Console, app_id: str) -> str | None:
    """The secret held for this page, once (the newest, if several were made meanwhile)."""
    store, group = _held(ctx, app_id)
    held = await store.take_group(NEW_SECRET, group)
    sealer = ctx.runtime.secret_sealer
    if not held or sealer is None:
        return None
    newest = max(held, key=lambda artifact: artifact.expires_at).payload
    return sealer.open(app_id, newest["digest"], newest["sealed"])


async def index(ctx: Console) -> Response:
    async with ctx.read() as conn:
        _, apps = await repo.find_applications(conn, ctx.tenant, offset=0, limit=500)
    return await ctx.render("applications.html", section=SECTION, apps=apps, frameworks=FRAMEWORKS)


async def new(ctx: Console) -> Response:
    framework = BY_KEY.get(ctx.request.query_params.get("framework", ""))
    return await ctx.render(
        "application_new.html", section=SECTION, frameworks=FRAMEWORKS, framework=framework
    )


async def create(ctx: Console) -> Response:
    framework = BY_KEY.get(ctx.field("framework", 32))
    if framework is None:
        raise ServiceError(ctx.t("applications.pick_framework_first"))
    name = ctx.field("name", 256)
    try:
        async with ctx.write() as conn:
            created = await service.create_application(
                conn,
                ctx.tenant,
                name=name,
                app_type=framework.app_type,
                redirect_uris=_lines(ctx.field("redirect_uris", 20_000)),
                post_logout_redirect_uris=_lines(ctx.field("post_logout_redirect_uris", 20_000)),
            )
            app_id = created.row["id"]
            await frameworks.remember(conn, ctx.tenant, app_id, framework.key)
            if created.secret:
                await _hold_secret(ctx, conn, app_id, created.secret)
            await ctx.audit(conn, "CreateApplication", application_id=app_id, status=200)
    except ServiceError as error:
        return await ctx.render(
            "application_new.html", status=400, section=SECTION, frameworks=FRAMEWORKS,
            framework=framework, error=error.message, name=name,
            redirect_uris=ctx.field("redirect_uris", 20_000),
            post_logout_redirect_uris=ctx.field("post_logout_redirect_uris", 20_000),
        )  # fmt: skip
    ctx.flash(ctx.t("applications.created", name=created.row["name"]))
    return await ctx.redirect(f"/console/applications/{app_id}")


async def _details(
    ctx: Console,
    app_id: str,
    *,
    status: int = 200,
    new_secret: str | None = None,
    errors: dict[str, str] | None = None,
    draft: dict[str, str] | None = None,
) -> Response:
    """The details page; the guide is the one asked for (``?guide=``), else the card the
    application was created from, else its type's (each only if it is for the app's type)."""
    async with ctx.read() as conn:
        app = await service.get_application(conn, ctx.tenant, app_id)
        if app["type"] == AppType.SAML:  # a page of its own (web/console/saml_applications)
            return await ctx.redirect(f"/console/saml-applications/{app_id}")
        secrets = await repo.list_secrets(conn, app_id)
        card = await frameworks.remembered(conn, ctx.tenant, app_id)
        app_type = AppType(app["type"])
        held: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        if app_type is AppType.M2M:  # machine-to-machine roles: what its tokens may carry
            _, held = await rbac_repo.find_roles(conn, ctx.tenant, application_id=app_id, limit=200)
            _, others = await rbac_repo.find_roles(
                conn, ctx.tenant, exclude_application_id=app_id,
                role_type=rbac.RoleType.M2M.value, limit=200,
            )  # fmt: skip
    asked = ctx.request.query_params.get("guide", "")
    chosen = next(
        BY_KEY[key]
        for key in (asked, card or "", DEFAULT_GUIDE[app_type])
        if key in BY_KEY and BY_KEY[key].app_type is app_type
    )
    oidc = app["oidc_client_metadata"] or {}
    custom = app["custom_client_metadata"] or {}
    values = draft or {
        "name": app["name"],
        "description": app["description"] or "",
        "redirect_uris": "\n".join(oidc.get("redirectUris") or []),
        "post_logout_redirect_uris": "\n".join(oidc.get("postLogoutRedirectUris") or []),
        "cors_origins": "\n".join(custom.get("corsAllowedOrigins") or []),
        "id_token_ttl": str(custom.get("idTokenTtl") or 3600),
        "refresh_days": str(custom.get("refreshTokenTtlInDays") or 14),
        "rotate_refresh": "on" if custom.get("rotateRefreshToken", True) is not False else "",
        "always_refresh": "on" if custom.get("alwaysIssueRefreshToken") else "",
        "max_grants": str(custom.get("maxAllowedGrants") or ""),
        **{name: oidc.get(member) or "" for name, member in ADVANCED_URIS.items()},
        **{
            name: "on" if oidc.get(member) is True else ""
            for name, member in ADVANCED_FLAGS.items()
        },
        ID_TOKEN_ALG: oidc.get("idTokenSignedResponseAlg") or "",
    }
    tenant_alg = await _tenant_alg(ctx)
    algorithms = [a for a in ID_TOKEN_ALGORITHMS if a != tenant_alg]
    if values[ID_TOKEN_ALG] and values[ID_TOKEN_ALG] not in algorithms:
        algorithms.append(values[ID_TOKEN_ALG])  # set through /api (ES512, the tenant's own)
    redirect_uri = (oidc.get("redirectUris") or [chosen.redirect_uri or "<your redirect URI>"])[0]
    post_logout = (oidc.get("postLogoutRedirectUris") or [chosen.post_logout_redirect_uri or ""])[0]
    return await ctx.render(
        "application.html",
        status=status,
        section=SECTION,
        app=app,
        app_type=app_type,
        secrets=secrets,
        new_secret=new_secret,
        guide=chosen,
        guides=guides_for(app_type),
        values=values,
        errors=errors or {},
        advanced=_advanced_shown(app_type, oidc),
        roles=held,
        role_groups=[(None, [(r["id"], r["name"]) for r in others])],
        key_auth=oidc.get("tokenEndpointAuthMethod") == "private_key_jwt",
        tenant_alg=tenant_alg,
        algorithms=algorithms,
        issuer=f"{ctx.endpoint}/oidc",
        app_secret=new_secret or "<your-app-secret>",
        redirect_uri=redirect_uri,
        post_logout_redirect_uri=post_logout,
        now=now_ms(),
    )


async def details(ctx: Console) -> Response:
    app_id = ctx.request.path_params["id"]
    return await _details(ctx, app_id, new_secret=await _take_secret(ctx, app_id))


def _origin_errors(ctx: Console, origins: list[str]) -> str | None:
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("",):
            return ctx.t("application.not_an_origin", origin=repr(origin))
    return None


def _bounded(text: str, low: int, high: int) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


async def update(ctx: Console) -> Response:
    app_id = ctx.request.path_params["id"]
    draft = {
        name: ctx.field(name, 20_000)
        for name in ("name", "description", "redirect_uris", "post_logout_redirect_uris",
                     "cors_origins", "id_token_ttl", "refresh_days", "rotate_refresh",
                     "always_refresh", "max_grants")
    }  # fmt: skip
    for name in ADVANCED_FIELDS:
        draft[name] = ctx.field(name, MAX_URI + 1)
    errors: dict[str, str] = {
        name: ctx.t("form.at_most_characters", count=MAX_URI)
        for name in ADVANCED_URIS
        if len(draft[name].strip()) > MAX_URI
    }
    origins = _lines(draft["cors_origins"])
    if problem := _origin_errors(ctx, origins):
        errors["cors_origins"] = problem
    id_ttl = _bounded(draft["id_token_ttl"], 1, MAX_ID_TOKEN_TTL)
    if id_ttl is None:
        errors["id_token_ttl"] = ctx.t("application.seconds_range", most=MAX_ID_TOKEN_TTL)
    days = _bounded(draft["refresh_days"], 1, MAX_REFRESH_DAYS)
    if days is None:
        errors["refresh_days"] = ctx.t("application.days_range", most=MAX_REFRESH_DAYS)
    max_grants = _bounded(draft["max_grants"], 1, MAX_GRANTS) if draft["max_grants"] else None
    if draft["max_grants"] and max_grants is None:
        errors["max_grants"] = ctx.t("application.max_grants_range", most=MAX_GRANTS)
    if errors:
        return await _details(ctx, app_id, status=400, errors=errors, draft=draft)
    try:
        async with ctx.write() as conn:
            # Locked: a concurrent /api PATCH must not be overwritten by this merge.
            current = await service.get_application(conn, ctx.tenant, app_id, for_update=True)
            custom = {
                **(current["custom_client_metadata"] or {}),
                "corsAllowedOrigins": origins,
                "idTokenTtl": id_ttl,
                "refreshTokenTtlInDays": days,
                "rotateRefreshToken": bool(draft["rotate_refresh"]),
                "alwaysIssueRefreshToken": bool(draft["always_refresh"]),
                "maxAllowedGrants": max_grants,
            }
            if max_grants is None:  # no limit: the member is left out, as Logto's console does
                custom.pop("maxAllowedGrants")
            stored = current["oidc_client_metadata"] or {}
            shown = _advanced_shown(AppType(current["type"]), stored)
            oidc = {
                **_apply_advanced(stored, draft, shown),
                "redirectUris": _lines(draft["redirect_uris"]),
                "postLogoutRedirectUris": _lines(draft["post_logout_redirect_uris"]),
            }
            await service.update_application(
                conn,
                ctx.tenant,
                app_id,
                {
                    "name": draft["name"],
                    "description": draft["description"] or None,
                    "oidc_client_metadata": oidc,
                    "custom_client_metadata": custom,
                },
            )
            await ctx.audit(conn, "UpdateApplication", application_id=app_id, status=200)
    except ServiceError as error:
        errors = {"form": error.message}
        for name, member in ADVANCED_URIS.items():  # also next to the field it is about
            if error.message.startswith(member):
                errors[name] = error.message
        return await _details(ctx, app_id, status=400, errors=errors, draft=draft)
    ctx.flash(ctx.t("application.saved"))
    return await ctx.redirect(f"/console/applications/{app_id}")


async def rotate_secret(ctx: Console) -> Response:
    """A new secret, shown once; the old ones keep working until deleted, so a deployment
    can switch over without downtime."""
    app_id = ctx.request.path_params["id"]
    async with ctx.write() as conn:
        taken = {s["name"] for s in await service.list_secrets(conn, ctx.tenant, app_id)}
        name = next(f"Secret {n}" for n in range(2, 10_000) if f"Secret {n}" not in taken)
        _, value = await service.create_secret(
            conn, ctx.tenant, app_id, name, None, ctx.runtime.secret_sealer
        )
        await _hold_secret(ctx, conn, app_id, value)
        await ctx.audit(conn, "CreateApplicationSecret", application_id=app_id, status=201)
    ctx.flash(ctx.t("application.secret_created", name=name))
    return await ctx.redirect(f"/console/applications/{app_id}")


async def delete_secret(ctx: Console) -> Response:
    app_id = ctx.request.path_params["id"]
    name = ctx.field("name", 256)
    async with ctx.write() as conn:
        await service.delete_secret(conn, ctx.tenant, app_id, name)
        await ctx.audit(conn, "DeleteApplicationSecret", application_id=app_id, status=204)
    ctx.flash(ctx.t("application.secret_deleted", name=name))
    return await ctx.redirect(f"/console/applications/{app_id}")


async def delete(ctx: Console) -> Response:
    """Only with the application's name typed again (as Logto's console asks): a wrong or
    missing name deletes nothing."""
    app_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        app = await service.get_application(conn, ctx.tenant, app_id)
    if not ctx.name_typed(app["name"]):
        refused = ctx.t("application.delete_refused")
        return await _details(ctx, app_id, status=400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await service.delete_application(conn, ctx.tenant, app_id)
        await frameworks.remember(conn, ctx.tenant, app_id, None)
        await ctx.audit(conn, "DeleteApplication", application_id=app_id, status=204)
    ctx.flash(ctx.t("applications.deleted", name=app["name"]))
    return await ctx.redirect("/console/applications")


async def assign_roles(ctx: Console) -> Response:
    """Machine-to-machine roles for the application (what /api's POST .../roles does)."""
    app_id = ctx.request.path_params["id"]
    role_ids = [r[:128] for r in ctx.values("role_id")][:100]
    if not role_ids:
        return await _details(ctx, app_id, status=400, errors={"roles": ctx.t("user.pick_role")})
    try:
        async with ctx.write() as conn:
            await rbac.assign_roles(conn, ctx.tenant, "application", app_id, role_ids)
            await ctx.audit(conn, "AssignApplicationRoles", application_id=app_id, status=201)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(ctx, app_id, status=400, errors={"roles": error.message})
    ctx.flash(ctx.t("user.roles_assigned"))
    return await ctx.redirect(f"/console/applications/{app_id}")


async def remove_role(ctx: Console) -> Response:
    app_id, role_id = ctx.request.path_params["id"], ctx.request.path_params["role"]
    async with ctx.write() as conn:
        await rbac.unassign_role(conn, ctx.tenant, "application", app_id, role_id)
        await ctx.audit(conn, "DeleteApplicationRole", application_id=app_id,
                        params={"roleId": role_id}, status=204)  # fmt: skip
    ctx.flash(ctx.t("user.role_removed"))
    return await ctx.redirect(f"/console/applications/{app_id}")


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/applications"
    return [
        Route(base, page(runtime, index), methods=["GET"]),
        Route(base, form(runtime, create), methods=["POST"]),
        Route(f"{base}/new", page(runtime, new), methods=["GET"]),
        Route(base + "/{id}", page(runtime, details), methods=["GET"]),
        Route(base + "/{id}", form(runtime, update), methods=["POST"]),
        Route(base + "/{id}/secrets", form(runtime, rotate_secret, destructive=True),
              methods=["POST"]),
        Route(base + "/{id}/secrets/delete", form(runtime, delete_secret, destructive=True),
              methods=["POST"]),
        Route(base + "/{id}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
        Route(base + "/{id}/roles", form(runtime, assign_roles), methods=["POST"]),
        Route(base + "/{id}/roles/{role}/delete", form(runtime, remove_role), methods=["POST"]),
    ]  # fmt: skip
