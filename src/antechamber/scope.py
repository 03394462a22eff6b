"""The context every domain function runs in: which transaction, which project, who, when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from antechamber.clock import Clock
from antechamber.ids import Environment
from antechamber.settings import Settings

if TYPE_CHECKING:
    from antechamber.metrics import Metrics
    from antechamber.ratelimit import RateLimiter

CLI_ACTOR = "cli"


@dataclass(frozen=True)
class Scope:
    """A unit of work inside one project.

    `db` is the open transaction (domain code flushes, never commits). `actor` names who asks,
    for the audit trail: `secret:<secret_id>`, `cli`, `member:<member_id>`, `operator:<id>`.
    `limiter` and `metrics` are the process's (from `Services`); a scope that sends messages
    needs the limiter, so derive scopes with `dataclasses.replace`, which keeps them.
    `client_ip` is the address of the client behind the request when a face knows it
    (`client_address.client_address`, which honours the trusted proxies), None otherwise (the
    CLI, the worker): limits per client address (`client_limits`) apply only when it is set.
    `acting_member_id` is set only by `rbac.acting.act_as_member`, never from input.
    """

    db: Session
    project_id: str
    environment: Environment
    actor: str
    clock: Clock
    settings: Settings
    limiter: RateLimiter | None = None
    metrics: Metrics | None = None
    client_ip: str | None = None
    # The member whose session the request carries (`rbac.acting.act_as_member` sets it after
    # checking that session and its permissions): domain rules that depend on who acts (who may
    # give which role) read it. None: the application's backend, an operator, the CLI.
    acting_member_id: str | None = None
    # That member's session (set with `acting_member_id`): roles its SAML connections imply
    # count only in it (`rbac.sso_grants`).
    acting_session_id: str | None = None
