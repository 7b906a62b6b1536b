"""Sign-in experience and custom phrases (Logto's ``/api/sign-in-exp``, ``/api/custom-phrases``
and the public ``/api/.well-known/sign-in-exp``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from fastapi.responses import JSONResponse

from portico.services import users as user_service
from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.password_policy import PasswordPolicy
from portico.services.sign_in_experience import InvalidSignInExperience, SignInExperience
from portico.web.api import schemas
from portico.web.api.audit import AuditedRoute
from portico.web.api.errors import ApiError
from portico.web.i18n import SUPPORTED
from portico.web.runtime import Runtime


class CheckPasswordBody(schemas.Body):
    password: str
    userId: str | None = None


class PasswordIssue(schemas.Body):
    code: str
    interpolation: dict[str, Any] | None = None


class CheckPasswordResult(schemas.Body):
    result: bool
    issues: list[PasswordIssue] | None = None


LanguageTag = Annotated[
    str, Path(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
]


def router(runtime: Runtime, authorized: Any) -> APIRouter:
    api = APIRouter(route_class=AuditedRoute)

    def experiences():  # type: ignore[no-untyped-def]
        assert runtime.experiences is not None
        return runtime.experiences

    def phrases():  # type: ignore[no-untyped-def]
        assert runtime.phrases is not None
        return runtime.phrases

    @api.get("/sign-in-exp", response_model=SignInExperience, dependencies=[authorized])
    async def get_sign_in_exp() -> SignInExperience:
        sie = await experiences().get(DEFAULT_TENANT)
        return sie.model_copy(update={"tenantId": DEFAULT_TENANT})

    @api.patch("/sign-in-exp", response_model=SignInExperience, dependencies=[authorized])
    async def patch_sign_in_exp(
        patch: Annotated[dict[str, Any], Body(description="Fields of SignInExperience to change")],
    ) -> SignInExperience:
        """Partial update: unknown keys and inconsistent sign-up/sign-in settings are
        rejected with 400 and nothing is stored."""
        try:
            return await experiences().update(DEFAULT_TENANT, patch)
        except InvalidSignInExperience as error:
            raise ApiError(400, "sign_in_experiences.invalid", str(error)) from None

    @api.post(
        "/sign-in-exp/default/check-password",
        response_model=CheckPasswordResult,
        response_model_exclude_none=True,
        responses={400: {"model": CheckPasswordResult}},
        dependencies=[authorized],
    )
    async def check_password_with_default_sign_in_experience(
        body: CheckPasswordBody,
    ) -> Any:
        """Logto's answer: 200 ``{result: true}``, or 400 ``{result: false, issues: [{code,
        interpolation?}]}`` listing every rule of the tenant's password policy the password
        breaks (the user's own details count when ``userId`` is given; 404 if unknown)."""
        assert runtime.engine is not None
        sie = await experiences().get(DEFAULT_TENANT)
        policy = PasswordPolicy.from_config(sie.passwordPolicy)
        async with runtime.engine.connect() as conn:
            rejections = await user_service.policy_rejections(
                conn, DEFAULT_TENANT, policy, body.password, body.userId
            )
        if not rejections:
            return {"result": True}
        issues = [
            {"code": r.code, **({"interpolation": r.data} if r.data else {})} for r in rejections
        ]
        return JSONResponse({"result": False, "issues": issues}, status_code=400)

    @api.get("/.well-known/sign-in-exp")
    async def public_sign_in_exp() -> dict[str, Any]:
        """What the sign-in pages (and Logto's SDK helpers) may know without a token."""
        sie = await experiences().get(DEFAULT_TENANT)
        data = sie.model_dump(mode="json")
        data["tenantId"] = DEFAULT_TENANT
        data.update(
            socialConnectors=[],
            ssoConnectors=[],
            forgotPassword={
                "email": sie.forgot_password_by("email"),
                "phone": sie.forgot_password_by("phone"),
            },
            isDevelopmentTenant=False,
        )
        return data

    @api.get("/custom-phrases", dependencies=[authorized])
    async def list_phrases() -> list[dict[str, Any]]:
        return await phrases().list(DEFAULT_TENANT)

    @api.get("/custom-phrases/{languageTag}", dependencies=[authorized])
    async def get_phrases(languageTag: LanguageTag) -> dict[str, Any]:
        for row in await phrases().list(DEFAULT_TENANT):
            if row["languageTag"] == languageTag:
                return row
        raise ApiError(404, "entity.not_found", f"no custom phrases for {languageTag}")

    @api.put("/custom-phrases/{languageTag}", dependencies=[authorized])
    async def put_phrases(
        languageTag: LanguageTag,
        translation: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        if languageTag not in SUPPORTED:
            raise ApiError(
                400, "localization.invalid_language_tag", f"supported: {', '.join(SUPPORTED)}"
            )
        return await phrases().put(DEFAULT_TENANT, languageTag, translation)

    @api.delete(
        "/custom-phrases/{languageTag}",
        status_code=204,
        response_class=Response,
        dependencies=[authorized],
    )
    async def delete_phrases(languageTag: LanguageTag) -> Response:
        if not await phrases().delete(DEFAULT_TENANT, languageTag):
            raise ApiError(404, "entity.not_found", f"no custom phrases for {languageTag}")
        return Response(status_code=204)

    return api
