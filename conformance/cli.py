"""`ykt`: the command line. The simulator's commands (card, demo) plus certification
(`certify`, `clauses`, `certificate verify`) and the terminal service (`terminal serve`), which
live above the simulator.

Usage errors (an unknown option, a missing value) exit with EXIT_USAGE (64), one line, never 2:
2 is a certification verdict (broken) and must not be mistaken for one.
"""

from __future__ import annotations

import sys

import typer

from conformance.certify import certify, clauses
from conformance.report import EXIT_USAGE
from simulator.cli import app
from simulator.profile_cli import app as profile_app

app.command("certify")(certify)
app.command("clauses")(clauses)


def main() -> None:
    from conformance.certificate_check import app as certificate_app
    from conformance.service import app as terminal_app  # late: FastAPI loads only for `ykt terminal`

    app.add_typer(terminal_app, name="terminal", help="Serve a reference terminal over the terminal control protocol.")
    app.add_typer(certificate_app, name="certificate", help="Check a certificate offline (signature, evidence).")
    app.add_typer(profile_app, name="profile", help="Show, validate and diff the national and regional profiles.")
    try:
        status = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # click's exceptions, vendored by typer
        usage = hasattr(exc, "ctx")  # only usage errors carry a command context (which may be None)
        where = exc.ctx.command_path if usage and exc.ctx is not None else "ykt"
        typer.echo(f"{where}: {exc.format_message()}" + (f" (see {where} --help)" if usage else ""), err=True)
        sys.exit(EXIT_USAGE if usage else getattr(exc, "exit_code", 1))
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
