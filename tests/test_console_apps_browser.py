"""Applications in a real browser (Playwright + Debian's Chromium): reloading the page shown
after creating an application creates nothing more and no longer shows the secret; the Go
card's guide stays the Go guide; deleting asks for the application's name, and works with
JavaScript off."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import func, select

from portico.services.bootstrap import ACCOUNT_APP_ID
from portico.storage.tables import applications
from tests.console import ADMIN, ADMIN_PASSWORD, create_first_admin, start_server
from tests.console import ConsoleClient as HttpConsole
from tests.support import Server
from tests.test_pages_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _chromium_missing,
    chromium_context,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for srv in start_server(tmp_path_factory, "portico-console-apps-browser"):
        first = HttpConsole(srv)
        assert create_first_admin(first).status_code == 303
        first.close()
        yield srv


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


@pytest.fixture
def page_without_js() -> Iterator[Page]:
    missing = _chromium_missing()
    if missing:
        pytest.skip(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(java_script_enabled=False)
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


def app_count(server: Server) -> int:
    """Applications the admin made (Portico's built-in one aside)."""

    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(func.count()).where(applications.c.id != ACCOUNT_APP_ID)
        return (await conn.execute(query)).scalar_one()

    return server.db(work)  # type: ignore[no-any-return]


def sign_in(page: Page, server: Server) -> None:
    page.goto(f"{server.endpoint}/console/sign-in")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Get started")


def test_reload_after_create_then_delete_by_name(server: Server, page: Page) -> None:
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/applications/new?framework=go")
    page.get_by_label("Application name").fill("Gopher shop")
    page.get_by_role("button", name="Create application").click()
    expect(page.locator("#new-secret")).to_have_count(1)
    expect(page.get_by_role("heading", level=2, name="Guide: Go")).to_be_visible()
    assert app_count(server) == 1

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gopher shop")
    expect(page.locator("#new-secret")).to_have_count(0)
    # the page's sections are tabs: credentials first, the guide one click away
    expect(page.get_by_role("heading", level=2, name="Guide: Go")).to_be_hidden()
    page.get_by_role("tab", name="Guide: Go").click()
    expect(page.get_by_role("heading", level=2, name="Guide: Go")).to_be_visible()
    expect(page.locator("#app-credentials")).to_be_hidden()
    assert app_count(server) == 1


def test_delete_needs_the_name_without_javascript(server: Server, page_without_js: Page) -> None:
    page = page_without_js
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/applications/new?framework=python")
    page.get_by_label("Application name").fill("Doomed shop")
    page.get_by_role("button", name="Create application").click()
    before = app_count(server)
    page.get_by_label("Type Doomed shop to confirm").fill("doomed shop")
    page.get_by_role("button", name="Delete application").click()
    expect(page.get_by_text("nothing was deleted")).to_be_visible()
    assert app_count(server) == before
    page.get_by_label("Type Doomed shop to confirm").fill("Doomed shop")
    page.get_by_role("button", name="Delete application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")
    expect(page.get_by_text("Application “Doomed shop” deleted.")).to_be_visible()
    assert app_count(server) == before - 1


def test_create_opens_the_cards_over_the_list(server: Server, page: Page) -> None:
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/applications")
    page.get_by_role("link", name="Create application").click()
    cards = page.get_by_role("dialog", name="Create application")
    expect(cards).to_be_visible()
    assert page.url == f"{server.endpoint}/console/applications"  # no navigation
    cards.get_by_role("button", name="Cancel").click()
    expect(cards).to_be_hidden()
    page.get_by_role("link", name="Create application").click()
    cards.get_by_role("link", name=re.compile("^Python ")).click()
    expect(page.get_by_label("Application name")).to_be_visible()


def test_without_javascript_create_is_a_page(server: Server, page_without_js: Page) -> None:
    page = page_without_js
    sign_in(page, server)
    page.goto(f"{server.endpoint}/console/applications")
    page.get_by_role("link", name="Create application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create application")
    assert page.url.endswith("/console/applications/new")
