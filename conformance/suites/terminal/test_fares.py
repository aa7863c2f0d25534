"""What a terminal charges or grants: concession fares, the metro distance fare, scenic entitlement,
each against the suite's own reading of the profile (oracle.py)."""

from __future__ import annotations

import pytest

from . import _harness as h


def _charge(harness, terminal, persona: str) -> tuple[dict, int]:
    c = harness.ready(terminal, persona)
    before = h.money(c)
    shown = harness.show(terminal, c, f"{persona} card")
    return shown.decision, before.purse - h.money(c).purse


@pytest.mark.clause("TERM-CONC-001")
@pytest.mark.requires("concessions")
@pytest.mark.parametrize("persona", ["elderly", "minor"])
def test_concession_fares(harness, terminal, persona):
    """On a card the concessions are for: in a run whose concessions are for residents (Sichuan's),
    the region's own issue of the persona; who counts as a resident is SC-XR-001's to judge."""
    _judge_concession(harness, terminal, harness.concession_card(persona))


@pytest.mark.clause("KF-CONC-001")
@pytest.mark.requires("concessions")
def test_kaifeng_teachers_ride_at_their_concession(harness, terminal):
    _judge_concession(harness, terminal, "kaifeng_teacher")


@pytest.mark.clause("SC-XR-001")
@pytest.mark.requires("concessions")
@pytest.mark.parametrize("persona", ["chengdu_elderly", "chongqing_elderly", "elderly"])
def test_sichuan_concessions_are_for_sichuan_and_chongqing_cards(harness, terminal, persona):
    """A Chengdu and a Chongqing elderly card get the elderly concession, a Kaifeng one the full fare."""
    _judge_concession(harness, terminal, persona)


def _judge_concession(harness, terminal, persona: str) -> None:
    """The card of `persona` pays the percentage of the full fare (a normal card's, on the same
    terminal) the profile's concession table gives its purse card type, if the concessions are for
    a card issued where it was (terminals.yaml `residency`), else the full fare; judged by the money
    the card's purse lost."""
    base, paid = _charge(harness, terminal, "normal")
    assert base["accepted"], f"{terminal.name} refused a valid full-fare card ({base['reason']})"
    card_type, division = harness.purse_card_type(persona), harness.issuing_division(persona)
    expected = harness.oracle.concession_fare(paid, card_type, division)
    rule = (f"type {card_type} pays {harness.oracle.concession_percent(card_type)}%"
            if harness.oracle.resident(division) else "the concessions are not for its holder: the full fare")
    decision, charged = _charge(harness, terminal, persona)
    assert decision["accepted"], f"{terminal.name} refused a valid {persona} card ({decision['reason']})"
    assert charged == expected and decision["amount"] == expected, (
        f"{terminal.name} charged a card of type {card_type} issued in {division} ({persona}) {charged} fen "
        f"(decision amount {decision['amount']}); the full fare is {paid} and {rule}: {expected} fen")


@pytest.mark.clause("TERM-METRO-001")
@pytest.mark.requires("metro_exit")
def test_the_exit_gate_charges_the_distance_fare(harness, terminal):
    c = harness.card("normal")
    entry = harness.enter(c)["evidence"]["station"]
    before = h.money(c)
    shown = harness.show(terminal, c, "exit after an entry at the reference gate")
    decision = shown.decision
    assert decision["accepted"], f"{terminal.name} refused a valid card with an open journey ({decision['reason']})"
    trip = harness.newest_trip(c)
    assert trip is not None and trip[0] == 0x04, (
        f"{terminal.name} wrote no exit record (0x1E type 04) for the journey: newest 0x1E record "
        f"{trip.hex().upper() if trip else 'none'}")
    exit_station = trip[15:17].hex()  # line+station 7 bytes at offset 10 (transit-payment.md §1.2)
    stations = harness.oracle.terminals["metro"]["stations"]
    assert exit_station in stations, (
        f"{terminal.name} recorded its exit at {exit_station}, a station the profile does not know")
    expected = harness.oracle.metro_fare(entry, exit_station)
    charged = before.purse - h.money(c).purse
    assert charged == expected and decision["amount"] == expected, (
        f"{terminal.name} charged {charged} fen (decision amount {decision['amount']}) from station {entry} to "
        f"{exit_station}; the profile's distance fare is {expected} fen")


@pytest.mark.clause("TERM-SCENIC-001")
@pytest.mark.requires("entitlement")
@pytest.mark.parametrize("persona", ["elderly", "normal"])
def test_scenic_entitlement_by_age(harness, terminal, persona):
    _judge_entitlement(harness, terminal, persona)


@pytest.mark.clause("KF-CONC-002")
@pytest.mark.requires("entitlement")
def test_kaifeng_seniors_enter_scenic_spots_free(harness, terminal):
    """A resident aged 62 enters free, a visitor of that age does not (the national age is theirs)."""
    for persona in ("kaifeng_senior", "kaifeng_visitor_senior"):
        _judge_entitlement(harness, terminal, persona)


def _judge_entitlement(harness, terminal, persona: str) -> None:
    """The card of `persona` enters free exactly when the profile entitles a holder of its age
    issued in its division (a region's own residents may enter free younger), nothing charged."""
    c = harness.card(persona)
    before = h.money(c)
    shown = harness.show(terminal, c, f"{persona} card")
    decision = shown.decision
    age, division = harness.age(persona), harness.division(persona)
    entitled = harness.oracle.entitled(age, division)
    expected = "ENTITLED" if entitled else "NOT_ENTITLED"
    assert decision["reason"] == expected and decision["accepted"] == entitled, (
        f"{terminal.name} answered the card of a holder aged {age}, issued in {division}, with {decision['reason']} "
        f"(accepted={decision['accepted']}); free entry from {harness.oracle.free_from_age(division)} or below "
        f"{harness.oracle.terminals['scenic']['free_below_age']}: expected {expected}")
    assert not h.value_commands(shown.trace) and h.money(c) == before, f"{terminal.name} charged a scenic entry"
