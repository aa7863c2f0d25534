"""The embedded default link: the card object is called directly, in this process and thread.

No reader, no socket, no copy: connect is `card.power_up()`, transmit is `card.transmit`. It is
the link the conformance suites and the benchmarks use unless a PC/SC reader is asked for, so it
adds nothing per call beyond the base class's connected/tracers test.

A tear (`simulator.faults.PowerLost` raised by the card) is what a terminal sees as the card
leaving the field mid-command: it becomes `CardRemovedError` (chained to the PowerLost) and the
transport is disconnected, so the card must be powered up again by a new `connect()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from simulator.card.interface import Card
from simulator.faults import PowerLost
from simulator.transport.base import Tracer, Transport
from simulator.transport.errors import CardRemovedError


class InProcessTransport(Transport):
    """A `Transport` over a `Card` object living in this process."""

    def __init__(
        self,
        card: Card,
        *,
        tracers: Iterable[Tracer] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not isinstance(card, Card):
            raise TypeError(f"InProcessTransport needs a Card, got {type(card).__name__}")
        super().__init__(tracers=tracers, clock=clock)
        self.card = card
        self._card_transmit = card.transmit  # bound once: one lookup less per APDU

    def _connect(self) -> bytes:
        try:
            return self.card.power_up()
        except PowerLost as exc:  # e.g. a tear point in the card's power-up recovery
            raise CardRemovedError(f"card torn away during power-up: {exc}") from exc

    def _transmit(self, apdu: bytes) -> bytes:
        try:
            return self._card_transmit(apdu)
        except PowerLost as exc:
            # The card has no power any more: no power_down, the next connect powers it up.
            self._lost()
            raise CardRemovedError(f"card torn away mid-command: {exc}") from exc

    def _disconnect(self) -> None:
        self.card.power_down()
