"""Twilio's error responses (``{code, message, more_info, status}``, see
https://www.twilio.com/docs/usage/twilios-response) as Logto connector error codes.

The admin message names Twilio's status, error code and text (never the Auth Token, which
Twilio does not echo); the person on the sign-in page only learns that the code could not be
sent, or that this number cannot receive it.
"""

from __future__ import annotations

from typing import Any

from portico.connectors.errors import ConnectorError

USER_NUMBER_REFUSED = "This phone number cannot receive text messages. Check it and try again."
# Twilio error codes that are about the recipient, not about the configuration.
RECIPIENT_ERRORS = {
    21211: "invalid 'To' number",
    21408: "region not enabled for this account",
    21610: "recipient unsubscribed (replied STOP)",
    21612: "cannot route to this number",
    21614: "'To' number is not a mobile number",
    21635: "'To' number is a landline",
}
CREDENTIAL_ERRORS = {20003, 20005}  # authentication failed, account not active
RATE_ERRORS = {20429, 14107}  # too many requests, SMS rate limit


def twilio_error(status: int, body: Any) -> ConnectorError:
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code") if isinstance(fields.get("code"), int) else None
    text = str(fields.get("message") or "no error message")[:300]
    summary = f"Twilio answered HTTP {status}" + (f", error {code}" if code else "") + f": {text}"
    if status in (401, 403) or code in CREDENTIAL_ERRORS:
        return ConnectorError(
            "connector.invalid_config",
            f"{summary}. Check accountSID and authToken.",
            reason="auth_rejected",
        )
    if code in RECIPIENT_ERRORS:
        return ConnectorError(
            "connector.invalid_request_parameters",
            f"{summary} ({RECIPIENT_ERRORS[code]}).",
            USER_NUMBER_REFUSED,
            reason="recipient_refused",
        )
    if status == 429 or code in RATE_ERRORS:
        return ConnectorError("connector.rate_limit_exceeded", summary, reason="rate_limited")
    if status == 404:
        return ConnectorError(
            "connector.invalid_config",
            f"{summary}. Check accountSID, fromMessagingServiceSID and host.",
            reason="not_found",
        )
    if status >= 500:
        return ConnectorError("connector.general", summary, reason="unavailable")
    if not fields:
        return ConnectorError(
            "connector.invalid_response",
            f"Twilio answered HTTP {status} with a body that is not Twilio's error JSON.",
            reason="invalid_response",
        )
    return ConnectorError("connector.general", summary, reason="rejected")
