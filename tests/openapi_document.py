"""The served OpenAPI document and its schemathesis form, made once per test run.

The document depends on the code only (no data), so a throwaway app on an in-memory database
serves it; parsing it is most of the cost of a small schemathesis run, so it is parsed once and
each test points the parsed schema at its own app (`schema.app = app`).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import schemathesis

from antechamber.app import create_app
from antechamber.settings import Settings


@functools.cache
def document() -> dict[str, Any]:
    settings = Settings(database_url="sqlite://", secret_key="x" * 32, _env_file=None)  # type: ignore[call-arg]
    served: dict[str, Any] = create_app(settings).openapi()
    return served


@functools.cache
def b2b_schema() -> Any:
    """`/v1/b2b` operations only; set `.app` before calling it."""
    # A copy: schemathesis annotates the document it is given.
    return schemathesis.openapi.from_dict(copy.deepcopy(document())).include(path_regex="^/v1/b2b/")


def b2b_operations() -> list[tuple[str, str]]:
    """(METHOD, path template) of every `/v1/b2b` operation."""
    return [
        (method.upper(), path)
        for path, operations in document()["paths"].items()
        if path.startswith("/v1/b2b/")
        for method in operations
    ]
