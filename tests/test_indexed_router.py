"""web/routing.py: the root router looks routes up, and picks exactly what Starlette would."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from portico.settings import load_settings
from portico.web.app import create_app
from portico.web.routing import IndexedRouter

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def starlette_choice(routes: list[BaseRoute], scope: dict) -> BaseRoute | None:
    """What Starlette's loop hands a request to with a full match (the reference)."""
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def probe_paths(route: BaseRoute) -> list[str]:
    path = re.sub(r"\{[^}]*\}", "x1", getattr(route, "path", "") or "/")
    if isinstance(route, Mount):
        path += "/deep/er"
    return [path, path.rstrip("/") + "/", path + "/more", path.rstrip("/") or "/"]


def test_every_route_of_the_app_resolves_as_with_starlettes_loop(tmp_path) -> None:
    settings = load_settings(
        {
            "endpoint": "http://localhost:3001",
            "database_url": f"sqlite:///{tmp_path}/p.db",
            "data_dir": str(tmp_path),
        },
        environ={},
    )
    app = create_app(settings)
    router = app.router
    assert isinstance(router, IndexedRouter)
    paths = {p for route in router.routes for p in probe_paths(route)}
    paths |= {"/", "/nope", "/oidc", "/oidc/", "/api", "/api/", "/api/users", "/static/x.css"}
    checked = 0
    for path in sorted(paths):
        for method in METHODS:
            scope = {"type": "http", "path": path, "root_path": "", "method": method}
            expected = starlette_choice(router.routes, scope)
            selected = router.select(dict(scope))
            assert (selected[0] if selected else None) is expected, (method, path)
            checked += 1
    assert checked > 500  # every route, several shapes of path, every method


def _named(name: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{name} {dict(request.path_params)}")

    return endpoint


def _routes() -> list[BaseRoute]:
    inner = Starlette(routes=[Route("/{rest:path}", _named("mounted"))])
    return [
        Route("/", _named("home")),
        Route("/{lang}/about", _named("localized")),  # a parameter in the first segment
        Route("/fr/about", _named("never")),  # shadowed by the route above
        Route("/items/{item_id}", _named("item")),
        Route("/items/new", _named("never-either")),  # shadowed too
        Route("/items", _named("items-post"), methods=["POST"]),
        Route("/items", _named("items-get"), methods=["GET"]),
        Route("/only-post", _named("only-post"), methods=["POST"]),
        Route("/slash/", _named("slash")),
        Route("/{anything}/tail", _named("tail")),  # a segment known before it: still tried
        Mount("/m", app=inner),
        Route("/later/{rest:path}", _named("later-catch-all")),
        Route("/oidc/token", _named("token"), methods=["POST"]),
        Route("/oidc/{rest:path}", _named("oidc-catch-all")),
    ]


REQUESTS = [
    ("GET", "/", "home {}"),
    ("GET", "/fr/about", "localized {'lang': 'fr'}"),
    ("GET", "/items/new", "item {'item_id': 'new'}"),
    ("GET", "/items", "items-get {}"),
    ("POST", "/items", "items-post {}"),
    ("GET", "/only-post", None),  # 405 from Starlette's loop
    ("GET", "/slash", None),  # redirect to /slash/
    ("GET", "/m/a/b", "mounted {'rest': 'a/b'}"),
    ("GET", "/only-post/tail", "tail {'anything': 'only-post'}"),
    ("POST", "/oidc/token", "token {}"),
    ("GET", "/oidc/token", "oidc-catch-all {'rest': 'token'}"),  # method of the static one: no
    ("GET", "/nothing", None),  # 404
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
async def test_answers_equal_starlettes_router(method: str, path: str, body: str | None) -> None:
    stock = Starlette(routes=_routes())
    indexed = Starlette()
    indexed.router = IndexedRouter(_routes())

    async def answer(app: Starlette) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path)

    want, got = await answer(stock), await answer(indexed)
    assert (got.status_code, got.text, got.headers.get("location")) == (
        want.status_code,
        want.text,
        want.headers.get("location"),
    )
    if body is not None:
        assert (got.status_code, got.text) == (200, body)
    else:
        assert got.status_code in {307, 404, 405}


async def test_routes_added_after_the_first_request_are_served() -> None:
    app = Starlette()
    app.router = IndexedRouter([Route("/a", _named("a"))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/a")).text == "a {}"
        assert (await client.get("/b")).status_code == 404
        app.router.routes.append(Route("/b", _named("b")))
        assert (await client.get("/b")).text == "b {}"


def test_the_index_alone_finds_every_full_match() -> None:
    """Without the fallback to Starlette's loop: the index must not be what misses."""
    routes = _routes()
    router = IndexedRouter(routes)
    for method, path, _ in REQUESTS:
        scope = {"type": "http", "path": path, "root_path": "", "method": method}
        selected = router.select(dict(scope))
        assert (selected[0] if selected else None) is starlette_choice(routes, scope), path
