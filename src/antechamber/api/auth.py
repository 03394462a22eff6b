"""HTTP Basic `project_id:secret` on every `/v1/b2b/*` route, and the unit of work it opens."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Annotated, Any, TypeVar, get_type_hints

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from antechamber import db
from antechamber.api.lean import lean_handler
from antechamber.client_address import client_address
from antechamber.errors import Unauthorized
from antechamber.hosts import request_header
from antechamber.ids import environment_of
from antechamber.projects import service as projects
from antechamber.scope import Scope
from antechamber.services import Services

T = TypeVar("T")
E = TypeVar("E", bound=Callable[..., Any])


def services_of(request: Request) -> Services:
    services: Services = request.scope["app"].state.services  # `request.app`, not a property
    return services


async def run_read(request: Request, read: Callable[..., T], /, **kwargs: Any) -> T:
    """Run `read`, which opens only read-only units of work: on PostgreSQL in a greenlet on
    the loop (`Services.loop_units`, `loop_units`); on the event loop itself where
    `Services.reads_inline` says a read waits for nothing dearer than the hop (SQLite;
    PostgreSQL if so set); else in a worker thread."""
    services = services_of(request)
    if services.loop_units:
        return await _on_the_loop(services, read, **kwargs)
    if services.reads_inline:
        return read(**kwargs)
    return await run_in_threadpool(read, **kwargs)


async def run_write(request: Request, write: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `write`, which opens writing units of work and waits for nothing but the database:
    on the event loop itself where `Services.writes_inline` allows it (SQLite), holding the
    writer lock while `write` runs, once no thread of this process holds it
    (`db.writer_held_on_the_loop`, which says why that cannot block the loop); else, and
    while another process holds the lock, in a worker thread, which queues for the lock as
    every write did before. The one place that decides. (PostgreSQL's writes could run as
    loop units as the reads do; measured, a login gained nothing this machine could show:
    performance.md, item 57.)"""
    services = services_of(request)
    if services.writes_inline:
        async with db.writer_held_on_the_loop(services.engine) as held:
            if held:
                return write(*args, **kwargs)
    return await run_in_threadpool(write, *args, **kwargs)


async def _on_the_loop(
    services: Services, call: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """`call` in a `loop_units` greenlet on the loop (PostgreSQL reads), once the loop's
    gate lets it in (`Services.loop_gate`)."""
    from antechamber import loop_units  # greenlet: only with the `postgres` extra

    async with services.loop_gate():
        return await loop_units.run(call, *args, **kwargs)


def inline_write(endpoint: E) -> E:
    """Mark a `ProjectScope` handler of an `ApiRoute` whose unit of work may run on the event
    loop (`run_write`). Opt-in, for the hot paths of a login.

    A handler so marked must wait for nothing but the database: no network (an identity
    provider, a metadata URL, as the SSO routes do), no sleep, no long computation (the one
    known exception: the exchange that makes a project's first signing key, an RSA key
    generated once per project). Everything unmarked runs in a worker thread, so a new route
    that calls out, or an old one that starts to, is safe without anyone remembering to mark
    it: an opt-out marker could not promise that. `tests/api/test_inline_writes.py` lists the
    marked routes.
    """
    endpoint._inline_write = True  # type: ignore[attr-defined]
    return endpoint


def client_ip_of(request: Request, services: Services) -> str | None:
    """The client's address: the peer, or through `ANTECHAMBER_TRUSTED_PROXIES` the forwarded
    one. For the API this is usually the app's backend, unless the backend forwards its user's
    address in X-Forwarded-For and is listed as a trusted proxy."""
    trusted = services.settings.trusted_proxies
    client = request.scope.get("client")  # what `request.client` reads, without its namedtuple
    return client_address(
        client[0] if client else None,
        # Read only where a proxy may be believed (`client_address` ignores them otherwise).
        request.headers.getlist("x-forwarded-for") if trusted else (),
        trusted,
    )


def basic_credentials(request: Request) -> tuple[str, str]:
    header = request_header(request.scope, b"authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # bad base64 or UTF-8, and non-ASCII header text (not binascii.Error)
        raise Unauthorized() from None
    project_id, sep, secret = decoded.partition(":")
    if not sep or not project_id or not secret:
        raise Unauthorized()
    return project_id, secret


def project_scope(request: Request) -> Iterator[Scope]:
    """Authenticate the caller's project and open one transaction for the request.

    The transaction commits after the handler returns and rolls back if it raises, before the
    response is sent.
    """
    with authenticated_scope(request) as scope:
        yield scope


def authenticated_scope(
    request: Request, *, read_only: bool = False, defer: db.Defer | None = None
) -> AuthenticatedScope:
    """`project_scope` for a handler that opens its unit of work itself, because whether it
    only reads depends on its body (`read_only`, `defer`: see `db.transaction`). Use it as
    `with`: the block's `Scope` is the caller's project's, its actor the secret's."""
    return AuthenticatedScope(request, read_only, defer)


class AuthenticatedScope:
    """`authenticated_scope`: every API request enters one, so a class rather than a generator
    context manager, and the block's `Scope` built once (`Services.scope_of`, as the unit's
    own), not derived again with `dataclasses.replace`. The unit of work is `db.transaction`'s
    on `Services.sessions` (what `Services.scope` opens): the caller's secret is checked in it,
    and whatever the block raises (or the check) rolls it back."""

    __slots__ = ("defer", "read_only", "request", "unit")

    def __init__(self, request: Request, read_only: bool, defer: db.Defer | None) -> None:
        self.request = request
        self.read_only = read_only
        self.defer = defer

    def __enter__(self) -> Scope:
        request = self.request
        services = services_of(request)
        project_id, secret = basic_credentials(request)
        # The unit of work alone: its Scope is the caller's, made once the secret is checked.
        unit = db.transaction(services.sessions, read_only=self.read_only, defer=self.defer)
        session = unit.__enter__()
        try:
            caller = projects.authenticate(session, project_id, secret)
            # What `request.state.project_id = ...` sets, without the `State` made around it.
            request.scope.setdefault("state", {})["project_id"] = caller.project_id
            scope = services.scope_of(
                session,
                caller.project_id,
                environment_of(caller.project_id),
                f"secret:{caller.secret_id}",
                client_ip=client_ip_of(request, services),
            )
        except BaseException as exc:
            unit.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self.unit = unit
        return scope

    def __exit__(
        self,
        type_: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unit.__exit__(type_, exc, tb)


# scope="function": the transaction ends when the handler returns, *before* the response is
# sent. FastAPI's default ("request") would commit after the client has its answer, so a
# client could act on a write not yet visible (revoke, then authenticate at once), or be told
# 200 about a commit that then failed. Routes of `ApiRoute` never run this dependency: they
# open the same unit of work in the one thread that runs the handler (see there).
ProjectScope = Annotated[Scope, Depends(project_scope, scope="function")]


class ApiRoute(APIRoute):
    """A `/v1` route whose `ProjectScope` handler runs with its unit of work in one thread.

    FastAPI runs a sync generator dependency's entry, the handler and the dependency's exit
    in three separate hops to its thread pool (40 threads). A unit of work holds a lock from
    its first statement to its commit (SQLite's write lock and `writer_lock.WriterLock`,
    PostgreSQL row locks and a pooled connection); held across hops, it waits for a free
    thread to finish, while every thread may be waiting for that lock: with more concurrent
    writes than threads the server stalled until the 30 s lock timeout. Here authentication,
    the handler and the commit run in one hop, so whoever holds the lock can always finish.
    One hop instead of three is also cheaper (the GIL hand-offs between the threads cost
    more than the work).

    A handler marked `inline_write` (the hot paths of a login) makes no hop at all when it
    can: on SQLite its unit of work runs on the event loop itself once the writer lock is free
    (`run_write`); while another process holds the lock, in a worker thread as above. The hop
    cost the kernel's side (thread wake-ups, the GIL changing hands), not Python work: a
    discovery login in-process, 4.6–5.5 → 3.5–4.5 ms of CPU, context switches 25–35 → 2 a
    login (docs/performance.md).

    A `GET` route's unit of work is read-only (`db.transaction(read_only=True)`): on SQLite it
    reads beside the writer instead of queueing behind every login for the write lock, and a
    write it attempted would fail loudly (`ReadOnlyViolation`) rather than slip in. Like the
    session check, it runs on the event loop itself where `Services.reads_inline` allows it
    (SQLite; PostgreSQL if so set): side by side in many threads, reads spent their
    time handing the GIL to each other (one worker, GET organization: 1.7 → 2.4 ms of server
    CPU each).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        read_only = set(kwargs.get("methods") or ()) == {"GET"}
        super().__init__(path, _in_one_hop(endpoint, read_only=read_only), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, or where the route is simple enough a lean one in front of it
        (`api.lean`): the same values, validation, refusals and call, without the dependency
        machinery."""
        return lean_handler(self, super().get_route_handler())


def _in_one_hop(endpoint: Callable[..., Any], *, read_only: bool) -> Callable[..., Any]:
    if getattr(endpoint, "_in_one_hop", False) or inspect.iscoroutinefunction(endpoint):
        return endpoint
    hints = get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    scoped = [name for name in signature.parameters if hints.get(name) == ProjectScope]
    if not scoped:
        return endpoint
    (scope_name,) = scoped
    takes_request = "request" in signature.parameters
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != scope_name
    ]
    if not takes_request:
        parameters.append(
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        )

    def run_sync(**values: Any) -> Any:
        request = values["request"] if takes_request else values.pop("request")
        with authenticated_scope(request, read_only=read_only) as scope:
            return endpoint(**values, **{scope_name: scope})

    async def run_async(**values: Any) -> Any:
        return await run_read(values["request"], run_sync, **values)

    async def run_inline(**values: Any) -> Any:
        return await run_write(values["request"], run_sync, **values)

    run: Callable[..., Any] = (
        run_async
        if read_only
        else run_inline
        if getattr(endpoint, "_inline_write", False)
        else run_sync
    )
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=hints.get("return", Any)
    )
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(run, attribute, getattr(endpoint, attribute))
    run._in_one_hop = True  # type: ignore[attr-defined]
    run._inline_write = run is run_inline  # type: ignore[attr-defined]
    return run
