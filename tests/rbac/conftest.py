"""RBAC test fixtures: the CLI's (`antechamber rbac`) and the console's (the policy page)."""

from tests.admin.conftest import console, operator
from tests.cli.conftest import cli_env

__all__ = ["cli_env", "console", "operator"]
