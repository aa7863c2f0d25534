"""The money an accepted decision records is the money the card lost, read from the card's own
purse and electronic cash: what clearing settles must be what the passenger paid.

Judged for every accepted presentation of the suite (`_harness.show`); here on the cards whose
fares differ most (full fare, concession).
"""

from __future__ import annotations

import pytest

from conformance.verdicts import not_applicable, not_tested

from . import _harness as h

#: the capabilities under which a terminal takes money from the card
MONEY = frozenset({"purse", "qpboc"})


@pytest.mark.clause("TERM-MONEY-001")
@pytest.mark.parametrize("persona", ["normal", "elderly"])
def test_an_accepted_transaction_records_the_money_the_card_lost(harness, terminal, persona):
    if not MONEY & terminal.capabilities:
        not_applicable(f"terminal {terminal.name} declares no application that moves money "
                       f"({', '.join(sorted(MONEY))})")
    c = harness.ready(terminal, persona)
    before = h.money(c)
    shown = harness.show(terminal, c, f"{persona} card")
    if not shown.decision["accepted"]:
        not_tested(f"{terminal.name} refused the {persona} card ({shown.decision['reason']}), so no money moved",
                   need="a terminal that accepts a valid test card (its refusal is judged by the admission clauses)")
    wrong = h.money_claims(terminal, shown, before, h.money(c))
    assert not wrong, f"{terminal.name}'s decision record contradicts the {persona} card: {'; '.join(wrong)}"
