"""The `reader` role over the Python reference of the unified reader interface, in-process.

`SimReader` is what `sim` certifies as its reader (and what reader mutants wrap): a one-slot
reader whose library is `simulator.devices.reader_api.UnifiedReader` (or a subclass with a
seeded defect). `insert(card)` lays a card on it; `call(function, *args)` calls the library.
It declares `hsm` (the two HSM steps) and `pin_entry` (iVerifyPIN takes the PIN pad's digits as
its second argument: the pad modelled).
"""

from __future__ import annotations

from typing import Any

from simulator.card.interface import Card
from simulator.devices.reader_api import UnifiedReader
from simulator.profile import Profile
from simulator.transport import InProcessTransport, NoCardError


class SimReader:
    """A reference (or mutant) reader library with one in-process card slot."""

    def __init__(self, library: type[UnifiedReader] = UnifiedReader, *, profile: Profile,
                 name: str = "reference reader") -> None:
        self.name = name
        self._card: Card | None = None
        self.library = library(self._open_card, profile=profile)
        self.functions = self.library.functions
        self.capabilities = frozenset({"hsm", "pin_entry"})

    def _open_card(self) -> InProcessTransport:
        if self._card is None:
            raise NoCardError("no card on the reader")
        return InProcessTransport(self._card)

    def insert(self, card: Card | None) -> None:
        self.library.release()
        self._card = card

    def call(self, function: str, *args: Any) -> tuple[int, str]:
        return self.library.call(function, *args)
