"""Answers for requests the application could not serve: a dependency unavailable (503), a
body too large (413), an OAuth error escaping a page, an unexpected error (500).

Each answer has the shape its surface speaks (Logto's ``{code, message}`` under ``/api``, an
OAuth error object for the ``/oidc`` JSON endpoints, a readable page for browsers) and says
nothing about the cause beyond its kind: never a DSN, SQL, driver name or stack trace. The
cause goes to the log, by exception class only, at most once per :data:`LOG_EVERY` seconds
per class, so an outage does not flood it.
"""

from __future__ import annotations

import logging
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portico.protocol.errors import OAuthError
from portico.storage.database import is_unavailable, unavailable_candidates
from portico.web.http import NO_STORE, error_page

log = logging.getLogger("portico")
LOG_EVERY = 5.0
RETRY_AFTER = "2"
# /oidc paths answered as browser pages; every other /oidc path speaks JSON.
_OIDC_PAGES = ("/oidc/auth", "/oidc/session/")
_last_logged: dict[str, float] = {}


def answer(path: str, error: OAuthError, api_code: str) -> Response:
    """``error`` in the shape of the surface ``path`` belongs to."""
    headers = {**NO_STORE, **error.headers}
    if path.startswith("/api/") or path == "/api":
        body = {"code": api_code, "message": error.description}
        return JSONResponse(body, status_code=error.status, headers=headers)
    if path.startswith("/oidc/") and not path.startswith(_OIDC_PAGES):
        return JSONResponse(error.to_json(), status_code=error.status, headers=headers)
    page = error_page(error)
    page.headers.update(error.headers)
    return page


def _log_once(kind: str, message: str, *args: object) -> None:
    now = time.monotonic()
    if now - _last_logged.get(kind, 0.0) >= LOG_EVERY:
        _last_logged[kind] = now
        log.warning(message, *args)


async def unavailable(request: Request, exc: Exception) -> Response:
    """A database (or other dependency) that cannot be reached: 503, retry shortly."""
    if not is_unavailable(exc):
        raise exc  # a bug, not an outage: the 500 handler answers
    _log_once(type(exc).__name__, "database unavailable (%s)", type(exc).__name__)
    error = OAuthError(
        "temporarily_unavailable",
        "the service is temporarily unavailable; please try again shortly",
        503,
        {"Retry-After": RETRY_AFTER},
    )
    return answer(request.url.path, error, "request.service_unavailable")


async def oauth_error(request: Request, exc: Exception) -> Response:
    """An OAuth error raised outside the endpoints that answer their own (a page's form
    that is not UTF-8, too large, of an unsupported content type)."""
    assert isinstance(exc, OAuthError)
    return answer(request.url.path, exc, "guard.invalid_input")


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = OAuthError("server_error", "internal server error", 500)
    return answer(request.url.path, error, "unknown")


def install(app: Starlette, database_url: str) -> None:
    """Register these answers on ``app`` (the root app and the mounted ``/api`` app each
    run their own exception handling) for the database at ``database_url``."""
    for candidate in unavailable_candidates(database_url):
        app.add_exception_handler(candidate, unavailable)
    app.add_exception_handler(OAuthError, oauth_error)
    app.add_exception_handler(500, server_error)
