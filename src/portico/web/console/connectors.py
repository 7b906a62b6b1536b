"""Connectors: the "Email and SMS connectors" and "Social connectors" lists, set-up and edit
forms made from each factory's config schema (``schema_form``), "send a test code" through
the connector's real send path, the redirect URI social providers need, delete.

``portico.connectors.Connectors`` holds the rules and writes in its own transaction (as for
/api); the audit entry follows in the next one, like ``web/api/audit.AuditedRoute``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.connectors import Connectors, ConnectorType
from portico.connectors.errors import ConnectorError
from portico.connectors.types import TemplateType
from portico.services import phones
from portico.services.errors import ServiceError
from portico.web.console import schema_form
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime

SECTION = "connectors"
MESSAGE_KINDS = (ConnectorType.Email.value, ConnectorType.Sms.value)
STATIC = Path(__file__).resolve().parent.parent / "static"
# What a new connector's ``templates`` editor starts with: one template per required use.
STARTER_TEMPLATES = [
    {
        "usageType": usage.value,
        "contentType": "text/plain",
        "subject": "Your verification code",
        "content": "Your verification code is {{code}}. It expires in 10 minutes.",
    }
    for usage in (TemplateType.SignIn, TemplateType.Register, TemplateType.ForgotPassword,
                  TemplateType.Generic)
]  # fmt: skip


def localised(text: dict[str, str], lang: str) -> str:
    """A connector's name or description in the admin's language when it has one."""
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")


def logo_of(metadata: dict[str, Any]) -> str | None:
    """The connector's logo when the console can show it (its CSP allows its own images
    only): a file under ``/static/``; else None, rather than a broken image."""
    logo = str(metadata.get("logo") or "")
    path = STATIC / logo.removeprefix("/static/")
    return logo if logo.startswith("/static/") and ".." not in logo and path.is_file() else None


def _service(ctx: Console) -> Connectors:
    assert ctx.runtime.connectors is not None
    return ctx.runtime.connectors


def _factory(ctx: Console, factory_id: str) -> dict[str, Any]:
    try:
        return _service(ctx).factory(factory_id)
    except ConnectorError as error:
        raise _not_found(error) from None


def _not_found(error: ConnectorError) -> ServiceError:
    return ServiceError(error.admin_message, code=error.code, status=404)


async def index(ctx: Console) -> Response:
    views = await _service(ctx).list_connectors(ctx.tenant)
    return await ctx.render(
        "connectors.html",
        section=SECTION,
        logo=logo_of,
        localised=localised,
        messaging=[v for v in views if v["type"] in MESSAGE_KINDS],
        social=[v for v in views if v["type"] == ConnectorType.Social.value],
    )


async def pick(ctx: Console) -> Response:
    wanted = ctx.request.query_params.get("type", "Email")
    kinds = (
        [ConnectorType.Social] if wanted == "Social" else [ConnectorType.Email, ConnectorType.Sms]
    )
    factories = [f for kind in kinds for f in _service(ctx).factories(kind)]
    return await ctx.render(
        "connector_pick.html",
        section=SECTION,
        factories=factories,
        social=wanted == "Social",
        logo=logo_of,
        localised=localised,
    )


async def _form(
    ctx: Console,
    factory: dict[str, Any],
    *,
    connector: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    fields = schema_form.fields_of(factory["configSchema"])
    if values is None:
        config = connector["config"] if connector else {}
        values = schema_form.values_of(fields, config)
        if connector is None and "templates" in values and not values["templates"]:
            values["templates"] = schema_form.values_of(fields, {"templates": STARTER_TEMPLATES})[
                "templates"
            ]
    stored = connector["config"] if connector else {}
    return await ctx.render(
        "connector.html",
        status=status,
        section=SECTION,
        logo=logo_of,
        localised=localised,
        factory=factory,
        connector=connector,
        fields=fields,
        values=values,
        errors=errors or {},
        has_secret={f.name: stored.get(f.name) == "******" for f in fields},
        sends=factory["type"] in MESSAGE_KINDS,
        redirect_uri=f"{ctx.endpoint}/callback/{connector['id']}" if connector else None,
        test_to=ctx.field("test_to", 320),
        notice=notice,
        error=error,
    )


async def new(ctx: Console) -> Response:
    return await _form(ctx, _factory(ctx, ctx.request.path_params["factory"]))


async def details(ctx: Console) -> Response:
    connector = await _connector(ctx)
    return await _form(ctx, _factory(ctx, connector["connectorId"]), connector=connector)


async def _connector(ctx: Console) -> dict[str, Any]:
    try:
        return await _service(ctx).get(ctx.tenant, ctx.request.path_params["id"])
    except ConnectorError as error:
        raise _not_found(error) from None


async def create(ctx: Console) -> Response:
    factory = _factory(ctx, ctx.request.path_params["factory"])
    return await _submit(ctx, factory, None)


async def update(ctx: Console) -> Response:
    connector = await _connector(ctx)
    return await _submit(ctx, _factory(ctx, connector["connectorId"]), connector)


async def _submit(
    ctx: Console, factory: dict[str, Any], connector: dict[str, Any] | None
) -> Response:
    """Save, or (``action=test``) send a test code through the form's unsaved values."""
    fields = schema_form.fields_of(factory["configSchema"])
    values = {f.name: ctx.field(f.name, 200_000) for f in fields}
    config, errors = schema_form.parse(
        fields, lambda name: values[name], ctx.t, connector["config"] if connector else None
    )
    again = {"connector": connector, "values": values}
    if errors:
        return await _form(
            ctx,
            factory,
            **again,
            errors=errors,
            status=400,
            error=ctx.t("connector.needs_attention"),
        )
    if ctx.field("action") == "test":
        return await _test(ctx, factory, config, again)
    try:
        if connector is None:
            saved = await _service(ctx).create(ctx.tenant, factory["id"], config)
        else:
            saved = await _service(ctx).update(ctx.tenant, connector["id"], config=config)
    except ConnectorError as error:
        errors = schema_form.validation_errors(error.data)
        return await _form(
            ctx, factory, **again, errors=errors, status=400, error=error.admin_message
        )
    operation = "CreateConnector" if connector is None else "UpdateConnector"
    async with ctx.write() as conn:
        await ctx.audit(conn, operation, params={"connectorId": saved["id"]}, status=200)
    ctx.flash(ctx.t("connector.saved", name=localised(factory["name"], ctx.t.lang)))
    return await ctx.redirect(f"/console/connectors/{saved['id']}")


async def _test(
    ctx: Console, factory: dict[str, Any], config: dict[str, Any], again: dict[str, Any]
) -> Response:
    to = ctx.field("test_to", 320).strip()
    if to and "@" not in to:  # a phone number, typed any way: the stored E.164 digits
        to = phones.normalise(to) or to
    if not to:
        return await _form(
            ctx,
            factory,
            **again,
            errors={"test_to": ctx.t("connector.test_to_missing")},
            status=400,
        )
    failure: ConnectorError | None = None
    try:
        await _service(ctx).test(ctx.tenant, factory["id"], to, config)
    except ConnectorError as error:
        failure = error
    async with ctx.write() as conn:
        await ctx.audit(
            conn, "TestConnector", params={"factoryId": factory["id"]},
            status=400 if failure else 204,
            error=_as_service_error(failure) if failure else None,
        )  # fmt: skip
    if failure is not None:
        errors = schema_form.validation_errors(failure.data)
        return await _form(
            ctx,
            factory,
            **again,
            errors=errors,
            status=400,
            error=ctx.t("connector.test_failed", reason=failure.admin_message),
        )
    return await _form(ctx, factory, **again, notice=ctx.t("connector.test_sent", to=to))


def _as_service_error(error: ConnectorError) -> ServiceError:
    return ServiceError(error.admin_message, code=error.code)


def shown_name(connector: dict[str, Any], lang: str) -> str:
    """What the connector's page calls it, in the admin's language: what deleting asks for."""
    return localised(connector["name"], lang)


async def delete(ctx: Console) -> Response:
    """Only with the connector's shown name typed again: a wrong or missing name deletes
    nothing (sign-in by its codes or its provider stops at once)."""
    connector = await _connector(ctx)
    if not ctx.name_typed(shown_name(connector, ctx.t.lang)):
        factory = _factory(ctx, connector["connectorId"])
        refused = ctx.t("connector.delete_refused")
        return await _form(
            ctx, factory, connector=connector, errors={"confirm_name": refused}, status=400
        )
    try:
        await _service(ctx).delete(ctx.tenant, connector["id"])
    except ConnectorError as error:
        raise _not_found(error) from None
    async with ctx.write() as conn:
        await ctx.audit(
            conn, "DeleteConnector", params={"connectorId": connector["id"]}, status=204
        )
    ctx.flash(ctx.t("connector.deleted", name=shown_name(connector, ctx.t.lang)))
    return await ctx.redirect("/console/connectors")


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/connectors"
    return [
        Route(base, page(runtime, index), methods=["GET"]),
        Route(f"{base}/new", page(runtime, pick), methods=["GET"]),
        Route(base + "/new/{factory}", page(runtime, new), methods=["GET"]),
        Route(base + "/new/{factory}", form(runtime, create), methods=["POST"]),
        Route(base + "/{id}", page(runtime, details), methods=["GET"]),
        Route(base + "/{id}", form(runtime, update), methods=["POST"]),
        Route(base + "/{id}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]
