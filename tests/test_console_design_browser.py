"""The console's layout in Chromium: every page fits a phone's width (no sideways scrolling),
in light and dark schemes; the sign-in experience page shows one section at a time with Save
always in view, and its preview follows the form as the admin types. Screenshots land in
``tests/artifacts/console-design/`` (gitignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console import setup_code, start_server
from tests.support import Server
from tests.test_pages_browser import chromium_context

ARTIFACTS = Path(__file__).parent / "artifacts" / "console-design"
PASSWORD = "copper-meadow-signal-48"
PAGES = ("get-started", "applications", "applications/new", "api-resources",
         "sign-in-experience", "connectors", "users", "roles", "audit-logs", "signing-keys",
         "admins")  # fmt: skip


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory, "portico-console-design")


def _signed_in(page: Page, server: Server) -> None:
    page.goto(f"{server.endpoint}/console")
    if page.get_by_label("Set-up code").count():
        page.get_by_label("Set-up code").fill(setup_code(server) or "")
        page.get_by_label("Username").fill("designer")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Confirm password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
    else:
        page.get_by_label("Username").fill("designer")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_console_page_fits_a_phone(fresh: Server, scheme: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_context() as context:
        page = context.new_page()
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        page.set_viewport_size({"width": 1280, "height": 900})
        _signed_in(page, fresh)
        page.set_viewport_size({"width": 360, "height": 740})
        for name in PAGES:
            page.goto(f"{fresh.endpoint}/console/{name}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            overflow = page.evaluate(
                "() => document.scrollingElement.scrollWidth - window.innerWidth"
            )
            page.screenshot(path=str(ARTIFACTS / f"{scheme}-{name.replace('/', '-')}.png"),
                            full_page=True)  # fmt: skip
            assert overflow <= 1, f"/console/{name} scrolls sideways by {overflow}px at 360px"


def test_sign_in_experience_tabs_save_bar_and_live_preview(fresh: Server) -> None:
    with chromium_context() as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 800})
        _signed_in(page, fresh)
        page.goto(f"{fresh.endpoint}/console/sign-in-experience")
        # one section at a time
        expect(page.locator("#sie-sign-in")).to_be_visible()
        expect(page.locator("#sie-branding")).to_be_hidden()
        page.get_by_role("tab", name="Branding").click()
        expect(page.locator("#sie-branding")).to_be_visible()
        expect(page.locator("#sie-sign-in")).to_be_hidden()
        expect(page.get_by_role("tab", name="Branding")).to_have_attribute("aria-selected", "true")
        # Save stays in view at the bottom of the window
        save = page.get_by_role("button", name="Save changes")
        box = save.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800
        # the preview follows the form: a new brand colour reaches it without a click
        preview = page.frame_locator("iframe[name=preview]")
        page.locator("#primary_color").fill("#c2185b")
        expect(preview.locator("link[href*='preview.css']")).to_have_attribute(
            "href", re.compile(r"primary=%23c2185b")
        )
        page.screenshot(path=str(ARTIFACTS / "sign-in-experience-branding.png"), full_page=True)


def test_a_picker_filters_as_the_admin_types(fresh: Server) -> None:
    from portico.services import rbac

    async def setup(conn: Any) -> str:
        scopes = ["read:books", "write:books", "audit"]
        await rbac.create_resource(
            conn, "default", indicator="https://books.example.com", name="Books", scopes=scopes
        )
        role = await rbac.create_role(conn, "default", name="Librarian")
        return str(role["id"])

    role_id = fresh.db(setup)
    with chromium_context() as context:
        page = context.new_page()
        _signed_in(page, fresh)
        page.goto(f"{fresh.endpoint}/console/roles/{role_id}")
        picker = page.locator("fieldset.picker").first
        expect(picker.get_by_label("audit")).to_be_visible()
        picker.get_by_role("searchbox").fill("books")
        expect(picker.get_by_label("read:books")).to_be_visible()
        expect(picker.get_by_label("audit")).to_be_hidden()
        picker.get_by_label("write:books").check()
        page.get_by_role("button", name="Grant").click()
        expect(page.locator("table").first).to_contain_text("write:books")
        page.screenshot(path=str(ARTIFACTS / "role-picker.png"), full_page=True)
