"""The one error type of the connector layer.

Every failure carries two messages because two people read them: the admin who configured the
connector needs the precise cause (refused connection, TLS, 535...), the end user on a sign-in
page must only learn that the code could not be sent. Neither ever holds a secret.
"""

from __future__ import annotations

from typing import Any

USER_SEND_FAILED = "We could not send the code. Please try again in a moment."


class ConnectorError(Exception):
    """``code`` is Logto-like (``connector.general``, ``connector.invalid_config``,
    ``connector.not_found``, ``connector.template_not_found``); ``reason`` is a finer,
    machine-readable cause (``timeout``, ``auth_rejected``...) for logs, tests and the API."""

    def __init__(
        self,
        code: str,
        admin_message: str,
        user_message: str = USER_SEND_FAILED,
        *,
        reason: str = "",
        data: Any = None,
    ) -> None:
        super().__init__(admin_message)
        self.code = code
        self.admin_message = admin_message
        self.user_message = user_message
        self.reason = reason
        self.data = data

    def __repr__(self) -> str:
        return f"ConnectorError({self.code!r}, reason={self.reason!r}, {self.admin_message!r})"


def not_found(admin_message: str) -> ConnectorError:
    return ConnectorError("connector.not_found", admin_message, reason="not_found")


def invalid_config(admin_message: str, data: Any = None) -> ConnectorError:
    return ConnectorError(
        "connector.invalid_config", admin_message, reason="invalid_config", data=data
    )
