"""How long a presentation took, judged from the harness's own recording (TERM-TIME-001).

The card side is where the harness stands whatever the DUT: `RecordingCard` stamps every command
with the harness's clock as it reaches the card. From the first command to the last answer, the
time that is not the harness's virtual card computing is the terminal's (its flow, its PSAM, the
link: radio, vpcd or the HTTP relay's round trips): measured, so a terminal that stalls shows.
The virtual card answers far faster than a real one, so a real card's share is added from the
timing model (simulator/transport/timing.py: ISO 14443-4 at 106 kbit/s plus processing per
command). A slower time the terminal reports itself counts too; a faster one never excuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.dut import Presentation
from simulator.profile import Profile
from simulator.transport.timing import TimingModel

from .oracle import TimeLimit

METHOD = ("harness clock at the card, first command to last answer, less the virtual card's own computing, "
          "plus a real card's modelled time (ISO 14443-4, 106 kbit/s); the terminal's own report only if slower")


class UntimedPresentation(RuntimeError):
    """The adapter recorded no timeline for the exchanges: nothing to judge time by (*broken*)."""


def real_card(profile: Profile) -> TimingModel:
    """A real card's contactless link at 106 kbit/s, by the timing document of the run's `profile`."""
    return TimingModel.from_profile(link="contactless", bit_rate=106_000, document=profile["timing"])


@dataclass(frozen=True)
class TransactionTime:
    span_ms: float  # harness clock: the first command reaching the card -> the last answer leaving it
    card_computing_ms: float  # of which the harness's virtual card spent answering
    card_modelled_ms: float  # what a real card takes for the same exchanges (timing model)
    reported_ms: float | None  # the terminal's own figure (decision modelled_ms), if any
    exchanges: int

    @property
    def terminal_ms(self) -> float:
        """The terminal's, its PSAM's and the link's share: measured."""
        return self.span_ms - self.card_computing_ms

    @property
    def judged_ms(self) -> float:
        return max(self.terminal_ms + self.card_modelled_ms, self.reported_ms or 0.0)

    def evidence(self, limit: TimeLimit) -> dict:
        return {"method": METHOD, "exchanges": self.exchanges, "span_ms (harness clock)": round(self.span_ms, 3),
                "virtual card computing_ms": round(self.card_computing_ms, 3),
                "terminal and link_ms (measured)": round(self.terminal_ms, 3),
                "real card_ms (modelled)": round(self.card_modelled_ms, 3),
                "terminal's own report_ms": self.reported_ms, "judged_ms": round(self.judged_ms, 3),
                "limit_ms": limit.ms, "limit source": limit.source}

    def __str__(self) -> str:
        reported = "none" if self.reported_ms is None else f"{self.reported_ms:.0f} ms"
        return (f"{self.judged_ms:.0f} ms: {self.terminal_ms:.0f} ms measured for the terminal and its link over "
                f"{self.exchanges} exchanges, {self.card_modelled_ms:.0f} ms modelled for a real card, "
                f"its own report {reported}")


def transaction_time(shown: Presentation, card: TimingModel) -> TransactionTime:
    """The time of one presentation with at least one exchange (see the module's docstring); `card`
    models a real card's share (`real_card`)."""
    trace, timeline = shown.trace, shown.timeline
    if not trace or len(timeline) != len(trace):
        raise UntimedPresentation(f"{len(trace)} exchanges but {len(timeline)} timestamps: the DUT adapter must "
                                  "record the card side with conformance.dut.RecordingCard")
    model = card
    return TransactionTime(
        span_ms=(timeline[-1] + trace[-1].seconds - timeline[0]) * 1e3,
        card_computing_ms=sum(x.seconds for x in trace) * 1e3,
        card_modelled_ms=sum(model.exchange(x.command, x.response).total for x in trace) * 1e3,
        reported_ms=shown.decision.get("modelled_ms"),
        exchanges=len(trace),
    )
