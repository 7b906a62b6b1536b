"""The ASGI application: ``/oidc`` (provider), hosted pages, ``/api``, static files."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from portico.protocol import grants
from portico.services.purge import PurgeTask
from portico.services.webhook_delivery import WebhookWorker
from portico.services.webhooks import HookSealer
from portico.settings import Settings, load_settings
from portico.web import (
    access_log,
    console,
    device,
    experience,
    failures,
    invitation_pages,
    oidc_routes,
    saml_idp_routes,
)
from portico.web.body_limit import BodyLimit
from portico.web.input_guard import InputGuard
from portico.web.lazy import LazyApp
from portico.web.long_work import LongWork
from portico.web.routing import IndexedRouter
from portico.web.runtime import Runtime
from portico.web.security_headers import SecurityHeaders

log = logging.getLogger("portico")


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app; the database is migrated and seeded when it starts (idempotent)."""
    runtime = Runtime(settings or load_settings())
    grants.load_builtin()
    access_log.install()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        assert runtime.engine is not None
        purge = PurgeTask(
            runtime.engine,
            runtime.settings.purge_interval,
            runtime.settings.log_retention_days,
        )
        purge.start()
        runtime.webhooks = webhook_worker(runtime)
        runtime.webhooks.start()
        log.info("Portico serving issuer %s", runtime.settings.issuer)
        yield
        await runtime.webhooks.stop()
        await purge.stop()
        await runtime.stop()

    async def home(_: Request) -> Response:
        return RedirectResponse("/oidc/.well-known/openid-configuration", status_code=303)

    async def status(_: Request) -> Response:
        """The health check, here rather than in the Management API (documented there): a
        process is ready before that API is first built (web/lazy.py)."""
        return Response(status_code=204)

    def management_api() -> Starlette:
        from portico.web.api.app import create_api  # built at the first /api request

        return create_api(runtime)

    app = Starlette(
        routes=[
            Route("/", home),
            *oidc_routes.routes(runtime),
            *experience.routes(runtime),
            *device.routes(runtime),
            *invitation_pages.routes(runtime),
            *saml_idp_routes.routes(runtime),  # before the /api mount: anonymous
            *console.routes(runtime),
            Route("/api/status", status),
            Mount("/api", app=LazyApp(management_api)),
            Mount("/static", app=StaticFiles(directory=Path(__file__).parent / "static")),
            Route("/favicon.ico", lambda _: RedirectResponse("/static/favicon.ico", 301)),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit),
            Middleware(InputGuard),
            Middleware(LongWork),
        ],
        lifespan=lifespan,
    )
    # The same routes, looked up rather than tried in turn (web/routing.py); replaced before
    # the first request builds the middleware stack around the router.
    app.router = IndexedRouter(app.router.routes, lifespan=lifespan)
    failures.install(app, runtime.settings.database_url)
    app.state.runtime = runtime
    return app


def webhook_worker(runtime: Runtime) -> WebhookWorker:
    """This process's deliverer of the webhook outbox (services/webhook_delivery.py)."""
    assert runtime.engine is not None
    settings = runtime.settings
    return WebhookWorker(
        runtime.engine,
        HookSealer(settings.encryption_key_bytes()),
        poll_interval=settings.webhook_poll_interval,
        retry_base=settings.webhook_retry_base,
        max_attempts=settings.webhook_max_attempts,
    )


def app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory portico.web.app:app_from_environment``."""
    return create_app(load_settings())
