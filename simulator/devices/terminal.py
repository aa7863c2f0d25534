"""What every reference terminal shares: presenting a card, the journal of decisions, the clock,
the card-status check (blacklist, platform), the modelled transaction time, and the flow as a generator of steps.

A terminal is plain Python over transports (no SimPy). Its flow is a generator (`flow(card)`)
that yields a `Phase` after each group of APDU exchanges and a `Step` of kind "backend" (or
"human") where it needs a back-end's answer (or a person); `presentation(card)` turns the phases
into timed steps, one per link ("apdu" on the card's contactless link, "psam" on the PSAM's
contact link, with the modelled time of that phase's exchanges), and returns the `Decision`.
Two runners drive the same steps: `drive()` takes them all at once, which is what `present(card)`
does, and the SimPy world (simulator/world/full_logic.py) puts each on its clock, answering the
back-end steps through its latency and fault model. Time comes from an injected clock, so
recovery windows and validity dates are tested instantly and reproducibly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from simulator.backend.ports import PlatformPort
from simulator.card import personas
from simulator.clock import AS_OF
from simulator.devices.card_status import CardStatusCheck
from simulator.devices.decision import Decision
from simulator.devices.steps import Flow, Phase, Step, Steps, advance, drive
from simulator.profile import Profile, national
from simulator.transport.base import Tracer, Transport
from simulator.transport.errors import CardRemovedError
from simulator.transport.timing import ModelledTime, TimingModel


class Timer(Tracer, Protocol):
    """A tracer that models the time of the exchanges it sees (simulator.transport.timing)."""

    total: float


#: link name ("contactless" for the card, "contact" for the PSAM) -> a fresh timer
TimerFactory = Callable[[str], Timer]


def profile_timers(timing: Mapping[str, Any]) -> TimerFactory:
    """Timers by the timing document's defaults (106 kbit/s contactless, the PSAM's contact baud):
    each link's model is built (and its document checked) once, a fresh timer per presentation."""
    models: dict[str, TimingModel] = {}

    def timer(link: str) -> Timer:
        if link not in models:
            models[link] = TimingModel.from_profile(link=link, document=timing)
        return ModelledTime(models[link])

    return timer


def certification_blacklist(profile: Profile) -> frozenset[str]:
    """The certification blacklist (ics.yaml test_lists): purse serials, 卡识别码 and card numbers
    (what an e-code carries) of its personas, what every reference terminal is loaded with in the
    harness and in the world."""
    entries = set()
    for name in profile["ics"]["test_lists"]["blacklist"]:
        persona = personas.resolve(name, as_of=AS_OF, profile=profile)
        entries.update((*personas.chip_identifiers(persona, profile), persona.values["card_number"]))
    return frozenset(entries)


def _link_steps(timers: dict[str, Timer], seen: dict[str, float], what: str):
    """One step per link that exchanged anything since the last phase, with its modelled time."""
    for name, timer in timers.items():
        spent, seen[name] = timer.total - seen[name], timer.total
        if spent:
            yield Step("apdu" if name == "contactless" else "psam", what, spent)


def _timed(flow: Flow, timers: dict[str, Timer]) -> Steps:
    """The flow's phases as timed link steps; its own steps passed to the runner and answered."""
    seen = dict.fromkeys(timers, 0.0)
    item, decision = advance(flow)
    while item is not None:
        yield from _link_steps(timers, seen, item.what)
        reply, failure = None, None
        if isinstance(item, Step):
            try:
                reply = yield item
            except Exception as exc:
                failure = exc
        item, decision = advance(flow, reply, failure)
    yield from _link_steps(timers, seen, "end")
    return decision


class Terminal:
    """A reference terminal; a subclass writes its flow as `flow(card)` (a generator of phases and
    steps) or, as a plain function run at one instant, `transact(card)`."""

    kind: ClassVar[str]

    def __init__(
        self,
        *,
        terminal_id: str,
        clock: Callable[[], datetime],
        blacklist: Container[str] = frozenset(),
        platform: PlatformPort | None = None,
        timers: TimerFactory | Literal["profile"] | None = "profile",
        profile: Profile | None = None,
    ) -> None:
        """`blacklist`: the lists provisioned before service (they stay listed); `platform`: the
        platform port the terminal asks about cards (online, when its kind is online in
        terminals.yaml `card_status`) and fetches the blacklist delta from; `timers`: a timer per
        link, "profile" for the profile's timing model, None for no modelled time; `profile`: the
        run's profile (the national one by default), whose terminals, platform and timing
        documents the terminal follows."""
        self.terminal_id = terminal_id
        self.clock = clock
        self.profile = profile or national()
        self.timers = profile_timers(self.profile["timing"]) if timers == "profile" else timers
        #: the terminals document: tariffs, reason codes, what each kind checks
        self.terminals = self.profile["terminals"]
        self.status = CardStatusCheck(terminal_id=terminal_id, clock=clock, platform=platform,
                                      online=self.kind in self.terminals["card_status"]["online"],
                                      provisioned=blacklist, platform_profile=self.profile["platform"])
        self.journal: list[Decision] = []

    @property
    def platform(self) -> PlatformPort | None:
        """The platform port the terminal was given (its card-status check holds it)."""
        return self.status.platform

    @platform.setter
    def platform(self, port: PlatformPort | None) -> None:
        self.status.platform = port

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.terminal_id}"

    def links(self) -> dict[str, Transport]:
        """Transports besides the card's that a transaction uses (the PSAM's), by link name."""
        return {}

    def present(self, card: Transport, *, flow: Callable[[Transport], Flow] | None = None) -> Decision:
        """A card is presented: run the flow at once, journal and return the decision."""
        return drive(self.presentation(card, flow=flow))

    def presentation(self, card: Transport, *, flow: Callable[[Transport], Flow] | None = None) -> Steps:
        """A card is presented, as timed steps: connect, run the flow, journal and return the decision.
        `flow`: another flow of the terminal than its own for a card (a POS redeeming a voucher).

        A card torn away mid-flow becomes the terminal's own decision (e.g. RETAP); any other
        link failure propagates (the harness reports it as broken, never as a pass). `wall_ms` is
        the wall time from the first step to the last, the runner's own pauses included.
        """
        links = {"contactless": card, **self.links()}
        timers = {name: self.timers(name) for name in links} if self.timers else {}
        for name, timer in timers.items():
            links[name].add_tracer(timer)
        started = time.perf_counter()
        self.status.last = None
        try:
            try:
                with card:
                    decision = yield from _timed((flow or self.steps)(card), timers)
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

    def steps(self, card: Transport) -> Flow:
        """The flow of the most derived class that writes one: its `flow`, or its `transact` as a
        single phase (a subclass that overrides `transact`, e.g. a seeded defect, is what runs)."""
        for klass in type(self).__mro__:
            if klass is Terminal:
                break
            if "flow" in vars(klass):
                return self.flow(card)
            if "transact" in vars(klass):
                return self._at_once(card)
        raise TypeError(f"{type(self).__name__} writes neither flow() nor transact()")

    def _at_once(self, card: Transport) -> Flow:
        decision = self.transact(card)
        yield Phase("transaction")
        return decision

    def flow(self, card: Transport) -> Flow:
        """The terminal's flow with a connected card, as phases and steps."""
        raise NotImplementedError(f"{type(self).__name__} writes transact(), not flow()")

    def transact(self, card: Transport) -> Decision:
        """The terminal's flow with a connected card, run at once (no link timing, no journal)."""
        self.status.last = None
        return drive(_timed(self.flow(card), {}))

    def torn(self, exc: CardRemovedError) -> Decision:
        """The card left mid-flow before anything was written: ask for it again."""
        return self.decide("RETAP", detail=str(exc))

    def decide(self, reason: str, **fields) -> Decision:
        """A decision record; a terminal with a platform says who decided the card's status."""
        answer = self.status.last
        if answer is not None and self.status.platform is not None:
            fields["evidence"] = {**fields.get("evidence", {}), "card_status": answer.source}
        return Decision(terminal=self.name, reason=reason, reasons=self.terminals["reasons"], **fields)
