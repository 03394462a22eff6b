"""A session check's member and organization rows, remembered by their exact contents
(`Known`), and the decoding of the JSON columns such a check reads as text (`decoded`).

Per process: at most `KNOWN_KEPT` pairs, the rows last read of each (member, organization) by
their ids, oldest out first (`memos`: under its lock; a lookup is a plain `dict.get` by the two
ids and a compare of the contents, or on PostgreSQL of the rows' versions, `by_version`). Used by
`sessions.lookup.read`, the session check's hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON

from antechamber import json_columns, rows
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.sessions import memos

MEMBERS = rows.Columns(Member)
ORGANIZATIONS = rows.Columns(Organization)
#: Where the JSON texts are among a member's columns followed by its organization's.
JSON_AT = tuple(
    i
    for i, column in enumerate((*MEMBERS.columns, *ORGANIZATIONS.columns))
    if isinstance(column.type, JSON)
)
_CUT = len(MEMBERS)
# Where the member's and the organization's ids are among those columns.
_MEMBER_ID = MEMBERS.keys.index("id")
_ORGANIZATION_ID = _CUT + ORGANIZATIONS.keys.index("id")
#: How many (member, organization) rows `remembered` keeps (oldest out first).
KNOWN_KEPT = 1024


class Known:
    """A member's and its organization's rows as a session check read them: their transient
    objects (`rows`, JSON decoded) and what callers derive from those two rows alone
    (`derived`, by name).

    Remembered by the rows' exact contents as read: every column, the JSON ones as their
    text, not an id. The same text decodes to the same values, so a check whose rows equal
    a remembered pair's gets the values it would have decoded; a row that changed in any
    column does not match, so nothing goes stale and nothing is invalidated (the new
    contents take the pair's place). The objects are
    shared by the checks that find them, so only a caller that reads them and keeps nothing of
    them gets them (`sessions.service.authenticate`'s `remember`: the API's check, which
    encodes its answer at once; nothing on its path changes them: tests/api/test_known_rows.py
    checks the remembered objects after checks)."""

    __slots__ = ("derived", "member", "organization")

    def __init__(self, member: Sequence[Any], organization: Sequence[Any]) -> None:
        self.member: Member = MEMBERS.make(member)
        self.organization: Organization = ORGANIZATIONS.make(organization)
        #: By name: values made from these two rows alone, in no unit of work (an API
        #: answer's encoded member, say); each computed by the first caller that needs it.
        self.derived: dict[str, Any] = {}


# (member id, organization id) -> the rows' contents last read for them (the member's columns,
# then the organization's; JSON as text), their versions when read with them (PostgreSQL:
# `lookup.VERSIONS`; else None) and their Known. Found by the two ids, then the contents or the
# versions compared: hashing the 57 values a check (fresh strings, aware datetimes) cost more
# than comparing them with the remembered ones, which a hit does anyway.
_known: dict[tuple[Any, Any], tuple[tuple[Any, ...], str | None, Known]] = {}


def decoded(values: Sequence[Any], at: tuple[int, ...]) -> list[Any]:
    """`values` with the JSON texts at the positions `at` decoded (`json_columns.loads`, the
    engine's own decoder); None stays None."""
    out = list(values)
    loads = json_columns.loads
    for i in at:
        text = out[i]
        if text is not None:
            out[i] = loads(text)
    return out


# A JSON text -> its value, as `shared_decoded` decoded it (oldest first, at most KNOWN_KEPT).
_texts: dict[str, Any] = {}


def shared_decoded(values: Sequence[Any], at: tuple[int, ...]) -> list[Any]:
    """As `decoded`, but a text decoded before gives the value it gave then, the same object:
    for `Known`'s callers alone, which read the values and keep and change nothing of them
    (a session check's own columns, whose texts repeat from check to check). Nothing goes
    stale: the key is the whole text."""
    out = list(values)
    for i in at:
        text = out[i]
        if text is not None:
            value = _texts.get(text, _texts)
            if value is _texts:
                value = json_columns.loads(text)
                with memos.lock:
                    memos.forget_old(_texts, None, KNOWN_KEPT - 1)  # room for this one
                    _texts[text] = value
            out[i] = value
    return out


def fresh(raw: Sequence[Any]) -> tuple[Member, Organization]:
    """A member's and organization's columns as read (`raw`, JSON as text) as the caller's own
    transient objects: nothing remembered, nothing shared."""
    values = decoded(raw, JSON_AT)
    return MEMBERS.make(values[:_CUT]), ORGANIZATIONS.make(values[_CUT:])


def by_version(ids: tuple[Any, Any], versions: str) -> Known | None:
    """The `Known` remembered for the pair `ids` (member id, organization id) if its rows were
    read at exactly these `versions` (`lookup.VERSIONS`: a row's version changes whenever the
    row is written, so equal versions are equal contents), else None."""
    entry = _known.get(ids)
    if entry is not None and entry[1] == versions:
        return entry[2]
    return None


def remembered(raw: tuple[Any, ...], versions: str | None = None) -> Known:
    """The `Known` of a member's and organization's columns as read (`raw`, JSON as text), at
    `versions` if the statement read them (`by_version` finds it by them from then on): the
    one remembered for exactly these contents, or a new one, remembered."""
    ids = (raw[_MEMBER_ID], raw[_ORGANIZATION_ID])
    entry = _known.get(ids)
    if entry is not None and entry[0] == raw:
        if entry[1] == versions:
            return entry[2]
        known = entry[2]  # the same contents, written again (new versions): the same objects
    else:
        values = decoded(raw, JSON_AT)
        known = Known(values[:_CUT], values[_CUT:])
    with memos.lock:
        _known.pop(ids, None)  # the pair's older contents, if any; the newest go last
        memos.forget_old(_known, None, KNOWN_KEPT - 1)  # room for this one
        _known[ids] = (raw, versions, known)
    return known
