"""SAML applications (Portico as the identity provider) in the console: created from the
"SAML" card of "Create application", then a page of their own with Settings (the SP, the
NameID format, assertion encryption, the attribute mapping), Connection details (what to
paste into the SP), Certificates (create, activate, delete) and delete with the typed name.

Every write goes through ``services/saml_applications`` (never the OIDC path, which
refuses SAML applications) in one transaction with the entry /api writes for the same
change (``ManagementApi.UpdateSamlApplication``...), then post/redirect/get. A refused form
answers with the whole page, the admin's draft and the reason next to the field; nothing
of it is stored.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.saml_idp.formats import MAPPABLE_CLAIMS, Binding, NameIdFormat
from portico.services import saml_applications as service
from portico.services.errors import NotFound, ServiceError
from portico.storage.database import now_ms
from portico.web.console.certificates import pem_download
from portico.web.console.certificates import rows as certificate_rows
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime
from portico.web.saml_idp_routes import key_sealer

SECTION = "applications"
BASE = "/console/saml-applications"
METADATA_PATH = "/api/saml-applications/{id}/metadata"
IDP_INITIATED_PATH = "/api/saml/{id}/sign-in"
MAX_NAME = 256
MAX_DESCRIPTION = 4096
MAX_ENTITY_ID = 128  # /api's limit
MAX_URL = 2048
MAX_CERTIFICATE = 16384
MAX_ATTRIBUTE = 256
MAX_LIFETIME_YEARS = 100
BLANK_MAPPING_ROWS = 3  # empty rows to add claims without JavaScript
NAME_ID_FORMATS = tuple(NameIdFormat)


def _urls(endpoint: str, app_id: str) -> dict[str, str]:
    """What the SP needs from Portico (Logto's paths; the IdP-initiated one is Portico's)."""
    return {
        "metadata": endpoint + METADATA_PATH.format(id=app_id),
        "sso": endpoint + service.SSO_PATH.format(id=app_id),
        "entity_id": endpoint + service.ENTITY_PATH.format(id=app_id),
        "idp_initiated": endpoint + IDP_INITIATED_PATH.format(id=app_id),
    }


def _values(app: dict[str, Any]) -> dict[str, Any]:
    """The settings form filled in from the stored application (Logto's form data)."""
    encryption = app["encryption"] or {}
    return {
        "name": app["name"],
        "description": app["description"] or "",
        "entity_id": app["entityId"] or "",
        "acs_url": (app["acsUrl"] or {}).get("url") or "",
        "name_id_format": app["nameIdFormat"],
        "encrypt": bool(encryption.get("encryptAssertion")),
        "encrypt_then_sign": bool(encryption.get("encryptThenSign")),
        "certificate": encryption.get("certificate") or "",
        "mapping": [(c, a) for c in MAPPABLE_CLAIMS if (a := app["attributeMapping"].get(c))],
    }


async def _page(
    ctx: Console,
    app_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    draft: dict[str, Any] | None = None,
) -> Response:
    async with ctx.read() as conn:
        app = await service.get(conn, ctx.tenant, app_id)
        secrets = await service.list_secrets(conn, ctx.tenant, app_id)
    certificates = certificate_rows(secrets, now_ms())
    values = draft or _values(app)
    return await ctx.render(
        "saml_application.html",
        status=status,
        section=SECTION,
        app=app,
        values=values,
        blank_rows=range(BLANK_MAPPING_ROWS),
        claims=MAPPABLE_CLAIMS,
        name_id_formats=NAME_ID_FORMATS,
        errors=errors or {},
        certificates=certificates,
        active=next((c for c in certificates if c["active"]), None),
        urls=_urls(ctx.endpoint, app_id),
        lifetime=service.DEFAULT_LIFETIME_YEARS,
        max_lifetime=MAX_LIFETIME_YEARS,
    )


# Create --------------------------------------------------------------------------------------
async def new(ctx: Console) -> Response:
    return await ctx.render("saml_application_new.html", section=SECTION, values={})


async def create(ctx: Console) -> Response:
    """Name and description (Logto's SAML creation form); the SP is configured on the page
    the redirect leads to, where its first certificate is already active."""
    values = {"name": ctx.field("name", MAX_NAME), "description": ctx.field("description", 4096)}
    if not values["name"].strip():
        return await ctx.render(
            "saml_application_new.html", status=400, section=SECTION, values=values,
            errors={"name": ctx.t("connector.required")},
        )  # fmt: skip
    async with ctx.write() as conn:
        created = await service.create(
            conn, ctx.tenant, key_sealer(ctx.runtime), endpoint=ctx.endpoint,
            name=values["name"], description=values["description"].strip() or None,
            custom_data=None, config={},
        )  # fmt: skip
        await ctx.audit(conn, "CreateSamlApplication", application_id=created["id"], status=201)
    ctx.flash(ctx.t("applications.created", name=created["name"]))
    return await ctx.redirect(f"{BASE}/{created['id']}")


# Settings ------------------------------------------------------------------------------------
def _draft(ctx: Console) -> dict[str, Any]:
    claims, attributes = ctx.values("claim"), ctx.values("attribute")
    rows = [
        (claim[:64].strip(), attribute[: MAX_ATTRIBUTE + 1].strip())
        for claim, attribute in zip_longest(claims[:100], attributes[:100], fillvalue="")
    ]
    return {
        "name": ctx.field("name", MAX_NAME),
        "description": ctx.field("description", MAX_DESCRIPTION),
        "entity_id": ctx.field("entity_id", MAX_ENTITY_ID + 1).strip(),
        "acs_url": ctx.field("acs_url", MAX_URL + 1).strip(),
        "name_id_format": ctx.field("name_id_format", 128),
        "encrypt": ctx.checked("encrypt"),
        "encrypt_then_sign": ctx.checked("encrypt_then_sign"),
        "certificate": ctx.field("certificate", MAX_CERTIFICATE + 1).strip(),
        "mapping": [row for row in rows if any(row)],
    }


def _mapping_error(ctx: Console, rows: list[tuple[str, str]]) -> str | None:
    """Each row names a known claim once and the SP's attribute for it."""
    seen: set[str] = set()
    for claim, attribute in rows:
        if not claim or not attribute:
            return ctx.t("saml.mapping_incomplete")
        if claim not in MAPPABLE_CLAIMS:
            return ctx.t("saml.mapping_unknown_claim", claim=claim)
        if claim in seen:
            return ctx.t("saml.mapping_duplicate", claim=claim)
        if len(attribute) > MAX_ATTRIBUTE:
            return ctx.t("form.at_most_characters", count=MAX_ATTRIBUTE)
        seen.add(claim)
    return None


def _encryption(draft: dict[str, Any]) -> dict[str, Any] | None:
    if not draft["encrypt"]:
        return None  # Logto's console: encryption off clears it
    return {
        "encryptAssertion": True,
        "encryptThenSign": draft["encrypt_then_sign"],
        "certificate": draft["certificate"],
    }


def _checked(ctx: Console, draft: dict[str, Any]) -> dict[str, str]:
    """The form's refusals by field: lengths and required fields here, the SP's rules by the
    service's own checks (the ones /api applies)."""
    errors: dict[str, str] = {}
    required = ctx.t("connector.required")
    if not draft["name"].strip():
        errors["name"] = required
    for name, most in (("entity_id", MAX_ENTITY_ID), ("acs_url", MAX_URL)):
        if not draft[name]:
            errors[name] = required
        elif len(draft[name]) > most:
            errors[name] = ctx.t("form.at_most_characters", count=most)
    if "acs_url" not in errors:
        try:
            service.check_acs_url({"binding": Binding.POST, "url": draft["acs_url"]})
        except ServiceError as error:
            errors["acs_url"] = error.message
    if draft["name_id_format"] not in NAME_ID_FORMATS:
        errors["name_id_format"] = ctx.t("saml.pick_name_id_format")
    if draft["encrypt"]:
        if not draft["certificate"]:
            errors["certificate"] = ctx.t("saml.certificate_required")
        elif len(draft["certificate"]) > MAX_CERTIFICATE:
            errors["certificate"] = ctx.t("form.at_most_characters", count=MAX_CERTIFICATE)
        else:
            try:
                service.check_encryption(_encryption(draft))
            except ServiceError:
                errors["certificate"] = ctx.t("saml.certificate_invalid")
    if problem := _mapping_error(ctx, draft["mapping"]):
        errors["mapping"] = problem
    return errors


async def details(ctx: Console) -> Response:
    return await _page(ctx, ctx.request.path_params["id"])


async def update(ctx: Console) -> Response:
    app_id = ctx.request.path_params["id"]
    draft = _draft(ctx)
    if errors := _checked(ctx, draft):
        return await _page(ctx, app_id, status=400, errors=errors, draft=draft)
    app_changes = {"name": draft["name"], "description": draft["description"].strip() or None}
    config = {
        "entityId": draft["entity_id"],
        "acsUrl": {"binding": Binding.POST.value, "url": draft["acs_url"]},
        "nameIdFormat": draft["name_id_format"],
        "encryption": _encryption(draft),
        "attributeMapping": dict(draft["mapping"]),
    }
    try:
        async with ctx.write() as conn:
            await service.update(conn, ctx.tenant, app_id, app_changes, config)
            await ctx.audit(conn, "UpdateSamlApplication", application_id=app_id,
                            params={"id": app_id}, status=200)  # fmt: skip
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _page(ctx, app_id, status=400, errors={"form": error.message}, draft=draft)
    ctx.flash(ctx.t("application.saved"))
    return await ctx.redirect(f"{BASE}/{app_id}")


# Certificates --------------------------------------------------------------------------------
async def create_certificate(ctx: Console) -> Response:
    """Inactive, as /api makes it: the SP learns it from the metadata before it signs."""
    app_id = ctx.request.path_params["id"]
    text = ctx.field("lifetime_years", 8).strip()
    years = int(text) if text.isdigit() else 0
    if not 1 <= years <= MAX_LIFETIME_YEARS:
        problem = ctx.t("saml.lifetime_range", most=MAX_LIFETIME_YEARS)
        return await _page(ctx, app_id, status=400, errors={"lifetime_years": problem})
    async with ctx.write() as conn:
        await service.create_secret(conn, ctx.tenant, key_sealer(ctx.runtime), app_id, years)
        await ctx.audit(conn, "CreateSamlApplicationSecret", application_id=app_id,
                        params={"id": app_id}, status=201)  # fmt: skip
    ctx.flash(ctx.t("saml.certificate_created"))
    return await ctx.redirect(f"{BASE}/{app_id}#saml-certificates")


async def activate_certificate(ctx: Console) -> Response:
    """The chosen certificate signs from now on (the previous one is deactivated in the same
    transaction): SPs that have not learnt it yet refuse the responses, hence the password."""
    app_id, secret_id = ctx.request.path_params["id"], ctx.request.path_params["secret"]
    async with ctx.write() as conn:
        await service.set_secret_active(conn, ctx.tenant, app_id, secret_id, True)
        await ctx.audit(conn, "UpdateSamlApplicationSecret", application_id=app_id,
                        params={"id": app_id, "secretId": secret_id}, status=200)  # fmt: skip
    ctx.flash(ctx.t("saml.certificate_activated"))
    return await ctx.redirect(f"{BASE}/{app_id}#saml-certificates")


async def delete_certificate(ctx: Console) -> Response:
    app_id, secret_id = ctx.request.path_params["id"], ctx.request.path_params["secret"]
    try:
        async with ctx.write() as conn:
            await service.delete_secret(conn, ctx.tenant, app_id, secret_id)
            await ctx.audit(conn, "DeleteSamlApplicationSecret", application_id=app_id,
                            params={"id": app_id, "secretId": secret_id}, status=204)  # fmt: skip
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _page(ctx, app_id, status=400, errors={"certificates": error.message})
    ctx.flash(ctx.t("saml.certificate_deleted"))
    return await ctx.redirect(f"{BASE}/{app_id}#saml-certificates")


async def download_certificate(ctx: Console) -> Response:
    """The PEM, named as Logto's console names the download."""
    app_id, secret_id = ctx.request.path_params["id"], ctx.request.path_params["secret"]
    async with ctx.read() as conn:
        secrets = await service.list_secrets(conn, ctx.tenant, app_id)
    found = next((s for s in secrets if s["id"] == secret_id), None)
    if found is None:
        raise NotFound("SAML application secret", secret_id)
    return pem_download(found["certificate"], f"{app_id}-saml-certificate-{secret_id}.pem")


# Delete --------------------------------------------------------------------------------------
async def delete(ctx: Console) -> Response:
    """Only with the application's name typed again: a wrong or missing name deletes nothing."""
    app_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        app = await service.get(conn, ctx.tenant, app_id)
    if not ctx.name_typed(app["name"]):
        refused = ctx.t("application.delete_refused")
        return await _page(ctx, app_id, status=400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await service.delete(conn, ctx.tenant, app_id)
        await ctx.audit(conn, "DeleteSamlApplication", application_id=app_id,
                        params={"id": app_id}, status=204)  # fmt: skip
    ctx.flash(ctx.t("applications.deleted", name=app["name"]))
    return await ctx.redirect("/console/applications")


def routes(runtime: Runtime) -> list[Route]:
    one, secret = BASE + "/{id}", BASE + "/{id}/certificates/{secret}"
    return [
        Route(BASE, form(runtime, create), methods=["POST"]),
        Route(f"{BASE}/new", page(runtime, new), methods=["GET"]),
        Route(one, page(runtime, details), methods=["GET"]),
        Route(one, form(runtime, update), methods=["POST"]),
        Route(one + "/certificates", form(runtime, create_certificate), methods=["POST"]),
        Route(secret + "/activate", form(runtime, activate_certificate, destructive=True),
              methods=["POST"]),
        Route(secret + "/delete", form(runtime, delete_certificate, destructive=True),
              methods=["POST"]),
        Route(secret + "/certificate.pem", page(runtime, download_certificate), methods=["GET"]),
        Route(one + "/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]  # fmt: skip
