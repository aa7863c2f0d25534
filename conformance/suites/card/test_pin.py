"""PIN rules: 63Cx with the tries left, 6983 when blocked (also for the right PIN), a right PIN
restoring the counter, the try spent before the comparison (as a tear shows), and RELOAD PIN and
UNBLOCK PIN with the issuer's MAC.

Counting wrong PINs down to one try left and back with the right PIN runs on any card whose PIN
is known. Blocking a PIN needs a card the harness may block (`CardLab.open_blockable`: a fresh
simulated card, a destructive sample, or a sample whose PIN the issuer's reload or unblock key
gives back, which the test then does); cutting the power mid-VERIFY needs a simulated card
(`tear_control`).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import SSSE, expect
from conformance.suites.card._lab import PIN_RESET_NAMES, CardLab, pin_reset_command, reset_pin, wrong_pin
from conformance.verdicts import not_tested
from simulator.apdu import SW, counter_sw
from simulator.transport.errors import CardRemovedError

clause = pytest.mark.clause
requires = pytest.mark.requires
TRIES = SSSE["pin"]["tries"]


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
    assert host.pin_tries() == TRIES, (f"after the right PIN the card has {host.pin_tries()} tries; the profile's "
                                       f"counter is {TRIES}")


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


def _after_a_torn_verify(card: CardLab, pin: str, step: int) -> int | str:
    """The tries a fresh card has left after VERIFY with `pin` lost power at its `step`-th tear
    point (0-based) and the card was powered up again; what VERIFY answered if it ended sooner."""
    __tracebackhide__ = True
    host = card.open("normal")
    plan = card.tear_plan(host)
    host.select_ssse()
    plan.arm(at=plan.total + step)
    try:
        answer = host.verify(pin)
    except CardRemovedError:  # the tear the harness itself caused, not a link failure
        host.reconnect()
        host.select_ssse()
        return host.pin_tries()
    plan.disarm()
    return f"no tear (VERIFY answered {answer.sw:04X} first)"


@clause("CARD-PIN-005")
@requires("persona_choice", "tear_control")
def test_verify_spends_the_try_before_it_compares(card):
    right = card.facts("normal").pin
    host = card.open("normal")
    plan = card.tear_plan(host)
    host.select_ssse()
    full = host.pin_tries()
    start = plan.total
    expect(host.verify(wrong_pin(right)), counter_sw(full - 1), "VERIFY with a wrong PIN (untorn, to count its steps)")
    steps = plan.total - start
    if steps == 0:
        raise RuntimeError("VERIFY passed no tear point: the simulated card's fault plan is not wired")
    wrong = [_after_a_torn_verify(card, wrong_pin(right), step) for step in range(steps)]
    with_right = [_after_a_torn_verify(card, right, step) for step in range(steps)]
    differ = [f"step {n + 1}: {a} tries with the right PIN, {b} with a wrong one"
              for n, (a, b) in enumerate(zip(with_right, wrong, strict=True)) if a != b]
    assert not differ, (f"power lost at these of the {steps} steps of VERIFY leaves another try counter with the "
                        f"right PIN than with a wrong one: the card acts on the comparison before it spends the try "
                        f"({'; '.join(differ)})")
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
        tries = host.pin_tries()
        assert tries == TRIES, f"after {what} the PIN has {tries} tries, not the profile's {TRIES}"
        expect(host.verify(new), SW.OK, f"VERIFY with the PIN {what} set")
    finally:
        card.restore_pin(host)


@clause("CARD-PIN-004")
def test_reload_pin_needs_the_issuers_mac(card):
    _resets_a_blocked_pin_only_with_the_right_mac(card, "ssse.06")


@clause("CARD-PIN-006")
def test_unblock_pin_needs_the_issuers_mac(card):
    _resets_a_blocked_pin_only_with_the_right_mac(card, "ssse.07")
