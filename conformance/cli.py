"""`ykt`: the command line. The simulator's commands (card, demo) plus certification
(`certify`, `clauses`) and the terminal service (`terminal serve`), which live above the simulator."""

from __future__ import annotations

from conformance.certify import certify, clauses
from simulator.cli import app

app.command("certify")(certify)
app.command("clauses")(clauses)


def main() -> None:
    from conformance.service import app as terminal_app  # late: FastAPI loads only for `ykt terminal`

    app.add_typer(terminal_app, name="terminal", help="Serve a reference terminal over the terminal control protocol.")
    app()


if __name__ == "__main__":
    main()
