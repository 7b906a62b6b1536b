"""The ``/api`` application: Logto's Management API (paths, bodies, errors, pagination).

Route modules, one per group: ``applications``, ``users``, ``roles``, ``resources``, ``logs``,
``configs``, ``connectors``, ``sign_in_exp``, ``organizations``, ``organization_roles``,
``organization_scopes``, ``consents``. Each parses and answers; the rules live in
``services/``, the SQL in ``storage/``. Every write is one transaction and leaves an audit
entry (``audit.AuditedRoute``). ``/api/swagger.json`` is generated from the declared models;
operation ids are the handlers' names in PascalCase (``list_users`` -> ``ListUsers``), which
are also the audit keys (``ManagementApi.ListUsers``).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Response

from portico.web import experience_api, failures
from portico.web.api import (
    applications,
    configs,
    consents,
    hooks,
    jwt_customizer,
    logs,
    organization_applications,
    organization_invitations,
    organization_jit,
    organization_roles,
    organization_scopes,
    organizations,
    resources,
    roles,
    saml_applications,
    sign_in_exp,
    sso_connectors,
    token_exchange,
    user_grants,
    user_mfa,
    users,
)
from portico.web.api import connectors as connector_routes
from portico.web.api.audit import operation_id
from portico.web.api.context import ApiContext
from portico.web.api.errors import HANDLED, api_error_handler
from portico.web.api.guard import guard
from portico.web.runtime import Runtime


def create_api(runtime: Runtime) -> FastAPI:
    api = FastAPI(
        title="Portico Management API",
        version="0.1.0",
        description="Logto-compatible Management API. Bearer JWT for "
        "`https://default.logto.app/api` with scope `all`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/swagger.json",
        generate_unique_id_function=operation_id,
    )
    api.state.runtime = runtime
    for exc_type in HANDLED:
        api.add_exception_handler(exc_type, api_error_handler)
    failures.install(
        api, runtime.settings.database_url
    )  # database unavailable: 503 {code, message}; 500 without details
    authorized = Depends(guard(lambda: runtime.provider))
    context = ApiContext(runtime)

    @api.get("/status", status_code=204, response_class=Response, tags=["Status"])
    async def get_status() -> Response:
        """Health check: 204 when the process serves requests (no token needed)."""
        return Response(status_code=204)

    for module in (
        applications,
        users,
        user_mfa,
        user_grants,
        token_exchange,
        roles,
        resources,
        logs,
        configs,
        organizations,
        organization_applications,
        organization_invitations,
        organization_jit,
        organization_roles,
        organization_scopes,
        consents,
        sso_connectors,
        saml_applications,
        hooks,
    ):
        api.include_router(module.routes(context, authorized))
    api.include_router(jwt_customizer.routes(context, authorized))
    api.include_router(connector_routes.routes(runtime, authorized))
    api.include_router(sign_in_exp.router(runtime, authorized))
    api.include_router(experience_api.router(runtime))  # the interaction cookie, no token
    return api
