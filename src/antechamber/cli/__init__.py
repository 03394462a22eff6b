"""The `antechamber` command line.

Every command and option has help text. Failures are one line on stderr and a non-zero exit:
2 for a bad argument or setting, 1 for a refusal by the domain (with its error_type).
"""

from __future__ import annotations

import sys

import typer

from antechamber.cli import (
    audit,
    delivery,
    invites,  # noqa: F401 - registers `members invite | resend | revoke`
    keys,
    members,
    operators,
    orgs,
    projects,
    public_tokens,
    rbac,
    redirect_urls,
    scim,
    server,
    sessions,
    sso,
    webapp,
)
from antechamber.cli.context import Failure
from antechamber.errors import AntechamberError
from antechamber.settings import SettingsError

try:  # typer >= 0.20 vendors click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors  # type: ignore[no-redef]

app = typer.Typer(
    name="antechamber",
    help="Antechamber: a self-hosted B2B authentication server that speaks the Stytch B2B API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
server.register(app)
webapp.register(app)
delivery.register(app)
app.add_typer(projects.app, name="projects")
app.add_typer(orgs.app, name="orgs")
app.add_typer(members.app, name="members")
app.add_typer(redirect_urls.app, name="redirect-urls")
app.add_typer(keys.app, name="keys")
app.add_typer(sessions.app, name="sessions")
app.add_typer(audit.app, name="audit")
app.add_typer(operators.app, name="operators")
app.add_typer(scim.app, name="scim")
app.add_typer(rbac.app, name="rbac")
app.add_typer(sso.app, name="sso")
app.add_typer(public_tokens.app, name="public-token")


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="antechamber", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click_errors.UsageError as exc:
        where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        typer.echo(f"error: {exc.format_message()}{where}", err=True)
        return 2
    except click_errors.ClickException as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except SettingsError as exc:
        typer.echo(f"error: invalid setting {exc}", err=True)
        return 2
    except Failure as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except AntechamberError as exc:
        typer.echo(f"error: {exc.error_type}: {exc.message}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
