from __future__ import annotations

import pytest

from antechamber.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Development mode for every app in this folder."""
    return settings.model_copy(update={"dev": True})
