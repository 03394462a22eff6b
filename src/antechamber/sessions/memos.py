"""The session paths' per-process memos: kept oldest first, bounded, under one lock.

Each memo (`jwts`' minted and verified JWTs, `touch`'s recorded accesses, `known`'s rows and
JSON texts, `lookup`'s checked sessions) is a plain dict in insertion order, moved to the end
on each write; `forget_old` trims it from the front. A memo only ever saves work: an entry
missing (another process, a restart, eviction) means the work is done again, never a
different answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

#: Held while reading or writing any of the memos (request threads share them).
lock = threading.Lock()
#: A memo's bound unless it names its own: the sessions in use within its period, at most this.
KEPT = 10_000

_K = TypeVar("_K")
_V = TypeVar("_V")


def forget_old(memo: dict[_K, _V], old: Callable[[_V], bool] | None, kept: int = KEPT) -> None:
    """Drop a memo's entries from the oldest while `old` says they are (they are kept oldest
    first; `old` None: entries that never go stale), and the oldest beyond `kept`: a memo's
    size follows the sessions in use within its period, and is steady once the traffic is (a
    soak's memory flat after a minute, not after the 10,000th session). The caller holds
    `lock`."""
    while memo:
        oldest = next(iter(memo))
        if len(memo) <= kept and (old is None or not old(memo[oldest])):
            return
        del memo[oldest]
