"""A purchase, record included, completes within the profile's limit (DB31/T 239-2020 §6.3.2),
timed by the harness at the card (_timing.py), never on the terminal's word alone."""

from __future__ import annotations

import pytest

from conformance.evidence import attach_json

from ._timing import transaction_time


@pytest.mark.clause("TERM-TIME-001")
@pytest.mark.requires("timing")
def test_a_purchase_completes_within_the_limit(harness, terminal):
    limit = harness.oracle.purchase_limit()
    shown = harness.ride(terminal, "normal", "valid card")
    decision = shown.decision
    assert decision["accepted"], f"{terminal.name} refused a valid card ({decision['reason']}): nothing to time"
    took = transaction_time(shown, harness.card_timing)
    attach_json("transaction time", took.evidence(limit))
    assert took.judged_ms <= limit.ms, (
        f"{terminal.name} took {took} for one purchase; the limit is {limit.ms:.0f} ms ({limit.source})")
