"""Logto's API error shape: HTTP status + ``{code, message, data?}``.

Every failure the API reports goes through :func:`as_api_error`, so that the response and the
audit log entry (``web/api/audit.py``) say the same thing.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from portico.services.errors import ServiceError
from portico.storage.search import InvalidSearch


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data


HANDLED = (ApiError, ServiceError, InvalidSearch, RequestValidationError, StarletteHTTPException)


def as_api_error(exc: Exception) -> ApiError | None:
    """The API error an exception becomes, or ``None`` for an unexpected one (a 500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ServiceError):
        return ApiError(exc.status, exc.code, exc.message, exc.data)
    if isinstance(exc, InvalidSearch):
        return ApiError(400, "request.invalid_input", str(exc))
    if isinstance(exc, RequestValidationError):
        details = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return ApiError(400, "guard.invalid_input", "The request input is invalid.", details)
    if isinstance(exc, StarletteHTTPException):
        code = "entity.not_found" if exc.status_code == 404 else "request.general"
        return ApiError(exc.status_code, code, str(exc.detail))
    return None


async def api_error_handler(_: Request, exc: Exception) -> JSONResponse:
    error = as_api_error(exc)
    assert error is not None
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(body, error.status, headers=headers)
