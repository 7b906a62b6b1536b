"""Every refusal the sign-in engine gives, and how each front end says it: one table.

A step refuses with :class:`StepError`: a phrase key (what the hosted page shows, in the
user's language), its parameters and the page's HTTP status. The Experience API answers the
same refusal with Logto's ``{code, status, data}`` from :data:`LOGTO`, so the two front ends
cannot drift apart: a new refusal gets its page phrase and its Logto code here, together.
"""

from __future__ import annotations

from typing import Any


class StepError(Exception):
    """A user-facing failure of a step: a phrase key, its parameters and the HTTP status."""

    def __init__(self, key: str, status: int = 400, **params: Any) -> None:
        super().__init__(key)
        self.key, self.status, self.params = key, status, params


# Page phrase key -> Logto's code and the API's status (None: the step's own status).
LOGTO: dict[str, tuple[str, int | None]] = {
    "error.invalid_credentials": ("session.invalid_credentials", 422),
    "error.suspended": ("user.suspended", 401),
    "error.locked": ("session.verification_blocked_too_many_attempts", 400),
    "error.too_many_codes": ("verification_code.too_many_requests", 429),
    "error.no_connector": ("connector.not_found", 501),
    "error.send_failed": ("connector.general", 502),
    "error.code_mismatch": ("verification_code.code_mismatch", 400),
    "error.code_expired": ("verification_code.expired", 400),
    "error.code_exceed_max_try": ("verification_code.exceed_max_try", 400),
    "error.code_not_found": ("verification_code.not_found", 400),
    "error.identifier_taken": ("user.identifier_already_in_use", 422),
    "error.username_taken": ("user.username_already_in_use", 422),
    "error.identity_taken": ("user.identity_already_in_use", 422),
    "error.account_not_found": ("user.user_not_exist", 404),
    "error.not_identified": ("session.identifier_not_found", 404),
    "error.invalid_identifier": ("guard.invalid_input", 400),
    "error.verification_incomplete": ("session.verification_failed", 400),
    "error.social_state": ("session.connector_session_not_found", 400),
    "error.social_cancelled": ("connector.authorization_failed", 400),
    "error.social_failed": ("connector.general", 502),
    "error.social_no_account": ("user.identity_not_exist", 404),
    "error.mfa_code_invalid": ("session.mfa.invalid_totp_code", 400),
    "error.backup_code_invalid": ("session.mfa.invalid_backup_code", 400),
    "error.mfa_required": ("session.mfa.require_mfa_verification", 403),
    "error.mfa_factor_not_enabled": ("session.mfa.mfa_factor_not_enabled", 400),
    "error.totp_already_in_use": ("user.totp_already_in_use", 422),
    "error.backup_code_alone": ("session.mfa.backup_code_can_not_be_alone", 422),
    "error.mfa_pending_info": ("session.mfa.pending_info_not_found", 400),
    "error.mfa_not_skippable": ("session.mfa.mfa_policy_not_user_controlled", 422),
    "error.not_supported_for_forgot_password": ("session.not_supported_for_forgot_password", 400),
    "error.webauthn_failed": ("session.mfa.webauthn_verification_failed", 400),
    "error.webauthn_not_found": ("session.mfa.webauthn_verification_not_found", 400),
    "error.passkey_not_enabled": ("user.sign_in_method_not_enabled", 422),
    "error.sso_enabled": ("session.sso_enabled", 422),
    "error.sso_not_found": ("connector.not_found", 404),
    "error.sso_state": ("session.connector_session_not_found", 400),
    "error.sso_failed": ("connector.general", 500),
    "error.sso_no_account": ("user.sso_identity_not_exist", 404),
    "error.sso_not_enabled": ("user.sign_in_method_not_enabled", 422),
}


def logto_answer(error: StepError) -> tuple[int, str, Any]:
    """``(status, code, data)`` of the Experience API's answer to ``error``. Password and
    username policy rejections keep their codes (under ``password.rejected``, and
    ``username.*`` as they are); anything unlisted is ``request.general``."""
    if error.key.startswith("password_rejected."):
        return 422, "password.rejected", {"result": [{"code": error.key, "data": error.params}]}
    if error.key.startswith("username."):
        return 400, error.key, error.params or None
    if error.key == "error.identifier_taken" and error.params.get("kind"):
        return 422, f"user.{error.params['kind']}_already_in_use", None
    code, status = LOGTO.get(error.key, ("request.general", None))
    data: dict[str, Any] | None = None
    if error.key == "error.locked":
        data = {"lockedMinutes": error.params["minutes"]}
    elif error.key == "error.mfa_required":
        data = {"availableFactors": list(error.params.get("factors") or []),
                "maskedIdentifiers": {}}  # fmt: skip
    elif error.key == "error.sso_failed" and error.params.get("code"):
        code = str(error.params["code"])  # the provider's connector code (Logto: 500)
    elif error.key == "error.sso_enabled":
        data = {"ssoConnectors": error.params.get("connectors") or []}
    elif error.key == "error.social_no_account" and error.params.get("related"):
        data = {"relatedUser": {"type": error.params["related"]}}
    return status or error.status, code, data
