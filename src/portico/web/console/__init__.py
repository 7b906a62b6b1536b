"""The admin console (``/console``): server-rendered pages over ``services/``, for the admins
of the ``admin`` tenant. See ``docs/console.md`` for how to add a page."""

from __future__ import annotations

from starlette.routing import Route

from portico.web.console import (
    admins,
    applications,
    auth,
    connectors,
    get_started,
    jwt_customizer,
    keys,
    logs,
    organization_apps,
    organization_invitations,
    organization_jit,
    organization_template,
    organizations,
    resources,
    roles,
    saml_applications,
    sign_in_experience,
    sso_connectors,
    users,
    webhooks,
)
from portico.web.runtime import Runtime


def routes(runtime: Runtime) -> list[Route]:
    return [
        *auth.routes(runtime),
        *get_started.routes(runtime),
        *applications.routes(runtime),
        *saml_applications.routes(runtime),
        *connectors.routes(runtime),
        *sso_connectors.routes(runtime),
        *sign_in_experience.routes(runtime),
        *admins.routes(runtime),
        *users.routes(runtime),
        *organizations.routes(runtime),
        *organization_apps.routes(runtime),
        *organization_invitations.routes(runtime),
        *organization_jit.routes(runtime),
        *organization_template.routes(runtime),
        *resources.routes(runtime),
        *roles.routes(runtime),
        *logs.routes(runtime),
        *keys.routes(runtime),
        *jwt_customizer.routes(runtime),
        *webhooks.routes(runtime),
    ]
