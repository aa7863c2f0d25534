"""Which cards a terminal refuses, and that it refuses them before any money moves: validity
dates, the blacklist, a locked application, insufficient funds."""

from __future__ import annotations

import pytest

from conformance.verdicts import not_applicable, not_tested

from . import _harness as h

#: application family -> the persona whose application of that family is locked
LOCKED = {"purse": "transit_locked", "ssse": "app_locked", "qpboc": "bank_locked"}


def _refused(harness, terminal, persona: str, reason: str, what: str) -> None:
    h.family(terminal)
    c = harness.ready(terminal, persona, entry_required=False)
    before = h.money(c)
    shown = harness.show(terminal, c, what)
    decision = shown.decision
    assert decision["reason"] == reason, (
        f"{terminal.name} answered {what} with {decision['reason']} (accepted={decision['accepted']}); "
        f"expected {reason}")
    h.not_charged(terminal, shown, before, h.money(c), what)


@pytest.mark.clause("TERM-VAL-001")
@pytest.mark.requires("validity")
def test_an_expired_card_is_refused_before_any_debit(harness, terminal):
    _refused(harness, terminal, "expired", "EXPIRED", "a card expired yesterday")


@pytest.mark.clause("TERM-VAL-002")
@pytest.mark.requires("validity")
def test_a_card_not_yet_valid_is_refused_before_any_debit(harness, terminal):
    _refused(harness, terminal, "not_yet_valid", "NOT_YET_VALID", "a card valid from 30 days ahead")


@pytest.mark.clause("TERM-BL-001")
@pytest.mark.requires("blacklist")
def test_a_blacklisted_card_is_refused_before_any_debit(harness, terminal):
    _refused(harness, terminal, "blacklisted", "BLACKLISTED", "a card on the certification blacklist")


@pytest.mark.clause("TERM-LOCK-001")
def test_a_locked_application_is_refused_and_left_alone(harness, terminal):
    persona = LOCKED[h.family(terminal)]
    c = harness.ready(terminal, persona, entry_required=False)
    before = h.money(c)
    shown = harness.show(terminal, c, "card with a locked application")
    steps = harness.steps(shown.trace)
    locked = next((s for s in steps if s.is_select and s.sw in h.LOCKED_SWS), None)
    assert locked is not None, f"{terminal.name} never selected the locked application of {persona}"
    after_lock = [s for s in steps[locked.n:] if not s.is_select]
    assert not after_lock, (
        f"{terminal.name} went on after SELECT answered {locked.sw:04X} (application locked): "
        f"{', '.join(f'#{s.n} {s.command[:4].hex().upper()}' for s in after_lock)}")
    decision = shown.decision
    assert decision["reason"] == "APP_LOCKED", (
        f"{terminal.name} answered a locked application ({locked.sw:04X}) with {decision['reason']}; "
        f"expected APP_LOCKED")
    h.not_charged(terminal, shown, before, h.money(c), "a card with a locked application")


@pytest.mark.clause("TERM-FUND-001")
@pytest.mark.requires("purse")
def test_insufficient_funds_are_refused_without_a_debit(harness, terminal):
    if "metro_entry" in terminal.capabilities:
        not_applicable(f"{terminal.name} is an entry gate, it charges nothing")
    c = harness.ready(terminal, "transit_low_balance")  # 1.50 CNY, no overdraft
    before = h.money(c)
    shown = harness.show(terminal, c, "card with 1.50 CNY and no overdraft")
    decision = shown.decision
    if decision["accepted"] and 0 < decision["fare"] <= before.purse:
        not_tested(f"{terminal.name}'s fare ({decision['fare']} fen) is within the card's balance",
                   need=f"a test card holding less than {terminal.name}'s fare")
    assert decision["reason"] == "INSUFFICIENT_FUNDS", (
        f"{terminal.name} answered a card holding {before.purse} fen (fare {decision['fare']}) with "
        f"{decision['reason']} (accepted={decision['accepted']}); expected INSUFFICIENT_FUNDS")
    debits = h.debit_commands(shown.trace)
    assert not debits, f"{terminal.name} sent DEBIT to a card whose balance does not cover the fare"
    after = h.money(c)
    assert after == before, f"{terminal.name}: the card's value changed: {before} -> {after}"


@pytest.mark.clause("TERM-DEBIT-001")
@pytest.mark.requires("purse")
def test_no_refused_card_is_debited(harness, terminal):
    cases = [(p, True) for p in ("expired", "not_yet_valid", "blacklisted", "transit_locked",
                                 "transit_low_balance", "second_generation")]
    if "metro_exit" in terminal.capabilities:
        cases.append(("normal", False))  # a valid card with no journey open
    wrong = []
    for persona, with_entry in cases:
        c = harness.ready(terminal, persona, entry_required=False) if with_entry else harness.card(persona)
        before = h.money(c)
        label = f"{persona}{'' if with_entry else ' without an entry'}"
        shown = harness.show(terminal, c, label)
        decision, after = shown.decision, h.money(c)
        if decision["accepted"]:
            continue
        debits = h.debit_commands(shown.trace)
        if debits or after != before or decision["debited"]:
            wrong.append(f"{label}: refused with {decision['reason']} after {len(debits)} DEBIT command(s); "
                         f"purse {before.purse} -> {after.purse}, decision debited {decision['debited']}")
    assert not wrong, f"{terminal.name} debited cards it refused: " + "; ".join(wrong)
