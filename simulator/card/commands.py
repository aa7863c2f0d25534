"""The registry of card commands: (CLA, INS) -> handler(card, command).

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

COMMANDS: dict[tuple[int, int], Handler] = {}
KNOWN_INS: set[int] = set()


def command(cla: int, ins: int) -> Callable[[Handler], Handler]:
    """Register a handler for one (CLA, INS); CLA with logical-channel bits clear."""

    def register(handler: Handler) -> Handler:
        if (cla, ins) in COMMANDS:
            raise ValueError(f"command {cla:02X} {ins:02X} registered twice")
        COMMANDS[(cla, ins)] = handler
        KNOWN_INS.add(ins)
        return handler

    return register
