"""PIN rules: 63Cx with the tries left, 6983 when blocked (also for the right PIN), a right PIN
restoring the counter, the try spent before the comparison (as a tear shows), and RELOAD PIN and
UNBLOCK PIN with the issuer's MAC.

Counting wrong PINs down to one try left and back with the right PIN runs on any card whose PIN
is known. Blocking a PIN needs a card the harness may block (`CardLab.open_blockable`: a fresh
simulated card, a destructive sample, or a sample whose PIN the issuer's reload or unblock key
gives back, which the test then does); cutting the power mid-VERIFY needs a simulated card or
a lab's tear rig over the reader (`tear_control`).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import Host, expect
from conformance.suites.card._lab import PIN_RESET_NAMES, CardLab, pin_reset_command, reset_pin, wrong_pin
from conformance.verdicts import not_tested
from simulator.apdu import SW, counter_sw

clause = pytest.mark.clause
requires = pytest.mark.requires


def _spare_tries(host) -> int:
    """The tries left, or not tested when fewer than 2 (a test spending one must leave one)."""
    __tracebackhide__ = True
    left = host.pin_tries()
    if left < 2:
        not_tested(f"the card has {left} PIN tries left; this test spends one",
                   need="a sample with at least 2 PIN tries left")
    return left


@clause("CARD-PIN-001")
def test_wrong_pins_count_down_to_the_last_try_and_the_right_pin_counts_up(host, pin):
    host.select_ssse()
    left = _spare_tries(host)
    for spent in range(1, left):
        expect(host.verify(wrong_pin(pin)), counter_sw(left - spent),
               f"VERIFY with wrong PIN {spent} of {left - 1} ({left - spent} tries should be left)")
    expect(host.verify(pin), SW.OK, "VERIFY with the right PIN at the last try")
    tries = host.layout.ssse_profile["pin"]["tries"]
    assert host.pin_tries() == tries, (f"after the right PIN the card has {host.pin_tries()} tries; the profile's "
                                       f"counter is {tries}")


@clause("CARD-PIN-001")
def test_wrong_pins_count_down_then_block_even_the_right_pin(card):
    host = card.open_blockable()
    try:
        host.select_ssse()
        for left in range(host.pin_tries() - 1, -1, -1):
            sw = counter_sw(left) if left else SW.AUTH_METHOD_BLOCKED
            expect(host.verify(wrong_pin(host.pin)), sw, f"VERIFY with a wrong PIN ({left} tries should be left)")
        expect(host.verify(host.pin), SW.AUTH_METHOD_BLOCKED, "VERIFY with the right PIN once the PIN is blocked")
        host.reconnect()
        host.select_ssse()
        expect(host.verify(host.pin), SW.AUTH_METHOD_BLOCKED, "VERIFY with the right PIN after a power cycle")
    finally:
        card.restore_pin(host)


@clause("CARD-PIN-001")
def test_a_blocked_card_refuses_the_right_pin(card):
    host = card.open_pin_blocked()
    try:
        expect(host.verify(host.pin), SW.AUTH_METHOD_BLOCKED,
               "VERIFY with the right PIN on a card whose PIN is blocked")
    finally:
        card.restore_pin(host)


@clause("CARD-PIN-002")
def test_a_right_pin_restores_the_try_counter(host, pin):
    host.select_ssse()
    left = _spare_tries(host)
    for attempt in (1, 2):
        expect(host.verify(wrong_pin(pin)), counter_sw(left - 1), f"VERIFY with a wrong PIN (attempt {attempt})")
        expect(host.verify(pin), SW.OK, f"VERIFY with the right PIN after a wrong one (attempt {attempt})")


@clause("CARD-PIN-005")
@requires("tear_control")
def test_verify_spends_the_try_before_it_compares(card):
    right = card.facts("normal").pin

    def prepare() -> Host:
        """A card with its full try counter: a fresh one, or the sample after the right PIN."""
        host = card.open("normal")
        host.select_ssse()
        if card.persistent:
            expect(host.verify(right), SW.OK, "VERIFY with the right PIN (the try counter full before the cut)")
        return host

    def tries(host: Host) -> int:
        host.select_ssse()
        return host.pin_tries()

    host = prepare()
    full = tries(host)
    try:
        wrong, untorn = card.sweep_tears(prepare, lambda h: h.verify(wrong_pin(right)), tries)
        with_right = []
        for step in range(len(wrong)):
            host = prepare()
            cut = card.cut_power(host, step, lambda h=host: h.verify(right))
            with_right.append(tries(host) if cut else "no tear (VERIFY answered first)")
    finally:
        card.restore_pin(host)
    assert untorn == full - 1, f"VERIFY with a wrong PIN left {untorn} of {full} tries; one must be spent"
    differ = [f"step {n + 1}: {a} tries with the right PIN, {b} with a wrong one"
              for n, (a, b) in enumerate(zip(with_right, wrong, strict=True)) if a != b]
    assert not differ, (f"power lost at these of the {len(wrong)} steps of VERIFY leaves another try counter with "
                        f"the right PIN than with a wrong one: the card acts on the comparison before it spends the "
                        f"try ({'; '.join(differ)})")
    assert wrong[-1] == full - 1, (f"power lost at the last step of VERIFY with a wrong PIN left {wrong[-1]} tries; "
                                   f"the try is spent before the answer ({full - 1} left)")


def _resets_a_blocked_pin_only_with_the_right_mac(card: CardLab, key: str) -> None:
    """On a card whose PIN is blocked, the PIN reset `key` authorises (RELOAD PIN under ssse.06,
    UNBLOCK PIN under ssse.07) with its MAC corrupted answers 6988 and leaves the PIN blocked; with
    the right MAC it sets the new PIN and the full try counter."""
    __tracebackhide__ = True
    what, new = PIN_RESET_NAMES[key], "2468"
    card.issuer.require(key)
    host = card.open_pin_blocked()
    try:
        expect(host.send(*pin_reset_command(host, key, new, host.challenge(), spoil=True)), SW.SM_DATA_INCORRECT,
               f"{what} with a wrong MAC")
        expect(host.verify(new), SW.AUTH_METHOD_BLOCKED, f"VERIFY after a refused {what}")
        reset_pin(host, key, new)
        tries, full = host.pin_tries(), host.layout.ssse_profile["pin"]["tries"]
        assert tries == full, f"after {what} the PIN has {tries} tries, not the profile's {full}"
        expect(host.verify(new), SW.OK, f"VERIFY with the PIN {what} set")
    finally:
        card.restore_pin(host)


@clause("CARD-PIN-004")
def test_reload_pin_needs_the_issuers_mac(card):
    _resets_a_blocked_pin_only_with_the_right_mac(card, "ssse.06")


@clause("CARD-PIN-006")
def test_unblock_pin_needs_the_issuers_mac(card):
    _resets_a_blocked_pin_only_with_the_right_mac(card, "ssse.07")
