"""RBAC test fixtures: the CLI's, for the `antechamber rbac` tests."""

from tests.cli.conftest import cli_env

__all__ = ["cli_env"]
