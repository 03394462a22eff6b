"""Route dispatch by index: the route a request goes to, found without trying every route.

FastAPI 0.165 routes a request by asking each route of each included router in turn whether it
matches (its `_IncludedRouter._match`), and does it twice for the router it picks; with the
API, the console and the reference app on one app that is 15–37 µs of CPU for a `/v1` route
and over 100 µs for a route included late, such as `/healthz`.

`RouteIndex` replaces that scan by a lookup, with the same outcome:

- Every route the scan would try is an *entry*, in the scan's order: a route of the app's own
  router, or a route of a router included in it (with the effective route context FastAPI
  built for that inclusion: its prefix, dependencies, response class and handler).
- Each entry's path is indexed by segments: a literal segment, a parameter that cannot hold a
  `/` (any segment), or a `{…:path}` parameter (any rest of the path). A request's path is
  looked up (an exact path in one dict lookup, others by a walk down the segments) to the
  entries that *could* match it, a superset of those whose regex does, in scan order. Methods
  play no part, so a path served for another method still answers 405 with its `Allow`.
- Those candidates are then matched by FastAPI's own `matches`, and the first full match (else
  the first partial one, i.e. the wrong method) is handed to FastAPI's own `handle`, with the
  scope FastAPI would have left: path parameters, `endpoint`, `route`, the effective route
  context and included router, form limits, `router`.
- Whatever the index does not decide goes to FastAPI's scan (`APIRouter.app`): no candidate
  matches (a 404, a redirect to the path with or without its trailing slash, a low-priority
  frontend route), a candidate of a kind it does not index (a router included in an included
  router, a Starlette route, mount or host inside an included router), a path it does not
  index (not starting with `/`, ending in a newline, which a route's `$` accepts), a scope
  other than HTTP, and a FastAPI without the internals it relies on (then it is not used).

The index is built when the app builds its middleware stack (its first request, all routes
installed) and rebuilt if the routes change afterwards (the app's own router and every
included router carry a version FastAPI bumps on each change; checked per request).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from starlette import convertors
from starlette._utils import get_route_path
from starlette.routing import PARAM_REGEX, BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

try:
    from fastapi.routing import (
        _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
        _FASTAPI_INCLUDED_ROUTER_KEY,
        _SCOPE_MISSING,
        APIRoute,
        APIRouter,
        _apply_router_form_limits,
        _EffectiveRouteContext,
        _get_fastapi_scope,
        _IncludedRouter,
        _restore_fastapi_scope_key,
        _update_scope,
    )
    from fastapi.telemetry._api import _route_selected

    AVAILABLE = True
except ImportError:  # pragma: no cover - another FastAPI: its own scan serves
    AVAILABLE = False

# Convertors whose regex never matches a "/": a parameter of these stays within its segment.
_ONE_SEGMENT = (
    convertors.StringConvertor,
    convertors.IntegerConvertor,
    convertors.FloatConvertor,
    convertors.UUIDConvertor,
)


_OWN_VERSION = attrgetter("_routes_version")
UNKNOWN: Any = object()  # `_Entry.lean` not looked at yet


class _Entry:
    """A route the scan would try, at its place (`order`) in the scan."""

    __slots__ = ("context", "included", "lean", "opaque", "order", "plain", "route")

    def __init__(
        self,
        order: int,
        route: BaseRoute,
        *,
        included: Any = None,
        context: Any = None,
        opaque: bool = False,
    ) -> None:
        self.order = order
        self.route = route  # the route FastAPI matches and handles
        self.included = included  # the _IncludedRouter it came from, None: the app's own
        self.context = context  # its _EffectiveRouteContext (a route of an included router)
        self.opaque = opaque  # the index does not decide past it: FastAPI's scan does
        self.lean: Any = UNKNOWN  # what `dispatch` found the route's handler to be
        # A route of an included router whose path has no parameters, and whose regex matches
        # that path: a candidate only for exactly that path (`_Index.plain`).
        self.plain = False


class _Node:
    __slots__ = ("end", "literal", "rest", "wild")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.wild: _Node | None = None  # a parameter segment (no "/")
        self.end: list[int] = []  # entries whose path ends here
        self.rest: list[int] = []  # entries whose path goes on with any rest (a path param)


def _template(entry: _Entry) -> str | None:
    """The path the entry's regex was compiled from; None: it may match any path."""
    if entry.opaque or isinstance(entry.route, Mount):
        return None
    if entry.context is not None:
        return str(entry.context.path)
    if isinstance(entry.route, Route | WebSocketRoute):
        return entry.route.path
    return None


def _plain(entry: _Entry, template: str) -> bool:
    """Whether `entry` is a route of an included router (FastAPI's) matched by its context's
    regex for its own path, without parameters: it is a candidate for no other path (its
    segments are literal in the index), so `RouteIndex.select` knows its match."""
    context = entry.context
    if context is None or entry.opaque or not isinstance(context.original_route, APIRoute):
        return False
    found = context.path_regex.match(template)
    return found is not None and not found.groupdict() and not context.param_convertors


def _insert(root: _Node, template: str, order: int) -> bool:
    """Index `template` under `root`; False if it cannot be (the entry may match any path)."""
    if not template.startswith("/"):
        return False
    node = root
    for segment in template.split("/")[1:]:
        params = list(PARAM_REGEX.finditer(segment))
        if not params:
            node = node.literal.setdefault(segment, _Node())
            continue
        one_segment = all(
            isinstance(convertors.CONVERTOR_TYPES[(m.group(2) or ":str")[1:]], _ONE_SEGMENT)
            for m in params
        )
        if not one_segment:  # this segment and all after it: any rest of the path
            node.rest.append(order)
            return True
        if node.wild is None:
            node.wild = _Node()
        node = node.wild
    node.end.append(order)
    return True


class _Index:
    def __init__(self, router: Any) -> None:
        # What changes when a route is added: the router's own version and routes, and each
        # included router's own version (FastAPI bumps it on every change to its routes, and
        # its scan sees the change). A change deeper down (a router included in an included
        # one) is seen by FastAPI's scan: such routes are opaque to the index.
        self.top_version: int = router._routes_version
        self.top_routes: int = len(router.routes)
        self.included = [r.original_router for r in router.routes if isinstance(r, _IncludedRouter)]
        self.included_versions = tuple(map(_OWN_VERSION, self.included))
        self.entries: list[_Entry] = []
        for route in router.routes:
            if isinstance(route, _IncludedRouter):
                for candidate in route.effective_candidates():
                    if isinstance(candidate, _EffectiveRouteContext) and isinstance(
                        candidate.original_route, APIRoute
                    ):
                        entry = _Entry(
                            len(self.entries),
                            candidate.original_route,
                            included=route,
                            context=candidate,
                        )
                    else:  # a nested router, or not a FastAPI route: FastAPI's scan decides
                        entry = _Entry(len(self.entries), route, opaque=True)
                    self.entries.append(entry)
            else:
                self.entries.append(_Entry(len(self.entries), route))
        self.root = _Node()
        self.always: list[int] = []  # entries that may match any path
        for entry in self.entries:
            template = _template(entry)
            if template is None or not _insert(self.root, template, entry.order):
                self.always.append(entry.order)
        # The exact paths of the routes without parameters: their candidates in one lookup.
        self.exact: dict[str, tuple[_Entry, ...]] = {}
        for entry in self.entries:
            template = _template(entry)
            if template is not None and PARAM_REGEX.search(template) is None:
                found = self.walk(template)
                if found is not None:
                    self.exact[template] = found
                entry.plain = _plain(entry, template)

    def walk(self, path: str) -> tuple[_Entry, ...] | None:
        """The entries that may match `path`, in scan order; None: not for the index."""
        if not path.startswith("/") or path.endswith("\n"):
            return None
        found = list(self.always)
        nodes = [self.root]
        for segment in path.split("/")[1:]:
            following = []
            for node in nodes:
                found.extend(node.rest)
                child = node.literal.get(segment)
                if child is not None:
                    following.append(child)
                if node.wild is not None:
                    following.append(node.wild)
            nodes = following
            if not nodes:
                break
        for node in nodes:
            found.extend(node.end)
        found.sort()
        entries = self.entries
        return tuple(entries[order] for order in found)


class RouteIndex:
    """The router's dispatch (its `middleware_stack`): by index, else FastAPI's scan."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self.scan = router.app
        self.index = _Index(router)

    @classmethod
    def install(cls, router: object) -> RouteIndex | None:
        """Dispatch `router`'s requests by index, if this FastAPI is the one it knows and the
        router has no middleware of its own."""
        if not AVAILABLE or not isinstance(router, APIRouter):
            return None
        dispatch = router.middleware_stack
        installed = getattr(dispatch, "__self__", None)
        if isinstance(installed, RouteIndex):  # the stack is built again: index again
            dispatch = installed.scan
        if dispatch != router.app:
            return None
        index = cls(router)
        router.middleware_stack = index.app
        return index

    def current(self) -> _Index:
        """The index, rebuilt if a route was added since it was built."""
        index = self.index
        router = self.router
        if (
            router._routes_version != index.top_version
            or len(router.routes) != index.top_routes
            or tuple(map(_OWN_VERSION, index.included)) != index.included_versions
        ):
            index = self.index = _Index(router)
        return index

    def candidates(self, scope: Scope) -> tuple[_Entry, ...] | None:
        index = self.current()
        path = get_route_path(scope)
        found = index.exact.get(path)
        return found if found is not None else index.walk(path)

    def select(self, scope: Scope) -> tuple[_Entry, Scope] | None:
        """The route FastAPI's scan would pick for `scope` and its match's child scope; None:
        left to the scan (no route matches, or the index cannot tell)."""
        candidates = self.candidates(scope)
        if not candidates:
            return None
        partial: tuple[_Entry, Scope] | None = None
        for entry in candidates:
            if entry.opaque:
                return None
            if entry.plain:
                # What `entry.route.matches` answers here, without its calls: the path is the
                # route's own (a plain entry is a candidate for no other), so its regex
                # matches with no parameters (`_EffectiveRouteContext.matches`, then
                # `APIRoute.matches`, which names the route).
                context = entry.context
                child_scope: Scope = {
                    "endpoint": context.endpoint,
                    "path_params": dict(scope.get("path_params", {})),
                    "route": entry.route,
                }
                methods = context.methods
                match = Match.PARTIAL if methods and scope["method"] not in methods else Match.FULL
            elif entry.context is None:
                match, child_scope = entry.route.matches(scope)
            else:  # as `_IncludedRouter._match` asks an included FastAPI route
                fastapi_scope = _get_fastapi_scope(scope)
                previous = fastapi_scope.get(_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, _SCOPE_MISSING)
                fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = entry.context
                try:
                    match, child_scope = entry.route.matches(scope)
                finally:
                    _restore_fastapi_scope_key(
                        scope, _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, previous
                    )
            if match == Match.FULL:
                return entry, child_scope
            if match == Match.PARTIAL and partial is None:
                partial = (entry, child_scope)
        return partial

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        selected = self.select(scope) if scope["type"] == "http" else None
        if selected is None:
            await self.scan(scope, receive, send)
            return
        entry, child_scope = selected
        route = entry.route
        if entry.context is None:  # a route of the app's own router: as `APIRouter.app`
            router = self.router
            _apply_router_form_limits(scope, router.form_limits)
            if "router" not in scope:
                scope["router"] = router
            _update_scope(scope, child_scope)
            _route_selected(
                scope=scope,
                path=getattr(route, "path_format", None),
                mount=isinstance(route, Mount),
            )
            await route.handle(scope, receive, send)
            return
        self.enter(scope, entry, child_scope)
        await route.handle(scope, receive, send)

    def enter(self, scope: Scope, entry: _Entry, child_scope: Scope) -> None:
        """Leave `scope` as FastAPI's routing leaves it for `entry`, a route of an included
        router that `select` picked (with `child_scope`), when it hands it to the route's
        `handle`: `APIRouter.app`, `_IncludedRouter.handle`, then its `_handle_selected`."""
        router = self.router
        _apply_router_form_limits(scope, router.form_limits)
        if "router" not in scope:
            scope["router"] = router
        included = entry.included
        _apply_router_form_limits(scope, included.include_context.form_limits)
        fastapi_scope = _get_fastapi_scope(scope)
        fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=entry.context.path_format, mount=False)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = entry.context
        scope["route"] = entry.route
