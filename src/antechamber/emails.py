"""The one email normalisation rule, used for members, discovery, JIT and invites alike.

Canonical form: the address as `email-validator` parses it (syntax only, no DNS), the domain
lowercased and IDNA-encoded (punycode), the local part lowercased. No provider-specific rewriting
(no Gmail dot or plus removal): two addresses are the same member exactly when their canonical
forms are equal. Non-ASCII local parts are refused (homoglyph look-alikes; few mail systems
deliver them).
"""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email

from antechamber.errors import InvalidEmail


def canonical_email(raw: object) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > 320:
        raise InvalidEmail()
    canonical = _canonical(raw)
    if canonical is None:
        raise InvalidEmail()
    return canonical


# `validate_email` costs about 20 µs, and a send checks its address twice (the caller, then the
# outbox, which must not trust it). The answer depends on nothing but the text, so it is
# remembered for the last couple of thousand addresses (each at most 320 characters).
@functools.lru_cache(maxsize=2048)
def _canonical(raw: str) -> str | None:
    try:
        parsed = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return f"{parsed.local_part.lower()}@{parsed.ascii_domain.lower()}"


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
