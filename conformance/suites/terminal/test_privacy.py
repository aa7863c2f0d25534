"""A terminal reads only what its kind needs (PIPL art. 6, terminals.yaml `minimisation`), records
no more in its decision than its kind may, and never tries a PIN it was not given."""

from __future__ import annotations

import pytest

from . import _harness as h

#: per application family, the persona whose card takes the terminal furthest through its flow
PERSONA = {"purse": "normal", "ssse": "elderly", "qpboc": "normal"}


@pytest.mark.clause("TERM-PRIV-001")
@pytest.mark.requires("minimisation")
def test_purse_data_read_is_minimal(harness, terminal):
    rule = harness.minimisation(terminal)
    shown = harness.ride(terminal, PERSONA[h.family(terminal)], "valid card")
    allowed = {int(sfi, 16) for sfi in rule["purse_files"]}
    if rule["purse_cardholder_bytes"]:
        allowed.add(0x16)
    reads = harness.purse_reads(shown.trace)
    extra = sorted(set(reads) - allowed)
    assert not extra, (
        f"{terminal.name} read purse file(s) {', '.join(f'{s:02X}' for s in extra)}; a {terminal.kind} terminal "
        f"may read {', '.join(rule['purse_files']) or 'none'}")
    cardholder = len(reads.get(0x16, ()))
    assert cardholder <= rule["purse_cardholder_bytes"], (
        f"{terminal.name} read {cardholder} bytes of the cardholder file 0x16 (name, ID number); a "
        f"{terminal.kind} terminal may read {rule['purse_cardholder_bytes']} (the card type)")


@pytest.mark.clause("TERM-PRIV-002")
@pytest.mark.requires("minimisation")
def test_social_security_data_read_is_minimal(harness, terminal):
    rule = harness.minimisation(terminal)
    shown = harness.ride(terminal, PERSONA[h.family(terminal)], "valid card")
    asked = harness.ssse_reads(shown.trace)
    extra = sorted(set(asked) - set(rule["ssse_elements"]))
    assert not extra, (
        f"{terminal.name} asked the card for {', '.join(extra)}; a {terminal.kind} terminal may read "
        f"{', '.join(rule['ssse_elements']) or 'no social security data'}")


@pytest.mark.clause("TERM-PRIV-003")
def test_no_pin_is_tried(harness, terminal):
    shown = harness.ride(terminal, PERSONA[h.family(terminal)], "valid card")
    tried = h.verify_commands(shown.trace)
    assert not tried, (
        f"{terminal.name} sent VERIFY {len(tried)} time(s) without being given a PIN: a guessed PIN uses up "
        f"the holder's tries (answers: {', '.join(f'{h.sw(x):04X}' for x in tried)})")


@pytest.mark.clause("TERM-PRIV-004")
def test_the_decision_record_holds_only_what_its_kind_may_record(harness, terminal):
    """Judged for every presentation of the suite (`_harness.show`); here on the card that takes the
    terminal furthest through its flow."""
    rule = harness.oracle.record_rule(terminal.kind)
    shown = harness.ride(terminal, PERSONA[h.family(terminal)], "valid card")
    extra = rule.unpermitted(shown.decision)  # the masked record keeps every field's name
    assert not extra, (
        f"{terminal.name} put {', '.join(extra)} into its decision record; a {terminal.kind} terminal may record "
        f"as evidence {', '.join(sorted(rule.evidence)) or 'nothing'}")
