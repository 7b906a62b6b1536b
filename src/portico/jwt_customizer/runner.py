"""One run of a customizer script and what its failures mean, as Logto's script runner
reports them: ``denied`` (the script called ``api.denyAccess``), ``syntax``, ``type``
(no ``getCustomJwtClaims``, or a value that is not JSON), ``runtime`` (it threw),
``timeout``, ``oom``; a successful value that is not an object is refused too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico.jwt_customizer.sandbox import Outcome, Sandbox

ACCESS_DENIED = "AccessDenied"  # Logto's CustomJwtErrorCode for a denial
_STATUS = {"denied": 403, "syntax": 422, "type": 422, "timeout": 500, "oom": 500, "runtime": 500}


@dataclass
class ScriptFailure(Exception):
    """``body`` is Logto's error body of the run: ``{message, error?, stack?}``."""

    kind: str
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.body.get("message") or "Failed to customize token claims")

    @property
    def denied(self) -> bool:
        error = self.body.get("error")
        return isinstance(error, dict) and error.get("code") == ACCESS_DENIED

    @property
    def status(self) -> int:
        return _STATUS.get(self.kind, 400)


def failure_of(outcome: Outcome, time_limit: float) -> ScriptFailure:
    if outcome.kind == "denied":
        error = {"code": ACCESS_DENIED, "message": outcome.message}
        return ScriptFailure("denied", {"message": outcome.message, "error": error})
    if outcome.kind == "timeout":
        message = f"Script execution timed out after {round(time_limit * 1000)}ms."
        return ScriptFailure("timeout", {"message": message})
    if outcome.kind == "oom":
        return ScriptFailure("oom", {"message": "Script execution exceeded the memory limit."})
    body: dict[str, Any] = {"message": outcome.message}
    if outcome.stack:
        body["stack"] = outcome.stack
    return ScriptFailure(outcome.kind, body)


async def run(
    sandbox: Sandbox,
    script: str,
    *,
    token: dict[str, Any],
    context: dict[str, Any] | None,
    environment: dict[str, str] | None,
) -> dict[str, Any]:
    """The claims the script returns; raises :class:`ScriptFailure`."""
    payload = {"token": token, "context": context, "environmentVariables": environment or {}}
    outcome = await sandbox.run(script, payload)
    if not outcome.ok:
        raise failure_of(outcome, sandbox.limits.time)
    if not isinstance(outcome.value, dict):
        raise ScriptFailure("invalid", {"message": "Invalid input", "errors": [
            {"message": "Expected object", "path": []}
        ]})  # fmt: skip
    return dict(outcome.value)
