"""The one email normalisation rule, used for members, discovery, JIT and invites alike.

Canonical form: the address as `email-validator` parses it (syntax only, no DNS), the domain
lowercased and IDNA-encoded (punycode), the local part lowercased. No provider-specific rewriting
(no Gmail dot or plus removal): two addresses are the same member exactly when their canonical
forms are equal. Non-ASCII local parts are refused (homoglyph look-alikes; few mail systems
deliver them).
"""

from __future__ import annotations

import functools
import re

import email_validator
from email_validator import EmailNotValidError, validate_email

from antechamber.errors import InvalidEmail


def canonical_email(raw: object) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > 320:
        raise InvalidEmail()
    canonical = _canonical(raw)
    if canonical is None:
        raise InvalidEmail()
    return canonical


# A send checks its address twice (the caller, then the outbox, which must not trust it). The
# answer depends on nothing but the text, so it is remembered for the last couple of thousand
# addresses (each at most 320 characters). Plain ASCII addresses take `_plain` (about 2 µs);
# the rest `validate_email` (about 20 µs).
@functools.lru_cache(maxsize=2048)
def _canonical(raw: str) -> str | None:
    text = raw.strip()
    plain = _plain(text)
    if plain is not None:
        return plain
    try:
        parsed = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return f"{parsed.local_part.lower()}@{parsed.ascii_domain.lower()}"


# The common address, `local@host.tld` in plain ASCII, answered without `validate_email`
# (whose Unicode and IDNA checks are most of its cost): an ASCII dot-atom local part (the
# library's own character set), then hostname labels of letters, digits and inner hyphens, at
# most 63 long, the last (the TLD) starting and ending with a letter. Whatever does not match,
# or matches but is close to a rule (a hyphen pair: Punycode or an R-LDH label; a special-use
# name; the length limits, the local part's strict one too), goes to `validate_email`, so this
# path only ever accepts, never refuses, and accepts only what the library accepts whatever
# its module-wide options (they widen what it accepts, except `STRICT`, hence the 64).
# tests/test_emails.py checks it against `validate_email` over random and adversarial input.
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*", re.ASCII)
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z])?", re.ASCII)


def _plain(text: str) -> str | None:
    """`text`'s canonical form if it is a plain ASCII address (`_LOCAL`@`_DOMAIN`), else None (ask
    `validate_email`)."""
    if len(text) > 254 or not text.isascii():
        return None
    local, at, domain = text.rpartition("@")
    if not at or len(local) > 64:  # a long local part: fine unless the library is strict
        return None
    domain = domain.lower()  # UTS-46 maps ASCII capitals to lower case, nothing else
    if (
        _LOCAL.fullmatch(local) is None
        or _DOMAIN.fullmatch(domain) is None
        or len(domain) > 253
        or "--" in domain
    ):
        return None
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return f"{local.lower()}@{domain}"


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[1]


def mailbox_of(email: str) -> str:
    """The mailbox a canonical address reaches: its local part without a `+tag`.

    Only for counting what one mailbox receives (`alice+x@d` and `alice+y@d` land in
    `alice@d`'s inbox, so a limit per address must not give each its own allowance); the
    identity stays the full canonical address.
    """
    local, _, domain = email.rpartition("@")
    base = local.split("+", 1)[0]
    return f"{base or local}@{domain}"
