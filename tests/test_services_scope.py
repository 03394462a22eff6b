"""`Services.scope_of` sets a `Scope`'s fields at once (not through the frozen dataclass's
`__init__`): the object must be the one `Scope(...)` makes, field for field, and as frozen."""

from __future__ import annotations

import dataclasses

import pytest

from antechamber.scope import Scope
from antechamber.services import Services


@pytest.mark.parametrize("client_ip", [None, "203.0.113.9"])
def test_scope_of_makes_what_the_dataclass_makes(services: Services, client_ip: str | None) -> None:
    with services.sessions() as db:
        made = services.scope_of(db, "project-test-x", "test", "secret:s", client_ip=client_ip)
        expected = Scope(
            db,
            "project-test-x",
            "test",
            "secret:s",
            services.clock,
            services.settings,
            services.limiter,
            services.metrics,
            client_ip=client_ip,
        )
    assert type(made) is Scope
    # Every field, and nothing else: a field added to Scope fails here until scope_of sets it.
    assert vars(made) == vars(expected)
    assert list(vars(made)) == [f.name for f in dataclasses.fields(Scope)]
    assert made == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.actor = "cli"  # type: ignore[misc]
    assert dataclasses.replace(made, actor="cli").actor == "cli"
