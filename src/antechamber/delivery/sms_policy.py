"""Which numbers may receive a text message.

SMS costs money per message, and "SMS pumping" (toll fraud) makes an open sender pay for
premium-rate or foreign numbers an attacker profits from. So a number must be:

- valid E.164 (`phones.canonical_phone`);
- of a region on `ANTECHAMBER_SMS_ALLOWED_REGIONS` (default US, CA; Stytch's default too);
- a mobile number: `phonenumbers`' MOBILE, or FIXED_LINE_OR_MOBILE for numbering plans that
  cannot tell them apart (North America). Never premium-rate, shared-cost, toll-free, VoIP
  (NIST SP 800-63B forbids VoIP for out-of-band codes), personal, pager, UAN or voicemail.

`check_sms_number` is called for every text message by `delivery.outbox.enqueue`; MFA enrolment
calls it too, so a member learns at once that their number cannot be used.
"""

from __future__ import annotations

from phonenumbers import PhoneNumberType

from antechamber.delivery.errors import SmsNumberTypeNotAllowed, SmsRegionNotAllowed
from antechamber.phones import classified
from antechamber.settings import Settings

ALLOWED_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

_TYPE_NAMES = {
    value: name.lower()
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}


def check_sms_number(settings: Settings, e164: str) -> None:
    """Return if `e164` may receive text messages; raise a `BadRequest` subclass if not.

    Raises `InvalidPhoneNumber` (not E.164, not a valid number), `SmsRegionNotAllowed`
    (`invalid_phone_number_country_code`) or `SmsNumberTypeNotAllowed`
    (`unsupported_phone_number_type`).
    """
    # Region and type from the number's one parse, remembered with its validation.
    _, region, kind = classified(e164)
    if region not in settings.sms_allowed_regions:
        raise SmsRegionNotAllowed(region=region)
    if kind not in ALLOWED_TYPES:
        raise SmsNumberTypeNotAllowed(number_type=_TYPE_NAMES.get(kind, "unknown"))


def number_prefix(e164: str) -> str:
    """The number without its last four digits: numbers an SMS-pumping run walks through."""
    return e164[:-4]
