"""The ``/api`` application. This milestone serves the status route and read access to
applications behind the guard; the full Management API is its own issue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from portico.storage import applications as apps_repo
from portico.web import failures
from portico.web.api import connectors as connector_routes
from portico.web.api import sign_in_exp
from portico.web.api.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    validation_error_handler,
)
from portico.web.api.guard import Auth, guard
from portico.web.runtime import Runtime


class OidcClientMetadata(BaseModel):
    redirectUris: list[str]
    postLogoutRedirectUris: list[str]


class ApplicationOut(BaseModel):
    tenantId: str
    id: str
    name: str
    description: str | None
    type: str
    oidcClientMetadata: OidcClientMetadata
    customClientMetadata: dict[str, Any]
    customData: dict[str, Any]
    isThirdParty: bool
    createdAt: int = Field(description="epoch milliseconds")


def application_out(row: dict[str, Any]) -> ApplicationOut:
    return ApplicationOut(
        tenantId=row["tenant_id"],
        id=row["id"],
        name=row["name"],
        description=row["description"],
        type=row["type"],
        oidcClientMetadata=OidcClientMetadata(**row["oidc_client_metadata"]),
        customClientMetadata=row["custom_client_metadata"],
        customData=row["custom_data"],
        isThirdParty=row["is_third_party"],
        createdAt=row["created_at"],
    )


# Beyond this the row offset overflows a 64-bit integer in the database driver (a 500).
MAX_PAGE = 1_000_000


def create_api(runtime: Runtime) -> FastAPI:
    api = FastAPI(
        title="Portico Management API",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/swagger.json",
    )
    api.add_exception_handler(ApiError, api_error_handler)
    api.add_exception_handler(RequestValidationError, validation_error_handler)
    api.add_exception_handler(StarletteHTTPException, http_error_handler)
    failures.install(api)  # database unavailable: 503 {code, message}; 500 without details
    authorized = Depends(guard(lambda: runtime.provider))
    api.include_router(connector_routes.routes(runtime, authorized))

    def engine():  # type: ignore[no-untyped-def]
        assert runtime.engine is not None
        return runtime.engine

    @api.get("/status", status_code=204, response_class=Response)
    async def status() -> Response:
        """Health check: 204 when the process serves requests."""
        return Response(status_code=204)

    @api.get("/applications", response_model=list[ApplicationOut])
    async def list_applications(
        response: Response,
        auth: Auth = authorized,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[ApplicationOut]:
        async with engine().connect() as conn:
            tenant = runtime.provider.tenant_id  # type: ignore[union-attr]
            total = await apps_repo.count_applications(conn, tenant)
            rows = await apps_repo.list_applications(
                conn, tenant, (page - 1) * page_size, page_size
            )
        response.headers["Total-Number"] = str(total)
        return [application_out(r) for r in rows]

    @api.get("/applications/{application_id}", response_model=ApplicationOut)
    async def get_application(application_id: str, auth: Auth = authorized) -> ApplicationOut:
        async with engine().connect() as conn:
            row = await apps_repo.get_application(conn, runtime.provider.tenant_id, application_id)  # type: ignore[union-attr]
        if row is None:
            raise ApiError(
                404,
                "entity.not_exists_with_id",
                f"The application with ID `{application_id}` does not exist.",
            )
        return application_out(row)

    api.include_router(sign_in_exp.router(runtime, authorized))
    return api
