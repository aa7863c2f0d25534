"""What every reference terminal shares: presenting a card, the journal of decisions, the clock,
the blacklist, and the modelled transaction time.

A terminal is plain Python over transports (no SimPy): `present(card)` connects the card's
transport, runs the terminal's flow and returns a `Decision`; the SimPy world (later) calls the
same function and advances its clock by `decision.modelled_ms`. Time comes from an injected
clock, so recovery windows and validity dates are tested instantly and reproducibly.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Container
from datetime import datetime
from typing import ClassVar, Protocol

from simulator.devices.decision import Decision
from simulator.profile import load
from simulator.transport.base import Tracer, Transport
from simulator.transport.errors import CardRemovedError
from simulator.transport.timing import from_profile


class Timer(Tracer, Protocol):
    """A tracer that models the time of the exchanges it sees (simulator.transport.timing)."""

    total: float


#: link name ("contactless" for the card, "contact" for the PSAM) -> a fresh timer
TimerFactory = Callable[[str], Timer]


def profile_timers(link: str) -> Timer:
    """The timing profile's defaults: 106 kbit/s contactless, the PSAM's contact baud."""
    return from_profile(link=link)


class Terminal(ABC):
    kind: ClassVar[str]

    def __init__(
        self,
        *,
        terminal_id: str,
        clock: Callable[[], datetime],
        blacklist: Container[str] = frozenset(),
        timers: TimerFactory | None = profile_timers,
        profile: dict | None = None,
    ) -> None:
        self.terminal_id = terminal_id
        self.clock = clock
        self.blacklist = blacklist
        self.timers = timers
        self.profile = profile or load("national/terminals", "terminals")
        self.journal: list[Decision] = []

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.terminal_id}"

    def links(self) -> dict[str, Transport]:
        """Transports besides the card's that a transaction uses (the PSAM's), by link name."""
        return {}

    def present(self, card: Transport) -> Decision:
        """A card is presented: run the flow, journal and return the decision.

        A card torn away mid-flow becomes the terminal's own decision (e.g. RETAP); any other
        link failure propagates (the harness reports it as broken, never as a pass).
        """
        links = {"contactless": card, **self.links()}
        timers = {name: self.timers(name) for name in links} if self.timers else {}
        for name, timer in timers.items():
            links[name].add_tracer(timer)
        started = time.perf_counter()
        try:
            try:
                with card:
                    decision = self.transact(card)
            except CardRemovedError as exc:
                decision = self.torn(exc)
        finally:
            for name, timer in timers.items():
                links[name].remove_tracer(timer)
        decision.wall_ms = (time.perf_counter() - started) * 1e3
        if timers:
            decision.modelled_ms = sum(t.total for t in timers.values()) * 1e3
        self.journal.append(decision)
        return decision

    @abstractmethod
    def transact(self, card: Transport) -> Decision:
        """The terminal's flow with a connected card."""

    def torn(self, exc: CardRemovedError) -> Decision:
        """The card left mid-flow before anything was written: ask for it again."""
        return self.decide("RETAP", detail=str(exc))

    def decide(self, reason: str, **fields) -> Decision:
        return Decision(terminal=self.name, reason=reason, **fields)
