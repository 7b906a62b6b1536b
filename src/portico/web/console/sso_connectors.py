"""Enterprise SSO connectors in the console (Logto's "Enterprise SSO"): the list, "Add
enterprise connector" (a provider card, then a name), and a page per connector with Settings
(name, email domains, profile sync, branding), Connection (the provider's config form, what
the IdP needs from Portico, an integration guide), Request signing (SAML connectors only:
the keys AuthnRequests are signed with and the config's ``signAuthnRequest``), Experience
(how users reach it) and delete with the typed name.

The pages know no provider: the cards are ``portico.sso.PROVIDERS``, the connection form is
each provider's config model's JSON schema (``schema_form``), and what the IdP needs is the
``providerConfig`` the Management API's GET answers (plus the OIDC redirect URI, which the
hosted pages define). A SAML or Entra ID provider appears here once registered.

Every write calls ``services/sso_connectors`` (the config is parsed and the IdP's discovery
or metadata fetched before anything is stored: that is the "test connection") in one
transaction with the entry /api writes (``ManagementApi.CreateSsoConnector``...), then
post/redirect/get; a refused form answers with the whole page and its draft.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import organization_jit as jit
from portico.services import sign_in_experience as sie_service
from portico.services import sso_connectors as service
from portico.services import sso_signing_keys as signing_keys
from portico.services.errors import NotFound, ServiceError
from portico.services.urls import check_public_url
from portico.sso import PROVIDERS, Provider, ProviderType, SsoError
from portico.sso.saml import RSA_SHA256, RSA_SHA512
from portico.storage.database import now_ms
from portico.web.console import schema_form
from portico.web.console.certificates import pem_download
from portico.web.console.certificates import rows as certificate_rows
from portico.web.console.context import Console, form, page
from portico.web.runtime import Runtime

SECTION = "enterprise-sso"
BASE = "/console/enterprise-sso"
CALLBACK_PATH = "/callback/sso/{id}"  # the hosted pages' OIDC callback (web/experience/sso.py)
MAX_NAME = 128  # /api's limits
MAX_DOMAINS = 100
MAX_CONFIG = 300_000
LONG_TEXT = 4096  # a config string allowed to be longer than this is typed in a textarea
LOGOS = (("logo", "logo"), ("dark_logo", "darkLogo"))
# One integration guide per provider, else per kind: phrase keys, one per step.
GUIDES: dict[str, tuple[str, ...]] = {
    "AzureAdOidc": ("sso.guide_azure_oidc_1", "sso.guide_azure_oidc_2", "sso.guide_oidc_3"),
    "GoogleWorkspace": ("sso.guide_google_1", "sso.guide_google_2", "sso.guide_oidc_3"),
    "Okta": ("sso.guide_okta_1", "sso.guide_okta_2", "sso.guide_oidc_3"),
    "AzureAD": ("sso.guide_azure_saml_1", "sso.guide_azure_saml_2", "sso.guide_saml_3"),
    ProviderType.OIDC.value: ("sso.guide_oidc_1", "sso.guide_oidc_2", "sso.guide_oidc_3"),
    ProviderType.SAML.value: ("sso.guide_saml_1", "sso.guide_saml_2", "sso.guide_saml_3"),
}
# Request signing (SAML): the config members its own form owns (not the Connection form's),
# and the algorithms offered, the default first (phrase keys of their labels).
SIGNING_MEMBERS = ("signAuthnRequest", "requestSignatureAlgorithm")
ALGORITHMS = ((RSA_SHA256, "sso.algorithm_rsa_sha256"), (RSA_SHA512, "sso.algorithm_rsa_sha512"))
# Refusals of signing keys and signed requests, in the admin's language.
SIGNING_REFUSALS = {
    "single_sign_on.active_signing_key_required": "sso.signing_needs_active_key",
    "single_sign_on.can_not_deactivate_signing_key_in_use": "sso.signing_key_in_use",
    "single_sign_on.can_not_delete_active_signing_key": "sso.signing_key_delete_active",
}


def _sealer(ctx: Console) -> Any:
    return service.sealer_for(ctx.runtime.settings.encryption_key_bytes())


def _provider(name: str) -> type[Provider]:  # type: ignore[type-arg]
    found = PROVIDERS.get(name)
    if found is None:
        raise ServiceError(
            f"The connector provider {name[:64]!r} is not supported.",
            code="connector.not_found",
            status=404,
        )
    return found


def _card(cls: type[Provider], lang: str) -> dict[str, str]:  # type: ignore[type-arg]
    return {
        "provider_name": cls.provider_name,
        "kind": cls.provider_type.value,
        "name": cls.localized(cls.name, lang),
        "description": cls.localized(cls.description, lang),
        "logo": cls.logo,
    }


# List and create -----------------------------------------------------------------------------
async def index(ctx: Console) -> Response:
    async with ctx.read() as conn:
        _, rows = await service.page(conn, ctx.tenant, offset=None, limit=None)
    connectors = [
        {**row, "provider": _card(_provider(row["provider_name"]), ctx.t.lang)} for row in rows
    ]
    return await ctx.render("enterprise_sso.html", section=SECTION, connectors=connectors)


async def pick(ctx: Console) -> Response:
    cards = [_card(cls, ctx.t.lang) for cls in PROVIDERS.values()]
    return await ctx.render("enterprise_sso_new.html", section=SECTION, cards=cards)


async def _name_form(
    ctx: Console,
    provider: dict[str, str],
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    return await ctx.render(
        "enterprise_sso_create.html", status=status, section=SECTION, provider=provider,
        typed=ctx.field("connector_name", MAX_NAME + 1), errors=errors or {},
    )  # fmt: skip


async def new(ctx: Console) -> Response:
    cls = _provider(ctx.request.path_params["provider"])
    return await _name_form(ctx, _card(cls, ctx.t.lang))


async def create(ctx: Console) -> Response:
    """Logto's creation: the provider and a name; the config follows on the connector's
    Connection tab, where the redirect URI or ACS URL the IdP needs first is shown."""
    cls = _provider(ctx.request.path_params["provider"])
    name = ctx.field("connector_name", MAX_NAME + 1).strip()
    if problem := _name_problem(ctx, name):
        return await _name_form(ctx, _card(cls, ctx.t.lang), status=400,
                                errors={"connector_name": problem})  # fmt: skip
    body = {"providerName": cls.provider_name, "connectorName": name}
    try:
        async with ctx.write() as conn:
            created = await service.create(conn, ctx.tenant, _sealer(ctx), ctx.endpoint, body)
            await ctx.audit(conn, "CreateSsoConnector", status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _name_form(ctx, _card(cls, ctx.t.lang), status=400,
                                errors={"connector_name": _name_refusal(ctx, error)})  # fmt: skip
    ctx.flash(ctx.t("sso.created", name=name))
    return await ctx.redirect(f"{BASE}/{created['id']}#sso-connection")


def _name_problem(ctx: Console, name: str) -> str | None:
    if not name:
        return ctx.t("connector.required")
    if len(name) > MAX_NAME:
        return ctx.t("form.at_most_characters", count=MAX_NAME)
    return None


def _name_refusal(ctx: Console, error: ServiceError) -> str:
    if error.code == "single_sign_on.duplicate_connector_name":
        return ctx.t("sso.name_taken")
    return error.message


# The connector's page --------------------------------------------------------------------------
def _settings_of(stored: dict[str, Any]) -> dict[str, Any]:
    branding = stored["branding"] or {}
    return {
        "name": stored["connector_name"],
        "display_name": branding.get("displayName") or "",
        "logo": branding.get("logo") or "",
        "dark_logo": branding.get("darkLogo") or "",
        "sync_profile": bool(stored["sync_profile"]),
    }


def _max_length(prop: dict[str, Any]) -> int:
    lengths = [p.get("maxLength") or 0 for p in (prop, *(prop.get("anyOf") or ()))]
    return max(lengths)


def _signs(cls: type[Provider]) -> bool:  # type: ignore[type-arg]
    """Whether the connector's requests can be signed (a SAML provider: SAML, AzureAD)."""
    return cls.provider_type is ProviderType.SAML


def _config_form(cls: type[Provider]) -> dict[str, Any]:  # type: ignore[type-arg]
    """The provider's config form: its fields (required ones first; everything shows when
    none is required, as for SAML's three alternative forms) and which take long text.
    Request signing has a form of its own (next to the keys it needs)."""
    schema = cls.config_model.model_json_schema()
    fields = schema_form.fields_of(schema)
    if _signs(cls):
        fields = [f for f in fields if f.name not in SIGNING_MEMBERS]
    main = [f for f in fields if not f.advanced] or fields
    long = {
        name for name, p in (schema.get("properties") or {}).items() if _max_length(p) > LONG_TEXT
    }
    return {"fields": fields, "main": main, "advanced": [f for f in fields if f not in main],
            "long": long}  # fmt: skip


def _facts(config: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, str, Any]]:
    """``providerConfig`` as rows (label, element id, value), nested members flattened: the
    page shows whatever the provider publishes, with no knowledge of which provider it is."""
    rows: list[tuple[str, str, Any]] = []
    for key, value in config.items():
        here = (*path, key)
        if isinstance(value, dict):
            rows += _facts(value, here)
        elif value not in (None, "", [], {}):
            label = ": ".join(schema_form.label_of(k) for k in here)
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            rows.append((label, "pc-" + "-".join(here), shown))
    return rows


async def _connection(
    ctx: Console,
    cls: type[Provider],  # type: ignore[type-arg]
    stored: dict[str, Any],
) -> tuple[dict[str, Any], str | None]:
    """The ``providerConfig`` /api's GET answers, and why the stored config does not work
    (None when it does: its discovery or metadata was fetched)."""
    sealer = _sealer(ctx)
    if stored["config"]:
        try:
            found = await service.instance(sealer, stored, ctx.endpoint).provider_config()
        except SsoError as error:
            problem = error.message
        else:
            return found, None
    else:
        problem = ctx.t("sso.not_configured")
    details = await service.provider_details(sealer, stored, ctx.endpoint, ctx.t.lang)
    return details.get("providerConfig") or {}, problem


def _signing_of(config: dict[str, Any]) -> dict[str, Any]:
    """The request-signing form filled in from the (masked) stored config."""
    algorithm = config.get("requestSignatureAlgorithm")
    return {
        "enabled": signing_keys.signs_requests(config),
        "algorithm": algorithm if algorithm in dict(ALGORITHMS) else RSA_SHA256,
    }


async def _signing(
    ctx: Console,
    cls: type[Provider],  # type: ignore[type-arg]
    stored: dict[str, Any],
    draft: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The Request signing section of a SAML connector (None for others): its keys and the
    form (the refused draft, else the stored config)."""
    if not _signs(cls):
        return None
    async with ctx.read() as conn:
        keys = await signing_keys.list_keys(conn, ctx.tenant, stored["id"])
    values = draft or _signing_of(service.masked(stored)["config"])
    return {"keys": certificate_rows(keys, now_ms()), "algorithms": ALGORITHMS, **values}


async def _page(
    ctx: Console,
    connector_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    config_values: dict[str, str] | None = None,
    typed_domain: str = "",
    signing_draft: dict[str, Any] | None = None,
) -> Response:
    """The page with every tab; a refused form's draft and errors in place (console.js opens
    the tab holding the error)."""
    async with ctx.read() as conn:
        stored = await service.row(conn, ctx.tenant, connector_id)
        sie = await sie_service.read(conn, ctx.tenant)
    cls = _provider(stored["provider_name"])
    shown = service.masked(stored)["config"]
    signing = await _signing(ctx, cls, stored, signing_draft)
    config_form = _config_form(cls)
    provider_config, problem = await _connection(ctx, cls, stored)
    kind = cls.provider_type.value
    return await ctx.render(
        "sso_connector.html", status=status, section=SECTION, connector=stored,
        provider=_card(cls, ctx.t.lang), errors=errors or {},
        settings=settings or _settings_of(stored), form=config_form,
        values=config_values or schema_form.values_of(config_form["fields"], shown),
        has_secret={f.name: shown.get(f.name) == "******" for f in config_form["fields"]},
        facts=_facts(provider_config), problem=problem,
        redirect_uri=ctx.endpoint + CALLBACK_PATH.format(id=connector_id)
        if kind == ProviderType.OIDC.value else None,
        guide=GUIDES.get(cls.provider_name) or GUIDES[kind],
        available=bool(service.available([stored])), sso_enabled=sie.singleSignOnEnabled,
        direct=f"sso:{connector_id}", typed_domain=typed_domain, max_domains=MAX_DOMAINS,
        signing=signing,
    )  # fmt: skip


async def details(ctx: Console) -> Response:
    return await _page(ctx, ctx.request.path_params["id"])


async def _update(ctx: Console, connector_id: str, body: dict[str, Any]) -> None:
    """One PATCH as /api makes it, with its entry, in one transaction."""
    async with ctx.write() as conn:
        await service.update(conn, ctx.tenant, _sealer(ctx), ctx.endpoint, connector_id, body)
        await ctx.audit(conn, "UpdateSsoConnector", params={"id": connector_id}, status=200)


async def _saved(ctx: Console, connector_id: str, tab: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"{BASE}/{connector_id}#{tab}")


# Settings ------------------------------------------------------------------------------------
def _settings_draft(ctx: Console) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "name": ctx.field("name", MAX_NAME + 1).strip(),
        "display_name": ctx.field("display_name", MAX_NAME + 1).strip(),
        "sync_profile": ctx.checked("sync_profile"),
    }
    for name, _ in LOGOS:
        draft[name] = ctx.field(name, 4096).strip()
    return draft


def _branding(ctx: Console, draft: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Logto's ``branding``: only what is filled in, each logo by /api's URL rule."""
    branding = {"displayName": draft["display_name"]} if draft["display_name"] else {}
    if len(draft["display_name"]) > MAX_NAME:
        errors["display_name"] = ctx.t("form.at_most_characters", count=MAX_NAME)
    for name, key in LOGOS:
        try:
            if draft[name]:
                branding[key] = check_public_url(draft[name])
        except ValueError:
            errors[name] = ctx.t("organization.url_refused")
    return branding


async def update_settings(ctx: Console) -> Response:
    connector_id = ctx.request.path_params["id"]
    draft = _settings_draft(ctx)
    errors: dict[str, str] = {}
    if problem := _name_problem(ctx, draft["name"]):
        errors["name"] = problem
    branding = _branding(ctx, draft, errors)
    if errors:
        return await _page(ctx, connector_id, status=400, errors=errors, settings=draft)
    body = {"connectorName": draft["name"], "branding": branding,
            "syncProfile": draft["sync_profile"]}  # fmt: skip
    try:
        await _update(ctx, connector_id, body)
    except ServiceError as error:
        if error.status == 404:
            raise
        refused = {"name": _name_refusal(ctx, error)}
        return await _page(ctx, connector_id, status=400, errors=refused, settings=draft)
    return await _saved(ctx, connector_id, "sso-settings", ctx.t("sso.saved"))


# Email domains --------------------------------------------------------------------------------
def _domain_problem(ctx: Console, domain: str, current: list[str]) -> str | None:
    if domain in current:
        return ctx.t("sso.domain_listed", domain=domain)
    if len(current) >= MAX_DOMAINS:
        return ctx.t("sso.domains_full", count=MAX_DOMAINS)
    return None


async def add_domain(ctx: Console) -> Response:
    """Checked as Logto's console checks it (a domain, not listed yet), then by the service
    (public mail providers refused)."""
    connector_id = ctx.request.path_params["id"]
    typed = ctx.field("domain", 512).strip()
    async with ctx.read() as conn:
        current = list((await service.row(conn, ctx.tenant, connector_id))["domains"])
    try:
        domain = jit.email_domain(typed)
        problem = _domain_problem(ctx, domain, current)
    except ValueError:
        problem = ctx.t("sso.domain_invalid")
    if problem is None:
        try:
            await _update(ctx, connector_id, {"domains": [*current, domain]})
        except ServiceError as error:
            if error.status == 404:
                raise
            forbidden = error.code == "single_sign_on.forbidden_domains"
            problem = ctx.t("sso.domain_forbidden", domain=domain) if forbidden else error.message
    if problem is not None:
        return await _page(ctx, connector_id, status=400, errors={"domain": problem},
                           typed_domain=typed)  # fmt: skip
    return await _saved(ctx, connector_id, "sso-settings", ctx.t("sso.domain_added", domain=domain))


async def remove_domain(ctx: Console) -> Response:
    connector_id, domain = ctx.request.path_params["id"], ctx.request.path_params["domain"]
    async with ctx.write() as conn:
        stored = await service.row(conn, ctx.tenant, connector_id)
        kept = [d for d in stored["domains"] if d != domain]
        if len(kept) != len(stored["domains"]):
            await service.update(conn, ctx.tenant, _sealer(ctx), ctx.endpoint, connector_id,
                                 {"domains": kept})  # fmt: skip
            await ctx.audit(conn, "UpdateSsoConnector", params={"id": connector_id}, status=200)
    message = ctx.t("sso.domain_removed", domain=domain)
    return await _saved(ctx, connector_id, "sso-settings", message)


# Connection -----------------------------------------------------------------------------------
async def update_connection(ctx: Console) -> Response:
    """The provider's config: read by its schema's form, then parsed and proven by the
    service (discovery or metadata fetched); a refusal stores nothing and names the field."""
    connector_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        stored = await service.row(conn, ctx.tenant, connector_id)
    fields = _config_form(_provider(stored["provider_name"]))["fields"]
    typed = {f.name: ctx.field(f.name, MAX_CONFIG) for f in fields}
    masked = service.masked(stored)["config"]
    config, errors = schema_form.parse(fields, lambda name: typed[name], ctx.t, masked)
    # What the Request signing form set stays as it is (this form does not show it).
    config.update({k: masked[k] for k in SIGNING_MEMBERS if k in masked})
    if not errors:
        try:
            await _update(ctx, connector_id, {"config": config})
        except ServiceError as error:
            if error.status == 404:
                raise
            errors = {**schema_form.validation_errors(error.data), "connection": error.message}
        else:
            return await _saved(ctx, connector_id, "sso-connection", ctx.t("sso.connection_saved"))
    errors.setdefault("connection", ctx.t("connector.needs_attention"))
    return await _page(ctx, connector_id, status=400, errors=errors, config_values=typed)


# Request signing (SAML) -----------------------------------------------------------------------
def _signing_refusal(ctx: Console, error: ServiceError) -> str:
    key = SIGNING_REFUSALS.get(error.code or "")
    return ctx.t(key) if key else error.message


async def _signing_saved(ctx: Console, connector_id: str, message: str) -> Response:
    return await _saved(ctx, connector_id, "sso-signing", message)


async def update_signing(ctx: Console) -> Response:
    """``signAuthnRequest`` and ``requestSignatureAlgorithm`` into the stored config (every
    other member kept, secrets included), by the same PATCH as the Connection form: the
    service refuses signed requests without an active key, and nothing is stored then."""
    connector_id = ctx.request.path_params["id"]
    draft = {"enabled": ctx.checked("sign_authn_request"),
             "algorithm": ctx.field("request_signature_algorithm", 128)}  # fmt: skip
    async with ctx.read() as conn:
        stored = await service.row(conn, ctx.tenant, connector_id)
    if not _signs(_provider(stored["provider_name"])):
        raise NotFound("SAML SSO connector", connector_id)
    config = service.masked(stored)["config"]
    problem = None
    if draft["algorithm"] not in dict(ALGORITHMS):
        problem = ctx.t("sso.signing_algorithm_invalid")
    elif not config:
        problem = ctx.t("sso.signing_needs_connection")
    else:
        changed = {**config, "signAuthnRequest": draft["enabled"],
                   "requestSignatureAlgorithm": draft["algorithm"]}  # fmt: skip
        try:
            await _update(ctx, connector_id, {"config": changed})
        except ServiceError as error:
            if error.status == 404:
                raise
            problem = _signing_refusal(ctx, error)
    if problem is not None:
        return await _page(ctx, connector_id, status=400, errors={"signing": problem},
                           signing_draft=draft)  # fmt: skip
    return await _signing_saved(ctx, connector_id, ctx.t("sso.signing_saved"))


async def create_signing_key(ctx: Console) -> Response:
    """Inactive, as /api makes it by default: the IdP gets its certificate before it signs."""
    connector_id = ctx.request.path_params["id"]
    async with ctx.write() as conn:
        await signing_keys.create_key(conn, ctx.tenant, _sealer(ctx), connector_id, active=False)
        await ctx.audit(conn, "CreateSsoConnectorSigningKey", params={"id": connector_id},
                        status=201)  # fmt: skip
    return await _signing_saved(ctx, connector_id, ctx.t("sso.signing_key_created"))


async def _set_key_active(ctx: Console, active: bool) -> Response:
    connector_id, key_id = ctx.request.path_params["id"], ctx.request.path_params["key"]
    try:
        async with ctx.write() as conn:
            await signing_keys.set_active(conn, ctx.tenant, connector_id, key_id, active)
            await ctx.audit(conn, "UpdateSsoConnectorSigningKey",
                            params={"id": connector_id, "keyId": key_id}, status=200)  # fmt: skip
    except ServiceError as error:
        if error.status == 404:
            raise
        refused = {"signing_keys": _signing_refusal(ctx, error)}
        return await _page(ctx, connector_id, status=400, errors=refused)
    message = "sso.signing_key_activated" if active else "sso.signing_key_deactivated"
    return await _signing_saved(ctx, connector_id, ctx.t(message))


async def activate_signing_key(ctx: Console) -> Response:
    """The chosen key signs from now on (the other is deactivated in the same transaction): an
    IdP that does not know its certificate yet refuses the requests, hence the password."""
    return await _set_key_active(ctx, True)


async def deactivate_signing_key(ctx: Console) -> Response:
    """Refused for the key in use while the config asks for signed requests."""
    return await _set_key_active(ctx, False)


async def delete_signing_key(ctx: Console) -> Response:
    """Inactive keys only (the active one may be what the IdP trusts now)."""
    connector_id, key_id = ctx.request.path_params["id"], ctx.request.path_params["key"]
    try:
        async with ctx.write() as conn:
            await signing_keys.delete_key(conn, ctx.tenant, connector_id, key_id)
            await ctx.audit(conn, "DeleteSsoConnectorSigningKey",
                            params={"id": connector_id, "keyId": key_id}, status=204)  # fmt: skip
    except ServiceError as error:
        if error.status == 404:
            raise
        refused = {"signing_keys": _signing_refusal(ctx, error)}
        return await _page(ctx, connector_id, status=400, errors=refused)
    return await _signing_saved(ctx, connector_id, ctx.t("sso.signing_key_deleted"))


async def download_signing_certificate(ctx: Console) -> Response:
    """The key's certificate (PEM), for the IdP; never the private key."""
    connector_id, key_id = ctx.request.path_params["id"], ctx.request.path_params["key"]
    async with ctx.read() as conn:
        keys = await signing_keys.list_keys(conn, ctx.tenant, connector_id)
    found = next((k for k in keys if k["id"] == key_id), None)
    if found is None:
        raise NotFound("SAML SSO connector signing key", key_id)
    return pem_download(found["certificate"], f"{connector_id}-sp-signing-certificate-{key_id}.pem")


# Experience -----------------------------------------------------------------------------------
async def single_sign_on(ctx: Console) -> Response:
    """The sign-in experience's ``singleSignOnEnabled`` (tenant-wide: every connector's email
    domains lead to single sign-on, or none), as /api's PATCH /sign-in-exp sets it."""
    connector_id = ctx.request.path_params["id"]
    enabled = ctx.field("enabled") == "true"
    async with ctx.write() as conn:
        await service.row(conn, ctx.tenant, connector_id)
        await sie_service.patch_stored(conn, ctx.tenant, {"singleSignOnEnabled": enabled})
        await ctx.audit(conn, "PatchSignInExp", status=200)
    message = ctx.t("sso.single_sign_on_on" if enabled else "sso.single_sign_on_off")
    return await _saved(ctx, connector_id, "sso-experience", message)


# Delete ---------------------------------------------------------------------------------------
async def delete(ctx: Console) -> Response:
    """Only with the connector's name typed again; its users' SSO identities go with it."""
    connector_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        stored = await service.row(conn, ctx.tenant, connector_id)
    if not ctx.name_typed(stored["connector_name"]):
        refused = {"confirm_name": ctx.t("sso.delete_refused")}
        return await _page(ctx, connector_id, status=400, errors=refused)
    async with ctx.write() as conn:
        await service.delete(conn, ctx.tenant, connector_id)
        await ctx.audit(conn, "DeleteSsoConnector", params={"id": connector_id}, status=204)
    ctx.flash(ctx.t("sso.deleted", name=stored["connector_name"]))
    return await ctx.redirect(BASE)


def routes(runtime: Runtime) -> list[Route]:
    one = BASE + "/{id}"
    key = one + "/signing-keys/{key}"
    return [
        Route(BASE, page(runtime, index), methods=["GET"]),
        Route(f"{BASE}/new", page(runtime, pick), methods=["GET"]),
        Route(BASE + "/new/{provider}", page(runtime, new), methods=["GET"]),
        Route(BASE + "/new/{provider}", form(runtime, create), methods=["POST"]),
        Route(one, page(runtime, details), methods=["GET"]),
        Route(one, form(runtime, update_settings), methods=["POST"]),
        Route(one + "/domains", form(runtime, add_domain), methods=["POST"]),
        Route(one + "/domains/{domain}/delete", form(runtime, remove_domain), methods=["POST"]),
        Route(one + "/connection", form(runtime, update_connection), methods=["POST"]),
        Route(one + "/signing", form(runtime, update_signing), methods=["POST"]),
        Route(one + "/signing-keys", form(runtime, create_signing_key), methods=["POST"]),
        Route(key + "/activate", form(runtime, activate_signing_key, destructive=True),
              methods=["POST"]),
        Route(key + "/deactivate", form(runtime, deactivate_signing_key), methods=["POST"]),
        Route(key + "/delete", form(runtime, delete_signing_key, destructive=True),
              methods=["POST"]),
        Route(key + "/certificate.pem", page(runtime, download_signing_certificate),
              methods=["GET"]),
        Route(one + "/single-sign-on", form(runtime, single_sign_on), methods=["POST"]),
        Route(one + "/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]  # fmt: skip
