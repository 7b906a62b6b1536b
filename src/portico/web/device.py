"""The device page (RFC 8628 §3.3): the user types the code a device shows, sees which
application asks, and confirms, then signs in as on any sign-in (the hosted pages, MFA
included) or cancels. Guessing codes is limited per address (20 wrong codes, then 15
minutes); the forms carry a CSRF token bound to a cookie of their own (no interaction exists
yet)."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from portico.experience.sentinel import Locked
from portico.protocol import device
from portico.protocol.authorization.request import AuthorizationRequest
from portico.services.bootstrap import DEFAULT_TENANT
from portico.web.http import body_params, page, redirect
from portico.web.i18n import Translate
from portico.web.oidc_routes import begin
from portico.web.runtime import Runtime

GUESSES = 20
LOCKOUT_SECONDS = 15 * 60
CSRF_COOKIE = "portico_device_form"


def routes(runtime: Runtime) -> list[Route]:
    async def render(
        request: Request, template: str, status: int = 200, **values: object
    ) -> HTMLResponse:
        t: Translate = await runtime.translator(request)
        if "error" in values:  # a phrase key (and its parameters): shown translated
            params = values.pop("params", {})
            values["error"] = t(str(values["error"]), **params)  # type: ignore[arg-type]
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = page(template, status=status, t=t, csrf_token=token, **values)
        runtime.set_cookie(response, CSRF_COOKIE, token, device.TTL)
        return response

    async def form_of(request: Request) -> dict[str, list[str]] | None:
        fields = await body_params(request)
        sent = (fields.get("csrf_token") or [""])[0]
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
            return None
        return fields

    async def enter(request: Request) -> Response:
        typed = request.query_params.get("user_code", "")[:16]
        return await render(request, "device.html", code=typed)

    async def check(request: Request) -> Response:
        fields = await form_of(request)
        if fields is None:
            return await render(request, "device.html", 403, code="", error="error.csrf")
        typed = (fields.get("user_code") or [""])[0][:16]
        assert runtime.sentinel is not None and runtime.provider is not None
        address = request.client.host if request.client else "unknown"
        attempt = await runtime.sentinel.reserve(
            DEFAULT_TENANT, f"device-code:{address}", GUESSES, LOCKOUT_SECONDS
        )
        if isinstance(attempt, Locked):
            return await render(request, "device.html", 429, code=typed, error="error.locked",
                                params={"minutes": attempt.minutes_left()})  # fmt: skip
        found = await device.pending(runtime.provider, typed)
        if found is None:  # the reserved failure stands
            return await render(request, "device.html", 400, code=typed,
                                error="error.device_code_invalid")  # fmt: skip
        await runtime.sentinel.release(attempt)
        _, record = found
        client = await runtime.provider.client(record["clientId"])
        return await render(
            request, "device_confirm.html",
            code=device.shown(device.normalise(typed)),
            app=client.name if client else record["clientId"],
        )  # fmt: skip

    async def confirm(request: Request) -> Response:
        fields = await form_of(request)
        if fields is None:
            return await render(request, "device.html", 403, code="", error="error.csrf")
        assert runtime.provider is not None
        typed = (fields.get("user_code") or [""])[0][:16]
        found = await device.pending(runtime.provider, typed)
        if found is None:
            return redirect("/device/success?result=expired")
        key, record = found
        if (fields.get("decision") or [""])[0] != "allow":
            await device.decide(runtime.provider, key, None)
            return redirect("/device/success?result=denied")
        client = await runtime.provider.client(record["clientId"])
        if client is None:
            return redirect("/device/success?result=expired")
        auth_request = AuthorizationRequest(
            client_id=client.id,
            redirect_uri=f"{runtime.settings.endpoint}/device/success",
            response_mode=device.DEVICE_MODE,
            response_type="code",
            scopes=record["scope"].split(),
            resources=list(record["resources"]),
            nonce=record.get("nonce"),
            ui_locales=record.get("uiLocales"),
            extra={"device": key},
        )
        return await begin(runtime, request, client, auth_request)

    async def done(request: Request) -> Response:
        result = request.query_params.get("result", "")
        if result not in ("approved", "denied", "expired"):
            result = "expired"
        return await render(request, "device_done.html", result=result)

    return [
        Route("/device", enter, methods=["GET"]),
        Route("/device", check, methods=["POST"]),
        Route("/device/confirm", confirm, methods=["POST"]),
        Route("/device/success", done, methods=["GET"]),
    ]
