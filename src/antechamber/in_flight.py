"""The requests a server has in flight on this thread's event loop, for code that would wait
a turn of the loop for others to join it (`loop_units.gathered`): where no server says (a test
driving the app, the CLI), unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Sized

_here = threading.local()


def serving(requests: Sized | None) -> None:
    """This thread's server keeps its requests in flight in `requests` (uvicorn's tasks of
    them: each added as its headers are read, before its handler runs, and removed when it
    ends); None: no server says."""
    _here.requests = requests


def others() -> bool | None:
    """Whether this thread's server has a request in flight besides the caller's (one whose
    handler may not have started yet); None if no server said (`serving`)."""
    requests: Sized | None = getattr(_here, "requests", None)
    return None if requests is None else len(requests) > 1
