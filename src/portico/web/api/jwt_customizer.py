"""``/api/configs/jwt-customizer``: Logto's JWT customizer routes. PUT/PATCH/GET/DELETE
``/:tokenTypePath`` (``access-token`` or ``client-credentials``), GET the list, and POST
``/test`` to run a script against a sample token and context.

The body of PUT and PATCH is checked against the customizer of the path's token type (as
Logto, which cannot pick the guard before reading the path); rules and storage live in
``jwt_customizer/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from portico.connectors.secrets import Sealer
from portico.jwt_customizer import config, runner
from portico.jwt_customizer.sandbox import shared
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.errors import ApiError

GENERAL = "An error occurred while customizing the token claims. Please try again later."
TokenTypeParam = Annotated[
    config.TokenType, Path(description="`access-token` (user tokens) or `client-credentials`")
]
AnyBody = Annotated[dict[str, Any], Body(description="Logto's customizer for that token type")]


class CustomizerOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    script: str
    environmentVariables: dict[str, str] | None = None
    contextSample: dict[str, Any] | None = None
    tokenSample: dict[str, Any] | None = None
    blockIssuanceOnError: bool | None = None


class CustomizerEntry(BaseModel):
    key: Literal["jwt.accessToken", "jwt.clientCredentials"]
    value: CustomizerOut


class AccessTokenTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokenType: Literal["access-token"]
    script: str = Field(max_length=config.MAX_SCRIPT)
    environmentVariables: dict[str, str] | None = None
    token: config.AccessTokenSample
    context: config.AccessTokenContext


class ClientCredentialsTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokenType: Literal["client-credentials"]
    script: str = Field(max_length=config.MAX_SCRIPT)
    environmentVariables: dict[str, str] | None = None
    token: config.ClientCredentialsSample
    context: config.ClientCredentialsContext


TestBody = Annotated[AccessTokenTest | ClientCredentialsTest, Field(discriminator="tokenType")]
_TEST_BODY: TypeAdapter[AccessTokenTest | ClientCredentialsTest] = TypeAdapter(TestBody)


def invalid_input(error: ValidationError) -> ApiError:
    """Logto's guard error (400 ``guard.invalid_input``), the failing members listed."""
    details = [
        {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()
    ]
    return ApiError(400, "guard.invalid_input", "The request input is invalid.", details)


def script_error(failure: runner.ScriptFailure) -> ApiError:
    """Logto's answer to a failed test run: 403 for a denial, else 422, code
    ``jwt_customizer.general`` and the run's ``{message, error}`` under ``data``."""
    data: dict[str, Any] = {"message": failure.message}
    if "error" in failure.body:
        data["error"] = failure.body["error"]
    return ApiError(403 if failure.denied else 422, "jwt_customizer.general", GENERAL, data)


async def run_test(body: dict[str, Any]) -> dict[str, Any]:
    """Shared with the console's test runner."""
    try:
        parsed = _TEST_BODY.validate_python(body)
    except ValidationError as error:
        raise invalid_input(error) from None
    try:
        return await runner.run(
            shared(),
            parsed.script,
            token=parsed.token.model_dump(exclude_none=True),
            context=parsed.context.model_dump(exclude_none=True),
            environment=parsed.environmentVariables,
        )
    except runner.ScriptFailure as failure:
        raise script_error(failure) from None


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Configs"])

    def sealer() -> Sealer:
        assert api.runtime.secret_sealer is not None
        return api.runtime.secret_sealer.sealer  # the server's key, as connector secrets

    @router.put("/configs/jwt-customizer/{tokenTypePath}", response_model=CustomizerOut)
    async def upsert_jwt_customizer(tokenTypePath: TokenTypeParam, body: AnyBody) -> Response:
        """Replace the customizer (201 when there was none)."""
        try:
            async with api.write() as conn:
                value, created = await config.put(conn, sealer(), api.tenant, tokenTypePath, body)
        except ValidationError as error:
            raise invalid_input(error) from None
        return JSONResponse(value, 201 if created else 200)

    @router.patch("/configs/jwt-customizer/{tokenTypePath}", response_model=CustomizerOut)
    async def update_jwt_customizer(tokenTypePath: TokenTypeParam, body: AnyBody) -> dict[str, Any]:
        """Members given replace the stored ones; 404 when there is none."""
        try:
            async with api.write() as conn:
                return await config.patch(conn, sealer(), api.tenant, tokenTypePath, body)
        except ValidationError as error:
            raise invalid_input(error) from None

    @router.get("/configs/jwt-customizer", response_model=list[CustomizerEntry])
    async def list_jwt_customizers() -> list[dict[str, Any]]:
        async with api.read() as conn:
            return await config.list_all(conn, sealer(), api.tenant)

    @router.get("/configs/jwt-customizer/{tokenTypePath}", response_model=CustomizerOut)
    async def get_jwt_customizer(tokenTypePath: TokenTypeParam) -> dict[str, Any]:
        async with api.read() as conn:
            return await config.get(conn, sealer(), api.tenant, tokenTypePath)

    @router.delete(
        "/configs/jwt-customizer/{tokenTypePath}", status_code=204, response_class=Response
    )
    async def delete_jwt_customizer(tokenTypePath: TokenTypeParam) -> Response:
        async with api.write() as conn:
            await config.delete(conn, api.tenant, tokenTypePath)
        return Response(status_code=204)

    @router.post("/configs/jwt-customizer/test")
    async def test_jwt_customizer(body: AnyBody) -> dict[str, Any]:
        """Run a script against a sample token and context: the claims it returns, or
        ``jwt_customizer.general`` (403 for ``api.denyAccess``, else 422)."""
        return await run_test(body)

    return router
