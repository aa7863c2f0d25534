"""The gate's transaction times as the harness sees them: a seeded set of cards (every persona of
the site's mix, `cards_per_persona` of each, made and brought to the gate by the terminal suite's
harness) presented to the gate under test, each presentation timed on the harness's side.

What is timed (`METHODS`):
- in process (`sim:`): the modelled time of the APDUs the harness's card exchanged, on the card's
  link (simulator/transport/timing.py: ISO 14443-4 at 106 kbit/s plus a real card's processing per
  command). An in-process terminal's own computing is this machine's Python, not a device's time;
  an extra or slower exchange is what the harness sees, and what it counts.
- in another process (`http:`, `vpcd:`): the harness's clock at the card from the first command to
  the last answer, less what the harness's virtual card spent computing (the terminal's, its PSAM's
  and the link's share: measured), plus the modelled time of a real card for the same exchanges.
The terminal's own report (its decision's `modelled_ms`, `wall_ms`) is never read: the evidence
shows it beside the measure, no more.

A terminal that lets the harness connect it to a platform (the harness facility `platform_control`:
the `sim:` terminals in-process, a served one through the control protocol's PUT /platform, the
port then served to it over HTTP by conformance/adapters/platform_relay.py) meets the platform the
suite plays (_platform.py): reachable first, as in service (it fetches the
blacklist there), then unreachable; the round trips of each tap are counted at the port. Any other
terminal is measured as it is, and the outage clause is not tested on it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.dut import Presentation
from conformance.suites.terminal._harness import Harness
from conformance.suites.terminal._timing import transaction_time
from simulator.transport.timing import TimingModel
from simulator.world.measured import REACHABLE, UNREACHABLE, Tap, Taps
from simulator.world.metrics import quantile

from ._platform import HarnessPlatform

METHODS = {
    True: "in process: the modelled link time of the APDUs exchanged at the harness's card (ISO 14443-4, "
          "106 kbit/s, a real card's processing per command); the terminal's own report is not read",
    False: "the harness's clock at its card, first command to last answer, less its virtual card's computing, "
           "plus a real card's modelled time for the same exchanges; the terminal's own report is not read",
}


@dataclass(frozen=True)
class Observed:
    """One presentation of a harness card to the gate, as the harness recorded it."""

    persona: str
    state: str  # the platform's state the harness held it in
    seconds: float  # the harness's measure (`METHODS`)
    exchanges: int
    platform_calls: int
    reason: str
    accepted: bool
    reported_ms: float | None  # the terminal's own figure, shown beside the measure, never used

    @property
    def tap(self) -> Tap:
        return Tap(self.seconds, self.platform_calls, self.reason)


def timed(shown: Presentation, *, in_process: bool, card: TimingModel) -> float:
    """The harness's measure of one presentation, in seconds (`METHODS`); `card` models a real card."""
    took = transaction_time(shown, card)
    return (took.card_modelled_ms if in_process else took.terminal_ms + took.card_modelled_ms) / 1e3


def present_all(terminal, personas: Iterable[str], *, harness: Harness, cards: int, in_process: bool,
                state: str = REACHABLE, platform_calls=lambda: 0) -> list[Observed]:
    """Present `cards` fresh cards of every persona (made by `harness`), in order; `platform_calls()`
    says how many requests the harness's platform port answered since it was last asked."""
    observed = []
    for persona in personas:
        for _ in range(cards):
            card = harness.ready(terminal, persona, entry_required=False)
            platform_calls()  # what a preparation (an entry elsewhere) asked is not this gate's
            shown = terminal.present(card)
            seconds = timed(shown, in_process=in_process, card=harness.card_timing)
            observed.append(Observed(persona, state, seconds, len(shown.trace),
                                     platform_calls(), shown.decision["reason"], bool(shown.decision["accepted"]),
                                     shown.decision.get("modelled_ms")))
    return observed


def measure(terminal, personas: list[str], *, harness: Harness, cards: int, in_process: bool) -> list[Observed]:
    """Every persona's cards, with the suite's platform reachable then unreachable when the terminal
    can be connected to it (then left without one), else as the terminal is."""
    if "platform_control" not in terminal.capabilities:
        return present_all(terminal, personas, harness=harness, cards=cards, in_process=in_process)
    port = HarnessPlatform(harness.profile)
    terminal.connect_platform(port)
    try:
        observed = present_all(terminal, personas, harness=harness, cards=cards, in_process=in_process,
                               platform_calls=port.taken)
        port.reachable = False
        return observed + present_all(terminal, personas, harness=harness, cards=cards, in_process=in_process,
                                      state=UNREACHABLE, platform_calls=port.taken)
    finally:
        terminal.connect_platform(None)


def taps(observed: Iterable[Observed]) -> Taps:
    """The observations as the site model replays them: by platform state, then persona."""
    by: dict[str, dict[str, list[Tap]]] = {}
    for o in observed:
        by.setdefault(o.state, {}).setdefault(o.persona, []).append(o.tap)
    return {state: {p: tuple(ts) for p, ts in personas.items()} for state, personas in by.items()}


def summary(observed: list[Observed], *, in_process: bool) -> dict:
    """The measured distribution as evidence: per platform state and persona, the harness's times
    (n, mean, median, p95, max in ms), exchanges, platform calls and decisions."""
    rows: dict[str, dict[str, dict]] = {}
    groups: dict[tuple[str, str], list[Observed]] = {}
    for o in observed:
        groups.setdefault((o.state, o.persona), []).append(o)
    for (state, persona), group in groups.items():
        ms = sorted(o.seconds * 1e3 for o in group)
        rows.setdefault(state, {})[persona] = {
            "n": len(ms), "mean_ms": round(statistics.fmean(ms), 3), "median_ms": round(statistics.median(ms), 3),
            "p95_ms": round(quantile(ms, 0.95), 3), "max_ms": round(ms[-1], 3),
            "exchanges": sorted({o.exchanges for o in group}),
            "platform_calls": sorted({o.platform_calls for o in group}),
            "decisions": sorted({o.reason for o in group}),
            "terminal's own report_ms (not used)": sorted({o.reported_ms for o in group if o.reported_ms is not None}),
        }
    return {"method": METHODS[in_process], "by_state_and_persona": rows}
