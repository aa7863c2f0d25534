"""A purchase, record included, completes within the profile's limit (DB31/T 239-2020 §6.3.2)."""

from __future__ import annotations

import pytest

from conformance.evidence import attach_json

from . import _harness as h


@pytest.mark.clause("TERM-TIME-001")
@pytest.mark.requires("timing")
def test_a_purchase_completes_within_the_limit(terminal):
    limit = h.purchase_limit()
    shown = h.ride(terminal, "normal", "valid card")
    decision = shown.decision
    assert decision["accepted"], f"{terminal.name} refused a valid card ({decision['reason']}): nothing to time"
    card_ms = h.card_side_ms(shown.trace)
    reported = decision.get("modelled_ms")
    judged = max(card_ms, reported or 0.0)
    attach_json("transaction time", {"modelled_ms (terminal)": reported, "card side ms (harness)": card_ms,
                                       "limit_ms": limit.seconds * 1e3, "source": limit.source})
    assert judged <= limit.seconds * 1e3, (
        f"{terminal.name} took {judged:.0f} ms for one purchase (terminal's model: "
        f"{'n/a' if reported is None else f'{reported:.0f} ms'}, card side alone: {card_ms:.0f} ms); the limit is "
        f"{limit.seconds * 1e3:.0f} ms ({limit.source})")
