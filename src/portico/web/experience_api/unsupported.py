"""The parts of Logto's Experience API Portico does not offer yet (one-time tokens, avatar
upload): each answers with the error Logto gives when the
feature is off, so a client built for Logto sees "not enabled", not a 404."""

from __future__ import annotations

from fastapi import APIRouter

from portico.web.api.errors import ApiError

PATHS: dict[str, tuple[str, int]] = {
    "/experience/verification/one-time-token/verify": ("one_time_token.token_not_found", 404),
    "/experience/user-assets/avatar": ("storage.not_configured", 400),
}  # fmt: skip


def routes() -> APIRouter:
    router = APIRouter()
    for path, (code, status) in PATHS.items():
        name = path.replace("/", "_").replace("-", "_").replace("{connector_id}", "by_connector")
        router.add_api_route(
            path, _refuse(code, status, "{connector_id}" in path), methods=["POST"], name=name
        )
    return router


def _refuse(code: str, status: int, by_connector: bool):  # type: ignore[no-untyped-def]
    def refusal() -> ApiError:
        return ApiError(status, code, "This feature is not enabled on this server.")

    async def refuse() -> None:
        raise refusal()

    async def refuse_for(connector_id: str) -> None:
        raise refusal()

    return refuse_for if by_connector else refuse
