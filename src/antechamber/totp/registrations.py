"""A member's TOTP registration row and its sealed secret.

One registration per member and project (`registration_of`); `usable_registration` reads the
active one, or a pending one that has not expired, with the member's lock in one statement
(`usable` checks the same columns when `otp.flows.second_factor_rows` read them, which then
join `USABLE_COLUMNS`). `active_registration` is the one recovery codes need (else
`no_active_recovery_code_backed_factor`). `delete_registration` removes a registration with its
recovery codes. The secret is sealed with a purpose bound to the registration's id
(`secret_purpose`), so a sealed seed copied onto another row does not open (`secret`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, delete, select

from antechamber import crypto, db
from antechamber.clock import as_utc
from antechamber.members.models import Member
from antechamber.scope import Scope
from antechamber.totp import errors
from antechamber.totp.models import TotpRecoveryCode, TotpRegistration

_SECRET_PURPOSE = "totp-secret"  # noqa: S105 (a key-derivation label)
_regs = cast(Table, TotpRegistration.__table__)
_members = cast(Table, Member.__table__)
#: The member's registration (columns None if there is none) and lock, in one read.
_USABLE = (
    select(
        _regs.c.id,
        _regs.c.secret_sealed,
        _regs.c.status,
        _regs.c.expires_at,
        _members.c.lock_expires_at,
    )
    .select_from(
        _members.outerjoin(
            _regs,
            and_(_regs.c.member_id == _members.c.id, _regs.c.project_id == bindparam("b_project")),
        )
    )
    .where(_members.c.id == bindparam("b_member"))
)
USABLE_COLUMNS = (_regs.c.id, _regs.c.secret_sealed, _regs.c.status, _regs.c.expires_at)


def registration_of(scope: Scope, member: Member) -> TotpRegistration | None:
    return scope.db.scalar(
        select(TotpRegistration).where(
            TotpRegistration.member_id == member.id,
            TotpRegistration.project_id == scope.project_id,
        )
    )


def usable_registration(scope: Scope, member: Member) -> Usable:
    """The member's active registration, or a pending one that has not expired (`id`,
    `secret_sealed`, `status`, `expires_at`), with the member's `lock_expires_at`: one read."""
    found = (
        db.connection(scope.db)
        .execute(_USABLE, {"b_member": member.id, "b_project": scope.project_id})
        .one_or_none()
    )
    return usable(scope, None if found is None else tuple(found))


class Usable(NamedTuple):
    """The member's usable registration and lock, as `usable_registration` reads them."""

    id: str
    secret_sealed: str
    status: str
    expires_at: datetime | None
    lock_expires_at: datetime | None


def usable(scope: Scope, values: tuple[Any, ...] | None) -> Usable:
    """`values` (`_USABLE`'s columns; `id` None: no registration) as `Usable`, or `TotpNotFound`
    unless the registration is active, or pending and not expired."""
    if values is None or values[0] is None:
        raise errors.TotpNotFound()
    registration = Usable(*values)
    if registration.status == "pending":
        expires = registration.expires_at
        if expires is None or as_utc(expires) <= scope.clock.now():
            raise errors.TotpNotFound(
                "The member's TOTP registration was never confirmed and has expired; create "
                "a new one."
            )
    return registration


def active_registration(scope: Scope, member: Member) -> TotpRegistration:
    registration = registration_of(scope, member)
    if registration is None or registration.status != "active":
        raise errors.NoActiveRecoveryCodeBackedFactor()
    return registration


def delete_registration(scope: Scope, registration: TotpRegistration) -> None:
    scope.db.execute(
        delete(TotpRecoveryCode).where(TotpRecoveryCode.registration_id == registration.id)
    )
    scope.db.execute(delete(TotpRegistration).where(TotpRegistration.id == registration.id))
    scope.db.expunge(registration)


def secret_purpose(registration_id: str) -> str:
    # Bound to the row: a sealed seed copied onto another registration does not open.
    return f"{_SECRET_PURPOSE}:{registration_id}"


def secret(scope: Scope, registration_id: str, sealed: str) -> str:
    return crypto.unseal(
        scope.settings.key_bytes(), secret_purpose(registration_id), sealed
    ).decode()
