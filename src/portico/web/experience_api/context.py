"""What every Experience API route starts from: the interaction bound to this browser by the
interaction cookie (as for the pages), a JSON-only body, and Logto's error codes.

CSRF: the interaction cookie is SameSite=Lax, so a cross-site POST carries no cookie; and a
request that declares a body in any type but ``application/json`` (what an HTML form can
send) is refused with 415 before anything runs, as is a body without a declared type.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request

from portico.experience.answers import StepError, logto_answer
from portico.experience.conclusion import Pending
from portico.experience.identifiers import Identifier, normalise_email, normalise_phone
from portico.experience.next_step import Fulfil, VerifyMfa
from portico.experience.verifications import Verification
from portico.ids import standard_id
from portico.web.api.errors import ApiError
from portico.web.experience.context import Ctx, context_of, find
from portico.web.runtime import Runtime

T = TypeVar("T")


def step_error(error: StepError, t: Any = None) -> ApiError:
    """A step's refusal as the Experience API answers it (``experience/answers.py``)."""
    status, code, data = logto_answer(error)
    return ApiError(status, code, t(error.key, **error.params) if t else error.key, data)


async def engine_step(ctx: Ctx, work: Awaitable[T], *, keep_on_refusal: bool = False) -> T:
    """Run an engine step; its refusal becomes the Experience API's answer.
    ``keep_on_refusal``: save the state before answering (the step spent something even
    when refused: a WebAuthn challenge, a counted attempt)."""
    try:
        return await work
    except StepError as error:
        if keep_on_refusal:
            await ctx.save()
        raise step_error(error, ctx.t) from None


def pending_error(step: Pending) -> ApiError:
    """What ``submit`` (or Register's ``identification``) answers while the interaction
    still needs something of the user, as Logto answers it."""
    if isinstance(step, Fulfil):
        return ApiError(422, "user.missing_profile", "The profile is incomplete.",
                        {"missingProfile": [step.need]})  # fmt: skip
    if isinstance(step, VerifyMfa):
        data = {"availableFactors": list(step.factors), "maskedIdentifiers": step.masked}
        return ApiError(403, "session.mfa.require_mfa_verification", "Verify a factor.", data)
    prompt = step.prompt
    if prompt.reason == "suggest":
        return ApiError(422, "user.suggest_mfa", "Turn on two-step verification?")
    if prompt.reason == "additional":
        data = {"availableFactors": list(prompt.factors), "maskedIdentifiers": {},
                "skippable": True, "suggestion": True}  # fmt: skip
        return ApiError(422, "session.mfa.suggest_additional_mfa", "Add another factor?", data)
    if prompt.reason == "passkey":
        return ApiError(422, "user.passkey_preferred", "Create a passkey?")
    if prompt.reason == "backup_code":
        return ApiError(422, "session.mfa.backup_code_required", "Save backup codes.")
    data: dict[str, Any] = {"availableFactors": list(prompt.factors)}
    if prompt.skippable:
        data["skippable"] = True
    return ApiError(422, "user.missing_mfa", "Set up a second factor.", data)


def refuse_non_json(request: Request) -> None:
    """415 for a body that is not declared as JSON (see the module's docstring)."""
    declared = request.headers.get("content-type")
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    if declared is None and not has_body:
        return
    if declared is None or declared.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "guard.invalid_input", "The request body must be application/json.")


async def load(runtime: Runtime, request: Request) -> Ctx:
    """The interaction's context, or Logto's ``session.not_found`` when this browser has none."""
    if request.method in ("POST", "PUT", "PATCH"):
        refuse_non_json(request)
    found = await find(runtime, request)
    if found is None:
        raise ApiError(400, "session.not_found", "The sign-in session was not found or expired.")
    return await context_of(runtime, request, *found)


# Verification records ------------------------------------------------------------------------
async def keep(ctx: Ctx, record: Verification) -> dict[str, str]:
    """Keep ``record`` in the interaction under a new ``verificationId`` (saved), and the
    answer that names it."""
    verification_id = standard_id()
    ctx.exp.verifications[verification_id] = record
    await ctx.save()
    return {"verificationId": verification_id}


def record_of(ctx: Ctx, verification_id: str | None, *types: str) -> Verification:
    """The record ``verification_id`` names, of one of ``types``."""
    record = ctx.exp.verifications.get(verification_id or "")
    if record is None or record.type not in types:
        raise ApiError(
            404, "session.verification_session_not_found", "The verification was not found."
        )
    return record


def verified_record(ctx: Ctx, verification_id: str | None, *types: str) -> Verification:
    record = record_of(ctx, verification_id, *types)
    if not record.verified:
        raise ApiError(400, "session.verification_failed", "The verification was not completed.")
    return record


def identifier_of(kind: str, value: str) -> Identifier:
    """The identifier in the users table's form (``guard.invalid_input`` when malformed)."""
    normalised: str | None = unicodedata.normalize("NFKC", value.strip())
    if kind == "email":
        normalised = normalise_email(value)
    elif kind == "phone":
        normalised = normalise_phone(value)
    if not normalised:
        raise ApiError(400, "guard.invalid_input", f"The {kind} is not valid.")
    return Identifier(kind, normalised)
