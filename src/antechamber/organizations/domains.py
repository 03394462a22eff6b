"""Email domains: one canonical form (lowercase ASCII, IDNA/punycode), and the webmail list."""

from __future__ import annotations

import re

from antechamber.errors import BadRequest

# Consumer webmail providers: anyone can get an address there, so an organization may not
# let everyone at such a domain join it (Stytch: organization_settings_domain_too_common).
COMMON_EMAIL_DOMAINS = frozenset(
    [
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "live.com",
        "msn.com",
        "outlook.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "hanmail.net",
        "fastmail.com",
        "tutanota.com",
        "hey.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "btinternet.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "t-online.de",
        "rediffmail.com",
    ]
)

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class InvalidDomain(BadRequest):
    error_type = "organization_settings_invalid_domain"
    default_message = "An email domain is not a valid domain name."


class DomainTooCommon(BadRequest):
    error_type = "organization_settings_domain_too_common"
    default_message = (
        "A domain in email_allowed_domains is a common email provider; anyone can get an "
        "address there, so it cannot grant access to an organization."
    )


class DuplicateDomain(BadRequest):
    error_type = "organization_settings_duplicate_domain"
    default_message = "email_allowed_domains lists the same domain twice."


def canonical_domain(raw: str) -> str:
    """Lowercase, IDNA-encoded, no trailing dot; raises `InvalidDomain`."""
    if not isinstance(raw, str):
        raise InvalidDomain()
    value = raw.strip().rstrip(".").lower()
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidDomain(f"{raw!r} is not a valid domain name.") from None
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidDomain(f"{raw!r} is not a valid domain name.")
    if labels[-1].isdigit():
        raise InvalidDomain(f"{raw!r} is not a valid domain name.")
    return value


def allowed_domains(raw: list[str]) -> list[str]:
    """Validate an `email_allowed_domains` list, keeping its order."""
    result: list[str] = []
    for item in raw:
        domain = canonical_domain(item)
        if domain in COMMON_EMAIL_DOMAINS:
            raise DomainTooCommon(details_domain=domain)
        if domain in result:
            raise DuplicateDomain()
        result.append(domain)
    return result


def is_common(domain: str) -> bool:
    return domain in COMMON_EMAIL_DOMAINS
