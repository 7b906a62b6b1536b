"""The root app's router: Starlette's, with the routes looked up instead of tried in turn.

Starlette's ``Router`` tries its routes one by one until one matches. The root app has some
110 (the provider, the hosted pages, the console, then ``/api``), so a Management API
request paid for about 110 regex matches before reaching its mount (163 µs of CPU on the
2-core bench machine) and an introspection request for nine (20 µs).

:class:`IndexedRouter` answers the same as Starlette's loop, with fewer tries:

- a request whose path is a route's fully static path (``/oidc/token``) tries that route
  first, unless an earlier route would take the same path (then the path is not indexed);
- otherwise it tries, in their original order, only the routes whose first path segment is
  the request's, plus those whose first segment cannot be told (a parameter in it);
- when none of those matches fully (a 405, a trailing-slash redirect, a 404) Starlette's own
  loop decides, unchanged.

The first full match among the routes tried is the one Starlette would pick, because every
route that could fully match the path is among them, in the same order.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route, Router, get_route_path
from starlette.types import Receive, Scope, Send

# The methods a static route is checked against when it accepts any (``methods=None``).
_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def first_segment(route: BaseRoute) -> str | None:
    """The first segment every path this route matches starts with; None when unknown."""
    if isinstance(route, Mount) and not route.path:
        return None  # a mount at the root takes every path
    if not isinstance(route, Route | Mount):
        return None  # Host, WebSocketRoute, others: not worth telling apart
    path = route.path
    literal = path.split("{", 1)[0]
    head, slash, _ = literal[1:].partition("/")
    if slash or literal == path:  # the segment ends before any parameter
        return head
    return None


def segment_of(path: str) -> str:
    return path[1:].partition("/")[0]


def _probe(path: str, method: str) -> Scope:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


def _shadowed(route: Route, earlier: list[BaseRoute]) -> bool:
    """True when a route before ``route`` fully matches its path for one of its methods."""
    for method in route.methods or _ALL_METHODS:
        scope = _probe(route.path, method)
        for other in earlier:
            try:
                match, _ = other.matches(scope)
            except Exception:  # a route that needs more of a scope: assume the worst
                return True
            if match is Match.FULL:
                return True
    return False


class IndexedRouter(Router):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._indexed = -1  # len(self.routes) the index was built for
        self._exact: dict[str, tuple[BaseRoute, ...]] = {}
        self._by_segment: dict[str, tuple[BaseRoute, ...]] = {}
        self._unknown: tuple[BaseRoute, ...] = ()

    def _build(self) -> None:
        exact: dict[str, list[BaseRoute]] = {}
        segments: dict[str, list[BaseRoute]] = {}
        unknown: list[BaseRoute] = []
        for position, route in enumerate(self.routes):
            segment = first_segment(route)
            if segment is None:
                unknown.append(route)
                for routes in segments.values():
                    routes.append(route)
            else:
                segments.setdefault(segment, list(unknown)).append(route)
            if (
                isinstance(route, Route)
                and "{" not in route.path
                and not _shadowed(route, self.routes[:position])
            ):
                exact.setdefault(route.path, []).append(route)
        self._exact = {path: tuple(routes) for path, routes in exact.items()}
        self._by_segment = {segment: tuple(routes) for segment, routes in segments.items()}
        self._unknown = tuple(unknown)
        self._indexed = len(self.routes)

    def select(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The route Starlette's loop would hand this HTTP request to with a full match,
        and its child scope; None when no route fully matches (then the loop decides)."""
        if self._indexed != len(self.routes):  # routes added since: index them again
            self._build()
        path = get_route_path(scope)
        for candidates in (
            self._exact.get(path, ()),
            self._by_segment.get(segment_of(path), self._unknown),
        ):
            for route in candidates:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    return route, child_scope
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        selected = self.select(scope) if scope["type"] == "http" else None
        if selected is None:
            await super().app(scope, receive, send)
            return
        route, child_scope = selected
        scope.setdefault("router", self)
        scope.update(child_scope)
        await route.handle(scope, receive, send)
