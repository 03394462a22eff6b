"""An email factor's `email_id`: the same as the standard library's `uuid.uuid5` makes."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antechamber.ids import Environment
from antechamber.sessions import factors


@settings(max_examples=500, deadline=None)
@given(
    environment=st.sampled_from(["test", "live"]),
    project_id=st.text(max_size=60),
    email=st.text(max_size=80),
)
def test_email_id_is_uuid5_of_project_and_email(
    environment: Environment, project_id: str, email: str
) -> None:
    try:
        name = f"{project_id}:{email}"
        expected = f"email-{environment}-{uuid.uuid5(factors._EMAIL_NAMESPACE, name)}"
    except UnicodeEncodeError:  # a lone surrogate: neither can encode it
        with pytest.raises(UnicodeEncodeError):
            factors.email_id(environment, project_id, email)
        return
    assert factors.email_id(environment, project_id, email) == expected


def test_email_id_of_a_known_address() -> None:
    # Stable across releases: a member's factors keep the id their first login gave them.
    assert factors.email_id("test", "project-test-1", "ada@example.com") == (
        "email-test-1096a2c2-0420-50df-8ff6-4d515368e33a"
    )
