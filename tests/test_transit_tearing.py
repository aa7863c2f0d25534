"""Exhaustive tearing of every value-changing command in every reference transit flow.

For each flow (metro entry, metro exit, bus, plain purchase, load), power is cut at every fault
point the card passes during the transaction; the same card is then presented again and the
terminal recovers as the profile says. Across all cases the card's balance plus what the
terminals recorded as debited minus what they recorded as loaded equals the starting balance,
no presentation is charged twice, and every case ends in a decision with an explained reason.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.devices.psam import psam_image
from simulator.devices.terminal import Terminal
from simulator.devices.transit import BusValidator, LoadKiosk, MetroGate, PurchaseTerminal
from simulator.faults import FaultPlan
from simulator.profile import national
from simulator.transport import InProcessTransport

AS_OF = date(2026, 11, 23)
START = datetime(2026, 11, 23, 8, 0)


def psam():
    return InProcessTransport(CardOS(psam_image(terminal_id=bytes.fromhex("000000000101"))))


def balance(c: CardOS) -> int:
    app = next(a for a in c.image.applications.values() if a.kind == "epurse")
    return int.from_bytes(c.nvm[epurse.balance_key(app.path)], "big", signed=True)


FLOWS: dict[str, tuple[Callable, Callable | None]] = {
    # name: (terminal factory(clock), setup(card, clock) run untorn before the torn presentation)
    "metro entry": (lambda clock: MetroGate(terminal_id="G1", station="0101", direction="entry", psam=psam(),
                                            clock=clock), None),
    "metro exit": (lambda clock: MetroGate(terminal_id="G2", station="0106", direction="exit", psam=psam(),
                                           clock=clock),
                   lambda c, clock: MetroGate(terminal_id="G1", station="0101", direction="entry", psam=psam(),
                                              clock=clock).present(InProcessTransport(c))),
    "bus (composite)": (lambda clock: BusValidator(terminal_id="B1", psam=psam(), clock=clock), None),
    "purchase": (lambda clock: PurchaseTerminal(terminal_id="P1", fare=777, psam=psam(), clock=clock), None),
    "load": (lambda clock: LoadKiosk(terminal_id="000000000301", amount=1500, clock=clock), None),
}


def world(flow: str, plan: FaultPlan):
    now = [START]
    clock = lambda: now[0]  # noqa: E731
    c = CardOS(personas.image("normal", as_of=AS_OF), faults=plan)
    make, setup = FLOWS[flow]
    if setup:
        setup(c, clock)
    plan.hits.clear()
    plan.total = 0
    return c, make(clock), now


def hits_of(flow: str) -> int:
    """Fault points the card passes in one untorn transaction of the flow."""
    plan = FaultPlan()
    c, terminal, _ = world(flow, plan)
    assert terminal.present(InProcessTransport(c)).accepted
    return plan.total


def run(flow: str, tear_at: int) -> tuple[int, Terminal, CardOS]:
    plan = FaultPlan()
    c, terminal, now = world(flow, plan)
    start = balance(c)
    plan.arm(at=tear_at)
    terminal.present(InProcessTransport(c))
    now[0] += timedelta(seconds=15)
    terminal.present(InProcessTransport(c))  # the passenger taps again
    return start, terminal, c


def cases() -> list[tuple[str, int]]:
    out = []
    for flow in FLOWS:
        hits = hits_of(flow)
        assert hits > 0, f"{flow} passes no fault point"
        out += [(flow, n) for n in range(hits)]
    return out


CASES = cases()


@pytest.mark.parametrize(("flow", "tear_at"), CASES)
def test_money_is_conserved_whatever_the_tear(flow, tear_at):
    start, terminal, c = run(flow, tear_at)
    journal = terminal.journal
    debited = sum(d.debited for d in journal)
    loaded = sum(d.loaded for d in journal)
    assert balance(c) + debited - loaded == start, [d.as_dict() for d in journal]
    assert sum(1 for d in journal if d.debited or d.loaded) <= 1, "charged twice"
    assert all(d.reason in national()["terminals"]["reasons"] and d.text for d in journal)
    assert journal[0].reason == "RETAP"  # the torn presentation asked for the card again
    assert journal[-1].accepted, [d.as_dict() for d in journal]  # and the retap settled it


def test_the_tear_sweep_is_exhaustive():
    per_flow = {flow: sum(1 for f, _ in CASES if f == flow) for flow in FLOWS}
    print(f"\n{len(CASES)} tear cases across reference terminal flows: {per_flow}")
    assert len(CASES) >= 5 * 10
    assert set(per_flow) == set(FLOWS)


class ForgetfulBus(BusValidator):
    """A defective validator: it forgets the torn debit and charges the retap afresh."""

    def _resolve(self, purse, info):
        self.pending = None
        return None


def test_the_sweep_catches_a_terminal_that_forgets_torn_debits():
    """The conservation check has teeth: with recovery removed, some tear case double-charges."""
    caught = 0
    for tear_at in range(hits_of("bus (composite)")):
        plan = FaultPlan()
        c = CardOS(personas.image("normal", as_of=AS_OF), faults=plan)
        bus = ForgetfulBus(terminal_id="B1", psam=psam(), clock=lambda: START)
        start = balance(c)
        plan.arm(at=tear_at)
        bus.present(InProcessTransport(c))
        bus.present(InProcessTransport(c))
        caught += balance(c) + sum(d.debited for d in bus.journal) != start
    assert caught > 0
