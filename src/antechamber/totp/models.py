from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db import Base


class TotpRegistration(Base):
    """A member's authenticator app: at most one per member, pending until its first code.

    `secret_sealed` is the base32 seed sealed with AES-GCM under the server key (purpose bound
    to this row's id, so a sealed seed copied onto another row does not open). `status` is
    `pending` (shown once, not yet proven; usable only until `expires_at`) or `active`.
    `last_used_step` is the newest 30-second time step whose code was accepted: a code is
    accepted only for a later step (RFC 6238 §5.2), checked by one conditional UPDATE.
    """

    __tablename__ = "totp_registrations"
    __table_args__ = (UniqueConstraint("member_id", name="uq_totp_registrations_member"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(String(80))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    secret_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    last_used_step: Mapped[int] = mapped_column(BigInteger, default=-1)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]


class TotpRecoveryCode(Base):
    """One unused recovery code of a registration; deleted when used (single use).

    Only `code_digest` = HMAC-SHA256(server key, registration id + code) is stored: the codes
    carry 120 random bits, so a keyed fast hash is enough (ASVS 6.5.2) and they cannot be
    shown again after creation or rotation.
    """

    __tablename__ = "totp_recovery_codes"
    __table_args__ = (
        Index("ix_totp_recovery_codes_lookup", "registration_id", "code_digest", unique=True),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    registration_id: Mapped[str] = mapped_column(
        ForeignKey("totp_registrations.id", ondelete="CASCADE")
    )
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
