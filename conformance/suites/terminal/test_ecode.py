"""Admission by a scanned e-code (电子社保卡二维码 at a scenic gate, 乘车码 on a bus): the suite
issues each code from its own key chain and judges the terminal's decision against what it issued
and the profile (terminals.yaml `ecode`): a valid code admitted once, with the card it was issued
for; a replay, an expired, forged, revoked, test-key-only, malformed or wrong-kind code refused,
each with its own reason, and nothing debited.

Applicable only to a terminal whose capability statement declares `ecode`; one that declares it
and then refuses or mishandles codes fails.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from conformance.verdicts import not_applicable
from simulator.privacy import mask_value

from . import _codes as c

pytestmark = pytest.mark.requires("ecode")


@pytest.fixture(scope="session")
def issuer(profile) -> c.CodeIssuer:
    return c.CodeIssuer(profile)


def _kind(harness, terminal) -> str:
    """A code kind the terminal admits (the first terminals.yaml `ecode.admits` lists for its kind)."""
    kinds = harness.oracle.code_kinds(terminal.kind)
    if not kinds:
        not_applicable(f"terminals.yaml ecode.admits lists no code kind for a {terminal.kind} terminal")
    return kinds[0]


def fresh(harness, terminal, issuer: c.CodeIssuer, *, persona: str = "normal", **forgery) -> tuple[str, bytes]:
    """A code of a kind the terminal admits for `persona`, displayed now by the terminal's clock."""
    kind = _kind(harness, terminal)
    return kind, issuer.code(kind=kind, persona=persona, at=c.terminal_time(terminal), **forgery)


def scan(harness, terminal, payload: bytes, label: str) -> dict:
    """Show the terminal a scanned code; its decision record, masked and judged for what it may record."""
    return harness.recorded(terminal, terminal.present_code(payload), label).decision


def refused(harness, terminal, payload: bytes, outcome: str, what: str) -> dict:
    """The terminal refuses the code with the reason the profile gives `outcome`, debiting nothing."""
    decision = scan(harness, terminal, payload, what)
    expected = harness.oracle.code_reason(outcome)
    assert not decision["accepted"] and decision["reason"] == expected, (
        f"{terminal.name} answered {what} with {decision['reason']} (accepted={decision['accepted']}); "
        f"expected {expected}")
    assert decision["debited"] == 0, f"{terminal.name} refused {what} but records {decision['debited']} fen debited"
    return decision


def admitted(harness, terminal, payload: bytes, persona: str, what: str) -> dict:
    """The terminal admits the code, names the card it was issued for, and records the profile's fare."""
    decision = scan(harness, terminal, payload, what)
    assert decision["accepted"] and decision["reason"] == harness.oracle.code_reason("valid"), (
        f"{terminal.name} answered {what} with {decision['reason']} (accepted={decision['accepted']}); "
        f"expected {harness.oracle.code_reason('valid')}")
    issued = mask_value("card_number", c.card_number(persona, harness.profile))
    assert decision["card"] == issued, (
        f"{terminal.name} admitted {what} as card {decision['card']!r}; the suite issued it for {issued!r}")
    fare = harness.oracle.code_fare(terminal.kind)
    assert (decision["fare"], decision["debited"]) == (fare, 0), (
        f"{terminal.name} records fare {decision['fare']} fen and {decision['debited']} fen debited for {what}; "
        f"a {terminal.kind} terminal records {fare} fen, charged later by the back-end, and debits nothing")
    return decision


@pytest.mark.clause("TERM-ECODE-001")
def test_a_valid_code_is_admitted_as_the_card_it_was_issued_for(harness, terminal, issuer):
    kind, payload = fresh(harness, terminal, issuer)
    admitted(harness, terminal, payload, "normal", f"a valid {kind} code")


@pytest.mark.clause("TERM-ECODE-002")
def test_a_code_is_admitted_once_and_its_replay_refused(harness, terminal, issuer):
    kind = _kind(harness, terminal)
    now = c.terminal_time(terminal)
    payload = issuer.code(kind=kind, persona="normal", at=now)
    admitted(harness, terminal, payload, "normal", f"a valid {kind} code")
    refused(harness, terminal, payload, "replayed", f"the same {kind} code scanned again")
    if "clock_control" in terminal.capabilities:  # the log must hold the code to the last second of its window
        window = issuer.ecode_profile["kinds"][kind]["validity_seconds"]
        now = terminal.advance(window)
        refused(harness, terminal, payload, "replayed",
                f"the same {kind} code scanned again {window} s after its display")
    admitted(harness, terminal, issuer.code(kind=kind, persona="normal", at=now), "normal",
             f"the holder's next display of a {kind} code")


@pytest.mark.clause("TERM-ECODE-003")
def test_a_code_past_its_window_is_refused(harness, terminal, issuer):
    kind = _kind(harness, terminal)
    window = issuer.ecode_profile["kinds"][kind]["validity_seconds"]
    if "clock_control" in terminal.capabilities:
        payload = issuer.code(kind=kind, persona="normal", at=c.terminal_time(terminal))
        terminal.advance(window + 1)
        what = f"a {kind} code scanned {window + 1} s after its display (valid {window} s)"
    else:  # a real terminal's clock: a code displayed its window and five minutes ago, beyond any skew
        late = window + 300
        payload = issuer.code(kind=kind, persona="normal", at=c.terminal_time(terminal) - timedelta(seconds=late))
        what = f"a {kind} code displayed {late} s ago (valid {window} s)"
    refused(harness, terminal, payload, "expired", what)


@pytest.mark.clause("TERM-ECODE-004")
def test_a_forged_code_is_refused(harness, terminal, issuer):
    kind = _kind(harness, terminal)
    now = c.terminal_time(terminal)
    refused(harness, terminal, issuer.code(kind=kind, persona="normal", at=now, user_key_authorised=False),
            "wrong_signature",
            f"a {kind} code displayed with a key its issuer never authorised")
    refused(harness, terminal, issuer.code(kind=kind, persona="normal", at=now, certified_by_ca=False),
            "wrong_signature",
            f"a {kind} code whose issuer certificate no CA key signed")


@pytest.mark.clause("TERM-ECODE-005")
@pytest.mark.requires("blacklist")
def test_a_code_for_a_blacklisted_card_is_refused(harness, terminal, issuer):
    kind, payload = fresh(harness, terminal, issuer, persona="blacklisted")
    refused(harness, terminal, payload, "revoked_card", f"a {kind} code for a card on the certification blacklist")


@pytest.mark.clause("TERM-ECODE-006")
def test_a_code_valid_only_under_a_test_key_is_refused_in_production(harness, terminal, issuer):
    kind, payload = fresh(harness, terminal, issuer, test_key=True)
    index = c.ca_index(issuer.ecode_profile, test=True)
    refused(harness, terminal, payload, "test_key", f"a {kind} code certified by the test CA key {index}")


@pytest.mark.clause("TERM-ECODE-007")
def test_a_code_of_another_kind_or_no_code_at_all_is_refused(harness, terminal, issuer):
    """Where the profile admits every code kind at this terminal kind (a shared scanning terminal) no
    kind is foreign to it, and only the malformed codes are judged."""
    admits = harness.oracle.code_kinds(terminal.kind)
    now = c.terminal_time(terminal)
    for kind in (k for k in issuer.ecode_profile["kinds"] if k not in admits):
        refused(harness, terminal, issuer.code(kind=kind, persona="normal", at=now), "wrong_kind",
                f"a {kind} code at a terminal admitting {', '.join(admits)}")
    payload = issuer.code(kind=_kind(harness, terminal), persona="normal", at=now)
    refused(harness, terminal, payload[:-1], "malformed", "a code missing its last byte")
    refused(harness, terminal, b"https://example.invalid/pay?id=1", "malformed", "a QR symbol holding a web address")


@pytest.mark.clause("TERM-ECODE-008")
def test_a_code_outside_its_chains_validity_is_refused_each_for_its_own_reason(harness, terminal, issuer):
    kind = _kind(harness, terminal)
    now = c.terminal_time(terminal)
    ahead = issuer.ecode_profile["clock_skew_seconds"] + 60
    refused(harness, terminal, issuer.code(kind=kind, persona="normal", at=now + timedelta(seconds=ahead)),
            "not_yet_valid",
            f"a {kind} code displayed {ahead} s ahead of the terminal's clock")
    refused(harness, terminal, issuer.code(kind=kind, persona="normal", at=now, certificate_days=-1),
            "certificate_expired",
            f"a {kind} code whose issuer certificate expired yesterday")
    days = issuer.ecode_profile["authorisation_days"] + 1
    refused(harness, terminal, issuer.code(kind=kind, persona="normal", at=now, authorised_days_before=days),
            "authorisation_expired", f"a {kind} code whose user key was authorised {days} days ago")


@pytest.mark.clause("ZZ-CODE-001")
def test_a_shared_scanning_terminal_admits_every_code_kind_its_profile_lists(harness, terminal, issuer):
    """Each code kind the region's profile lists for the terminal kind, issued now for the same card, is
    admitted once as that card: a terminal keeping the national admissions refuses one as of a wrong kind."""
    kinds = harness.oracle.code_kinds(terminal.kind)
    if not kinds:
        not_applicable(f"terminals.yaml ecode.admits lists no code kind for a {terminal.kind} terminal")
    now = c.terminal_time(terminal)
    for kind in kinds:
        admitted(harness, terminal, issuer.code(kind=kind, persona="normal", at=now), "normal", f"a {kind} code")
