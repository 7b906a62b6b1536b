"""The one error type services raise when a rule refuses a request.

It carries Logto's error ``code`` (``user.email_already_in_use``...), the HTTP status Logto
answers with and a message for people, so that the Management API, the CLI and the pages can
each present it their way without re-deciding what went wrong.
"""

from __future__ import annotations

from typing import Any


class ServiceError(ValueError):
    def __init__(
        self,
        message: str,
        *,
        code: str = "request.invalid_input",
        status: int = 400,
        data: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.data = data


class NotFound(ServiceError):
    """An id names nothing in this tenant (Logto: 404 ``entity.not_exists_with_id``)."""

    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(
            f"The {entity} with ID `{entity_id}` does not exist.",
            code="entity.not_exists_with_id",
            status=404,
        )
