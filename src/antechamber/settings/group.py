"""The base of a group of settings (`Settings` takes in every group's fields and validators)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Group(BaseModel):
    """Fields and their validators for `Settings`, never validated on their own: pydantic
    builds no schema for a group (`defer_build`), only for `Settings`.

    A validator's name is one across the groups: `Settings` keeps one validator of a name,
    and a second group's of the same name would drop the first's without a word."""

    model_config = ConfigDict(defer_build=True)
