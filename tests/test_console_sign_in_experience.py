"""Console sign-in experience: saving through the service (its validation errors shown),
audit entries, and the live preview (the real sign-in page, framable by the console only,
no interaction started, unsaved settings through the form's Preview button)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from portico.storage.tables import logs, oidc_model_instances, sign_in_experiences
from tests.console import ConsoleClient
from tests.support import csrf_of

PAGE = "/console/sign-in-experience"


def form(csrf: str, **changes: Any) -> dict[str, Any]:
    base = {
        "csrf_token": csrf, "sign_in_mode": "SignInAndRegister", "sign_up": "username",
        "sign_up_password": "on", "method_username": "on", "username_password": "on",
        "username_password_primary": "on", "primary_color": "#6139F6",
        "dark_primary_color": "#8768F8", "auto_detect": "on", "fallback_language": "en",
        "pw_min": "8", "pw_max": "256", "pw_types": "1", "pw_pwned": "on", "pw_sequence": "on",
        "pw_user_info": "on", "pw_words": "",
    }  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def stored(console: ConsoleClient) -> Any:
    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(sign_in_experiences).where(sign_in_experiences.c.tenant_id == "default")
        return (await conn.execute(query)).one()

    return console.server.db(work)


def test_saves_email_code_sign_in_with_an_audit_entry(console: ConsoleClient) -> None:
    csrf = csrf_of(console.get(PAGE).text)
    response = console.post(PAGE, form(
        csrf, sign_up="email", sign_up_password=None, sign_up_verify="on",
        method_email="on", email_code="on", email_password=None, email_password_primary=None,
        primary_color="#0a7d5b", terms_url="https://example.com/terms", pw_min="10",
        pw_words="portico\nbookstore",
    ))  # fmt: skip
    assert response.status_code == 303, response.text[:1500]
    row = stored(console)
    assert row.sign_up == {"identifiers": ["email"], "password": False, "verify": True,
                           "secondaryIdentifiers": []}  # fmt: skip
    email = next(m for m in row.sign_in["methods"] if m["identifier"] == "email")
    assert email["verificationCode"] and not email["password"]
    assert row.color["primaryColor"] == "#0a7d5b"
    assert row.terms_of_use_url == "https://example.com/terms"
    assert row.password_policy["length"]["min"] == 10
    assert row.password_policy["rejects"]["words"] == ["portico", "bookstore"]
    page = console.get(PAGE).text
    assert "Sign-in experience saved" in page and 'value="#0a7d5b"' in page

    async def audit(conn):  # type: ignore[no-untyped-def]
        query = select(logs.c.payload).where(logs.c.key == "ManagementApi.PatchSignInExp")
        query = query.order_by(logs.c.created_at)  # oldest first: the last is this test's
        return [r.payload for r in await conn.execute(query)]

    assert console.server.db(audit)[-1]["actor"]["type"] == "console"
    # The real sign-in pages use it at once (the theme stylesheet has the new colour).
    theme = httpx.get(f"{console.server.endpoint}/sign-in-exp/theme.css").text
    assert "#0a7d5b" in theme


def test_service_validation_errors_are_shown_and_nothing_is_stored(console: ConsoleClient) -> None:
    before = stored(console)
    csrf = csrf_of(console.get(PAGE).text)
    response = console.post(PAGE, form(csrf, sign_up="email", sign_up_password=None))
    assert response.status_code == 400
    assert "sign-up identifier &#39;email&#39; is missing in signIn.methods" in response.text
    bad = console.post(PAGE, form(csrf, pw_min="0", primary_color="green", pw_types="x"))
    assert bad.status_code == 400
    assert "A colour like #6139F6." in bad.text and "Enter a whole number." in bad.text
    worse = console.post(PAGE, form(csrf, pw_min="0"))
    assert "passwordPolicy.length.min" in worse.text
    assert stored(console) == before


def test_save_needs_csrf(console: ConsoleClient) -> None:
    before = stored(console)
    assert console.post(PAGE, form("forged", primary_color="#000000")).status_code == 403
    assert stored(console) == before


def interactions(console: ConsoleClient) -> int:
    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(func.count()).where(oidc_model_instances.c.model_name == "Interaction")
        return (await conn.execute(query)).scalar_one()

    return console.server.db(work)


def test_preview_renders_the_real_sign_in_page_framed_by_the_console_only(
    console: ConsoleClient,
) -> None:
    count = interactions(console)
    page = console.get(PAGE)
    assert 'src="/console/sign-in-experience/preview"' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    preview = console.get(f"{PAGE}/preview")
    assert (
        preview.status_code == 200
        and "<h1>" in preview.text
        and "/static/portico.css" in preview.text
    )
    csp = preview.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "form-action 'none'" in csp
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert interactions(console) == count  # no interaction was started
    assert not any(k.endswith("interaction") for k in console.client.portico_cookies.values)  # type: ignore[attr-defined]
    # Signed out, the preview is not available.
    assert httpx.get(f"{console.server.endpoint}{PAGE}/preview").status_code == 303


def test_preview_of_unsaved_settings(console: ConsoleClient) -> None:
    before = stored(console)
    csrf = csrf_of(console.get(PAGE).text)
    preview = console.post(f"{PAGE}/preview", form(
        csrf, primary_color="#123456", sign_in_mode="SignIn", fallback_language="es",
        auto_detect=None,
    ))  # fmt: skip
    assert preview.status_code == 200
    assert "primary=%23123456" in preview.text and "Inicia sesión" in preview.text
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    css = console.get(f"{PAGE}/preview.css?primary=%23123456&dark=%23654321&darkMode=")
    assert css.headers["content-type"].startswith("text/css") and "#123456" in css.text
    assert console.get(f"{PAGE}/preview.css?primary=red&dark=%23654321").status_code == 400
    invalid = console.post(f"{PAGE}/preview", form(csrf, sign_up="phone"))
    assert (
        invalid.status_code == 400
        and "frame-ancestors 'self'" in invalid.headers["content-security-policy"]
    )
    # Only the message: a link in the frame would open the console inside the preview.
    assert "Cannot preview these settings" in invalid.text and "<a " not in invalid.text
    assert stored(console) == before
