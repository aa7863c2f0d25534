"""The steps a terminal's flow is made of, and the synchronous runner.

A flow is a generator: it yields a `Phase` after each group of APDU exchanges and a `Step` where
it needs a back-end's answer (or a person), and returns its `Decision`. The runners (`drive()`
here, the SimPy world in simulator/world/) resume it with `advance()`. Kept apart from
terminal.py so the parts of a terminal that yield steps (the card-status check) need not import
the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from simulator.devices.decision import Decision


@dataclass(frozen=True)
class Phase:
    """Yielded by a flow after a group of APDU exchanges (what they did, e.g. "select purse")."""

    what: str


@dataclass(frozen=True)
class Step:
    """One timed part of a presentation. "apdu" and "psam": a phase's exchanges on the card's and
    the PSAM's link, `seconds` their modelled time; "backend": a request whose answer is `call()`
    (a runner may delay it, or throw the back-end's failure into the flow instead); "human": a
    person's action the runner times."""

    kind: str
    what: str
    seconds: float = 0.0
    call: Callable[[], Any] | None = None


#: a flow: yields phases and steps, receives back-end answers, returns the decision
Flow = Generator["Phase | Step", Any, Decision]
#: a presentation: yields timed steps only
Steps = Generator[Step, Any, Decision]


def advance(steps: Flow | Steps, answer: Any = None, failure: Exception | None = None):
    """Resume `steps` with the last step's answer (or throw its failure in): (next step, None), or
    (None, the decision) when the flow has finished. What every runner of steps is made of."""
    try:
        return (steps.throw(failure) if failure else steps.send(answer)), None
    except StopIteration as done:
        return None, done.value


def answer(step: Step) -> tuple[Any, Exception | None]:
    """A back-end step's own answer, or the failure the flow gets instead (it decides what that means)."""
    try:
        return step.call(), None
    except Exception as exc:
        return None, exc


def drive(steps: Steps) -> Decision:
    """The synchronous runner: every step at once, back-end steps answered by their own call."""
    step, decision = advance(steps)
    while step is not None:
        step, decision = advance(steps, *(answer(step) if step.call else (None, None)))
    return decision
