"""The console's lists with htmx (vendored, ``static/vendor/htmx.min.js``), in Chromium: the
users search narrows the list as the admin types and the pager turns pages without a page
load, the address following; the same forms and links work with JavaScript off; an answer
that is not a list (a bad time range in the audit-log filters) loads as a page of its own;
and nothing breaks the console's CSP (``script-src 'self'; style-src 'self'``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console import setup_code, start_server
from tests.support import Server
from tests.test_pages_browser import CHROMIUM, CHROMIUM_ARGS, _chromium_missing, chromium_context

STATIC = Path(__file__).resolve().parents[1] / "src" / "portico" / "web" / "static"
PASSWORD = "amber-quarry-whistle-62"
FILLERS = 24  # with the three named below, two pages of users (20 a page)
MARKER = "window.__stayed"  # set on the page; a page load would lose it
# CSP violations and script errors, gathered by the page itself from its first moment.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (the first admin is global state) holding a few users."""
    from portico.services import users

    async def seed(conn: Any) -> None:
        for name in ("grace_hopper", "alan_turing", "ada_lovelace"):
            await users.create_user(conn, "default", username=name)
        for n in range(FILLERS):
            await users.create_user(conn, "default", username=f"filler_{n:02d}")

    servers = start_server(tmp_path_factory, "portico-console-htmx")
    srv = next(servers)
    try:
        srv.db(seed)
        yield srv
    finally:
        next(servers, None)  # start_server goes on: stops the server, drops its database


@contextmanager
def chromium(java_script: bool = True) -> Iterator[Page]:
    """A page in a fresh context; ``chromium_context`` (skips without Chromium) unless the
    page must run without JavaScript, which needs a context of its own."""
    if java_script:
        with chromium_context() as context:
            yield _watched(context.new_page())
        return
    missing = _chromium_missing()
    if missing:
        pytest.fail(missing) if os.environ.get("CI") else pytest.skip(missing)
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(java_script_enabled=False)
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


def _watched(page: Page) -> Page:
    page.add_init_script(WATCH)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.__dict__["script_errors"] = errors
    return page


def _sign_in(page: Page, server: Server) -> None:
    page.goto(f"{server.endpoint}/console")
    if page.get_by_label("Set-up code").count():
        page.get_by_label("Set-up code").fill(setup_code(server) or "")
        page.get_by_label("Username").fill("lister")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Confirm password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
    else:
        page.get_by_label("Username").fill("lister")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def _assert_clean(page: Page) -> None:
    """No CSP violation and no script error on the page so far."""
    assert page.evaluate("window.__violations") == []
    assert page.__dict__["script_errors"] == []


def _listed(page: Page) -> list[str]:
    return page.locator("#results tbody tr td:first-child a").all_inner_texts()


def test_typing_in_the_users_search_narrows_the_list_in_place(fresh: Server) -> None:
    with chromium() as page:
        _sign_in(page, fresh)
        page.goto(f"{fresh.endpoint}/console/users")
        assert page.evaluate("window.htmx.version").startswith("2.")
        assert len(_listed(page)) == 20
        page.evaluate(f"{MARKER} = true")
        loads: list[str] = []
        page.on("request", lambda r: loads.append(r.url) if r.resource_type == "document" else None)
        with page.expect_request(re.compile(r"/console/users\?search=grac")) as asked:
            page.locator("#search").press_sequentially("grac", delay=40)
        assert asked.value.headers.get("hx-request") == "true"
        expect(page.locator("#results tbody tr")).to_have_count(1)
        assert _listed(page) == ["grace_hopper"]
        expect(page).to_have_url(re.compile(r"/console/users\?search=grac$"))
        expect(page.locator("#user-count")).to_contain_text("(1 matching)")
        # clearing the box brings everyone back, still in place
        page.locator("#search").fill("")
        expect(page.locator("#results tbody tr")).to_have_count(20)
        assert page.evaluate(MARKER) is True
        assert loads == []
        expect(page.locator("#search")).to_be_focused()
        _assert_clean(page)


def test_the_pager_turns_pages_in_place(fresh: Server) -> None:
    with chromium() as page:
        _sign_in(page, fresh)
        page.goto(f"{fresh.endpoint}/console/users")
        first = _listed(page)
        page.evaluate(f"{MARKER} = true")
        page.get_by_role("link", name="Next").click()
        expect(page).to_have_url(re.compile(r"/console/users\?page=2$"))
        expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
        second = _listed(page)
        assert len(second) == 27 - 20 and not set(first) & set(second)
        assert page.evaluate(MARKER) is True
        # times in swapped-in rows are local times too (console.js runs on what htmx adds)
        assert not re.fullmatch(r"\d+", page.locator("#results time").first.inner_text())
        # Back loads the first page again (htmx keeps no copies of pages in the browser)
        page.go_back()
        expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
        assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
        _assert_clean(page)


def test_the_users_search_works_without_javascript(fresh: Server) -> None:
    with chromium(java_script=False) as page:
        _sign_in(page, fresh)
        page.goto(f"{fresh.endpoint}/console/users")
        page.locator("#search").fill("lovelace")
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(re.compile(r"/console/users\?search=lovelace$"))
        assert _listed(page) == ["ada_lovelace"]
        page.goto(f"{fresh.endpoint}/console/users")
        page.get_by_role("link", name="Next").click()
        expect(page).to_have_url(re.compile(r"/console/users\?page=2$"))
        assert len(_listed(page)) == 7


def test_audit_log_filters_update_in_place_and_errors_load_as_a_page(fresh: Server) -> None:
    with chromium() as page:
        _sign_in(page, fresh)
        page.goto(f"{fresh.endpoint}/console/audit-logs")
        page.evaluate(f"{MARKER} = true")
        page.locator("#key").press_sequentially("NoSuch.Event", delay=20)
        expect(page).to_have_url(re.compile(r"key=NoSuch\.Event"))
        expect(page.locator("#results tbody")).to_contain_text("No entries match these filters.")
        expect(page.get_by_role("link", name="Clear filters")).to_be_visible()
        assert page.evaluate(MARKER) is True
        _assert_clean(page)
        # a range ending before it starts: the server's 400 page, loaded as a page
        page.locator("#start").fill("2024-05-02T10:00")
        page.locator("#end").fill("2024-05-01T10:00")
        expect(page.locator("#form-error")).to_be_visible()
        assert page.evaluate("window.__stayed") is None
        expect(page.locator("#end")).to_have_value("2024-05-01T10:00")


def test_htmx_is_served_like_the_other_static_files(fresh: Server) -> None:
    vendored = httpx.get(f"{fresh.endpoint}/static/vendor/htmx.min.js")
    own = httpx.get(f"{fresh.endpoint}/static/console.js")
    assert vendored.status_code == 200
    assert vendored.content == (STATIC / "vendor" / "htmx.min.js").read_bytes()
    assert vendored.headers["content-type"] == own.headers["content-type"]
    assert own.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    for header in ("cache-control", "etag", "last-modified", "x-content-type-options"):
        assert (header in vendored.headers) == (header in own.headers), header
    assert vendored.headers.get("cache-control") == own.headers.get("cache-control")
    assert (STATIC / "vendor" / "htmx.LICENSE").read_text().startswith("Zero-Clause BSD")
