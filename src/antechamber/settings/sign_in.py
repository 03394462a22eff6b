"""Settings: one-time codes, MFA lockout and the console's sessions."""

from __future__ import annotations

from pydantic import Field

from antechamber.settings.group import Group


class SignInSettings(Group):
    """One-time codes (SMS and email), MFA lockout, and the console's sessions."""

    sms_otp_lifetime_minutes: int = Field(
        2, ge=1, le=10, description="How long an SMS code is valid (NIST: at most 10 minutes)."
    )
    sms_otp_resend_seconds: int = Field(
        30,
        ge=0,
        le=600,
        description="A send for the same member and number within this many seconds of the "
        "last one sends nothing new: the code already on its way stays the one to use.",
    )
    otp_max_attempts_per_code: int = Field(
        5,
        ge=1,
        le=10,
        description="Wrong guesses at one code (SMS or email) before that code is dead.",
    )
    email_otp_lifetime_minutes: int = Field(
        10,
        ge=2,
        le=15,
        description="How long an emailed one-time code is valid when the request names no "
        "expiration (Stytch's default 10; requests may ask for 2 to 15).",
    )
    mfa_lockout_threshold: int = Field(
        10,
        ge=1,
        le=100,
        description="Consecutive MFA failures (within the window) that lock the member; "
        "NIST 800-63B caps this at 100.",
    )
    mfa_lockout_window_minutes: int = Field(
        15, ge=1, le=1440, description="The window in which MFA failures are counted."
    )
    mfa_lockout_minutes: int = Field(
        30, ge=1, le=1440, description="How long a locked member stays locked."
    )

    console_idle_minutes: int = Field(
        30,
        ge=1,
        le=60,
        description="A console session unused this long ends (NIST 800-63B AAL2: 30 minutes).",
    )
    console_absolute_hours: int = Field(
        12,
        ge=1,
        le=24,
        description="A console session ends this long after sign-in however active it is "
        "(NIST 800-63B AAL2: 12 hours).",
    )
