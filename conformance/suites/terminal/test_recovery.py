"""A debit torn away (the card leaves the field mid-DEBIT) is settled when the same card comes
back: the card pays the journey's fare exactly once, whether the tear fell after the card
committed the debit or before, and the decisions record exactly the money the card lost.

Judged by money, not by the purchase counter: a metro entry charges 0 fen, so a terminal that
recovers by comparing balances (transit-payment.md §1.6) cannot tell a committed entry from an
uncommitted one and may commit it twice at no cost to the passenger.

Each case runs on a card in credit and on one whose purse is overdrawn: its primary purse shows 0
and only the negative purse (805C 01 02) tells what the card holds, so a terminal that recovers
from the primary purse alone cannot see that the torn debit committed."""

from __future__ import annotations

import pytest

from . import _harness as h

#: (persona, fen of its overdraft already used): a card in credit, and an overdrawn one (the
#: transit persona's overdraft is 10.00 CNY; 3.00 of it used leaves room for any fare of the profile)
CARDS = pytest.mark.parametrize(("persona", "overdraft_used"), [("normal", 0), ("transit", 300)],
                                ids=["in credit", "overdrawn"])


def _torn_then_retapped(harness, terminal, persona: str, overdraft_used: int, point: str, where: str) -> None:
    c = harness.ready(terminal, persona, overdraft_used=overdraft_used)
    before = h.money(c)
    plan = h.arm_tear(c, point)
    first = harness.show(terminal, c, f"card torn away {where}")
    if plan.armed:
        plan.disarm()
        raise AssertionError(f"{terminal.name} wrote nothing to a valid card (reason "
                             f"{first.decision['reason']}): it never debited, so the tear could not happen")
    assert not first.decision["accepted"], (
        f"{terminal.name} accepted a debit whose answer never came back (reason {first.decision['reason']})")
    if "clock_control" in terminal.capabilities:
        terminal.advance(15)  # the passenger taps again a few seconds later, well within any recovery window
    second = harness.show(terminal, c, "the same card presented again", after_tear=True)
    after = h.money(c)
    assert second.decision["accepted"], (
        f"{terminal.name} did not settle the torn debit on the second presentation ({second.decision['reason']})")
    fare, lost = second.decision["amount"], before.purse - after.purse
    commits = after.purchases - before.purchases
    assert lost == fare, (
        f"{terminal.name}: one journey of {fare} fen, torn {where} and presented again, cost the card {lost} fen "
        f"({commits} purchases committed; decisions {first.decision['reason']}, {second.decision['reason']})")
    recorded = first.decision["debited"] + second.decision["debited"]
    assert recorded == lost, (
        f"{terminal.name}'s decisions record {recorded} fen debited; the card lost {lost}: "
        f"{first.decision['reason']} {first.decision['debited']}, {second.decision['reason']} "
        f"{second.decision['debited']}")


@pytest.mark.clause("TERM-TEAR-001")
@pytest.mark.requires("recovery")
@CARDS
def test_a_debit_torn_after_its_commit_is_recovered_without_a_second_charge(harness, terminal, persona, overdraft_used):
    _torn_then_retapped(harness, terminal, persona, overdraft_used, "nvm.clear", "after the card committed the debit")


@pytest.mark.clause("TERM-TEAR-002")
@pytest.mark.requires("recovery")
@CARDS
def test_a_debit_torn_before_its_commit_is_charged_once_on_the_retap(harness, terminal, persona, overdraft_used):
    _torn_then_retapped(harness, terminal, persona, overdraft_used, "nvm.commit", "before the card committed the debit")
