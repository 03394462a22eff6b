"""The canonical form of an email address: the plain-ASCII fast path answers exactly what
`email_validator` answers (accepts the same addresses, with the same canonical form), and
leaves everything else to it."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antechamber.emails import _canonical, _plain, canonical_email
from antechamber.errors import InvalidEmail


def reference(raw: str) -> str | None:
    """The rule as `email_validator` alone applies it (what `canonical_email` did before the
    fast path)."""
    try:
        parsed = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return f"{parsed.local_part.lower()}@{parsed.ascii_domain.lower()}"


def same_as_reference(raw: str) -> None:
    fast = _plain(raw.strip())
    if fast is not None:
        assert fast == reference(raw), raw
    assert _canonical.__wrapped__(raw) == reference(raw), raw


ATEXT = "abcXYZ019_!#$%&'*+-/=?^`{|}~"
TRICKY = (
    ATEXT
    + '.@-- \t\n"\\<>()[],;:é\u00dfİ\u0130K\u212a\uff0e\u3002\uff20\ufe6b\u0301\u200b\u202e\x00\x7f'
)
LABELS = st.one_of(
    st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=0, max_size=8
    ),
    st.sampled_from(
        [
            "xn--",
            "xn--bcher-kva",
            "xn--zz",
            "ab--cd",
            "a-",
            "-a",
            "1",
            "123",
            "a" * 63,
            "a" * 64,
            "b" * 62 + "-",
            "localhost",
            "test",
            "invalid",
            "local",
            "onion",
            "arpa",
            "example",
            "internal",
            "home",
            "lan",
            "com",
            "COM",
            "Xn--bcher-kva",
            "bücher",
            "ＥＸＡＭＰＬＥ",
        ]
    ),
)
DOMAINS = st.lists(LABELS, min_size=1, max_size=5).map(".".join)
LOCALS = st.one_of(
    st.text(ATEXT + ".", min_size=0, max_size=12),
    st.sampled_from(['"a b"', '"a"', "a..b", ".a", "a.", "Postmaster", "INFO", "x" * 64, "x" * 65]),
)
ADDRESSES = st.builds(
    lambda pad, local, at, domain, pad2: f"{pad}{local}{at}{domain}{pad2}",
    st.sampled_from(["", " ", "\t", "\n", "\u00a0"]),
    LOCALS,
    st.sampled_from(["@", "@", "@", "@@", "＠", ""]),
    DOMAINS,
    st.sampled_from(["", " ", "\n", "."]),
)

# Mostly valid: dot-atom local parts, hostname-shaped labels, now and then a special-use,
# Punycode or over-long label.
VALIDISH = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    st.from_regex(
        r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]{1,6}(\.[a-zA-Z0-9_+-]{1,4}){0,2}", fullmatch=True
    ),
    st.lists(
        st.one_of(
            st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?", fullmatch=True), LABELS
        ),
        min_size=1,
        max_size=4,
    ),
    st.one_of(st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,4}", fullmatch=True), LABELS),
)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(VALIDISH)
def test_fast_path_agrees_with_email_validator_on_mostly_valid_addresses(raw: str) -> None:
    same_as_reference(raw)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(ADDRESSES)
def test_fast_path_agrees_with_email_validator_on_shaped_addresses(raw: str) -> None:
    same_as_reference(raw)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(TRICKY, max_size=40))
def test_fast_path_agrees_with_email_validator_on_noise(raw: str) -> None:
    same_as_reference(raw)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.emails())
def test_fast_path_agrees_with_email_validator_on_valid_addresses(raw: str) -> None:
    same_as_reference(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "a@b.co",
        "A.B+tag@Example.COM",
        "  ada@example.com  ",
        "Postmaster@Example.com",
        "a@localhost",
        "a@b.localhost",
        "a@b.local",
        "a@b.test",
        "a@b.invalid",
        "a@b.onion",
        "a@1.2.3.4",
        "a@b.c1",
        "a@b.1c",
        "a@b",
        "a@-b.com",
        "a@b-.com",
        "a@b..com",
        "a@.b.com",
        "a@b.com.",
        "a@xn--bcher-kva.de",
        "a@xn--zz.de",
        "a@ab--cd.com",
        "a@b_c.com",
        "a@[1.2.3.4]",
        '"a"@b.com',
        '"a b"@b.com',
        "a b@c.com",
        "a@b@c.com",
        "Ada <a@b.com>",
        "a\u0301@b.com",
        "é@b.com",
        "a@bücher.de",
        "a@ＥＸＡＭＰＬＥ.com",
        "a@b\uff0ecom",
        "x" * 64 + "@b.com",
        "x" * 65 + "@b.com",
        "x" * 240 + "@" + "b" * 9 + ".com",  # 254: the longest allowed
        "x" * 241 + "@" + "b" * 9 + ".com",  # 255
        "x@" + ".".join(["a" * 63] * 3) + "." + "b" * 61,  # a 253-character domain
        "x@" + ".".join(["a" * 63] * 3) + "." + "b" * 62,  # 254
        "x@" + "a" * 63 + ".com",
        "x@" + "a" * 64 + ".com",
    ],
)
def test_fast_path_agrees_with_email_validator_on_edge_cases(raw: str) -> None:
    same_as_reference(raw)


def test_plain_addresses_take_the_fast_path() -> None:
    assert _plain("Ada.Lovelace+x@Mail.Example.COM") == "ada.lovelace+x@mail.example.com"
    assert _plain("a@b.invalid") is None  # special-use: the library decides
    assert _plain("a@xn--bcher-kva.de") is None  # Punycode: the library decides


def test_canonical_email_refuses_what_email_validator_refuses() -> None:
    for raw in ["a@b", "a@localhost", "é@b.com", "", "x" * 321, 5, None]:
        with pytest.raises(InvalidEmail):
            canonical_email(raw)
    assert canonical_email(" A@B.Com ") == "a@b.com"
