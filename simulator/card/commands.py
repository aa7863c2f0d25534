"""The registry of card commands: (CLA, INS) -> handler(card, command).

Commands of the card OS itself (SELECT, READ RECORD, VERIFY...) serve every application; an
application's own commands (the purse's 8050, the financial app's GPO) are registered under its
kind and reached only while it is selected, so two applications may reuse an INS.

A handler returns the response data (the dispatcher adds 9000 and applies the Le rule) or a
whole `ResponseAPDU` (for warnings such as 6283), or raises `CardError` for a status word.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.apdu import CommandAPDU, ResponseAPDU
    from simulator.card.cardos import CardOS

Handler = Callable[["CardOS", "CommandAPDU"], "bytes | ResponseAPDU"]

#: card-level commands, then per application kind ("ssse", "epurse", ...)
COMMANDS: dict[tuple[int, int], Handler] = {}
APP_COMMANDS: dict[str, dict[tuple[int, int], Handler]] = {}
KNOWN_INS: set[int] = set()


def command(cla: int, ins: int, *, app: str | None = None) -> Callable[[Handler], Handler]:
    """Register a handler for one (CLA, INS) (CLA with logical-channel bits clear), for the whole
    card or, with `app`, for one kind of application."""
    table = COMMANDS if app is None else APP_COMMANDS.setdefault(app, {})

    def register(handler: Handler) -> Handler:
        if (cla, ins) in table:
            raise ValueError(f"command {cla:02X} {ins:02X} registered twice for {app or 'the card'}")
        table[(cla, ins)] = handler
        KNOWN_INS.add(ins)
        return handler

    return register
