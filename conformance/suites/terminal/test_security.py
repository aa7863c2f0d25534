"""A debit is proven by the card: MAC2 verified in the PSAM, TAC recomputed. A forged proof is
never accepted, and the decision still records the money that moved (for clearing)."""

from __future__ import annotations

import pytest

from . import _harness as h


def _forged(harness, terminal, field: str, what: str) -> None:
    c = harness.ready(terminal, "normal")
    before = h.money(c)
    shown = harness.show(terminal, h.ForgedDebit(c, field), f"card answering DEBIT with a forged {what}")
    after = h.money(c)
    decision = shown.decision
    assert h.debit_commands(shown.trace), (
        f"{terminal.name} sent no DEBIT to a valid card (reason {decision['reason']}): it does not transact")
    assert not decision["accepted"], (
        f"{terminal.name} accepted a debit whose {what} is forged (reason {decision['reason']}); "
        f"the {what} must be verified before the passenger is let through")
    moved = before.purse - after.purse
    assert decision["debited"] == moved, (
        f"{terminal.name} records {decision['debited']} fen debited for the refused debit; the card's balance "
        f"went down by {moved}: the record is what clearing reconciles")


@pytest.mark.clause("TERM-MAC-001")
@pytest.mark.requires("purse")
def test_a_forged_mac2_is_not_accepted(harness, terminal):
    _forged(harness, terminal, "mac2", "MAC2")


@pytest.mark.clause("TERM-TAC-001")
@pytest.mark.requires("purse")
def test_a_forged_tac_is_not_accepted(harness, terminal):
    _forged(harness, terminal, "tac", "TAC")
