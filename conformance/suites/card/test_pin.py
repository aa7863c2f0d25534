"""PIN rules: 63Cx with the tries left, 6983 when blocked (also for the right PIN), a right PIN
restoring the counter, the try spent before the comparison (as a tear shows), and RELOAD PIN and
UNBLOCK PIN with the issuer's MAC.

Blocking a PIN is destructive: those tests need a card the harness chooses (`persona_choice`);
cutting the power mid-VERIFY needs a simulated card (`tear_control`).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import SSSE, CardLab, expect
from conformance.verdicts import not_tested
from simulator.apdu import SW, counter_sw
from simulator.card.apps import ssse
from simulator.card.commands_security import encode_pin
from simulator.crypto.auth import pin_reload_mac, pin_unblock_data
from simulator.transport.errors import CardRemovedError

clause = pytest.mark.clause
requires = pytest.mark.requires
TRIES = SSSE["pin"]["tries"]


def _wrong(pin: str) -> str:
    return "".join(str((int(d) + 1) % 10) for d in pin)


@clause("CARD-PIN-001")
@requires("persona_choice")
def test_wrong_pins_count_down_then_block_even_the_right_pin(card):
    right = card.facts("normal").pin
    host = card.open("normal")
    host.select_ssse()
    for left in range(TRIES - 1, -1, -1):
        sw = counter_sw(left) if left else SW.AUTH_METHOD_BLOCKED
        expect(host.verify(_wrong(right)), sw, f"VERIFY with a wrong PIN ({left} tries should be left)")
    expect(host.verify(right), SW.AUTH_METHOD_BLOCKED, "VERIFY with the right PIN once the PIN is blocked")
    host.reconnect()
    host.select_ssse()
    expect(host.verify(right), SW.AUTH_METHOD_BLOCKED, "VERIFY with the right PIN after a power cycle")


@clause("CARD-PIN-001")
@requires("persona_choice")
def test_a_blocked_card_refuses_the_right_pin(card):
    host = card.open("pin_blocked")
    host.select_ssse()
    expect(host.verify(card.facts("pin_blocked").pin), SW.AUTH_METHOD_BLOCKED,
           "VERIFY with the right PIN on a card whose PIN is blocked")


@clause("CARD-PIN-002")
def test_a_right_pin_restores_the_try_counter(host, pin):
    host.select_ssse()
    left = host.pin_tries()
    if left < 2:
        not_tested(f"the card has {left} PIN tries left; this test spends one",
                   need="a sample with at least 2 PIN tries left")
    for attempt in (1, 2):
        expect(host.verify(_wrong(pin)), counter_sw(left - 1), f"VERIFY with a wrong PIN (attempt {attempt})")
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
    expect(host.verify(_wrong(right)), counter_sw(full - 1), "VERIFY with a wrong PIN (untorn, to count its steps)")
    steps = plan.total - start
    if steps == 0:
        raise RuntimeError("VERIFY passed no tear point: the simulated card's fault plan is not wired")
    wrong = [_after_a_torn_verify(card, _wrong(right), step) for step in range(steps)]
    with_right = [_after_a_torn_verify(card, right, step) for step in range(steps)]
    differ = [f"step {n + 1}: {a} tries with the right PIN, {b} with a wrong one"
              for n, (a, b) in enumerate(zip(with_right, wrong, strict=True)) if a != b]
    assert not differ, (f"power lost at these of the {steps} steps of VERIFY leaves another try counter with the "
                        f"right PIN than with a wrong one: the card acts on the comparison before it spends the try "
                        f"({'; '.join(differ)})")
    assert wrong[-1] == full - 1, (f"power lost at the last step of VERIFY with a wrong PIN left {wrong[-1]} tries; "
                                   f"the try is spent before the answer ({full - 1} left)")


def _resets_a_blocked_pin_only_with_the_right_mac(card: CardLab, what: str, kid: int, command) -> None:
    """On a card whose PIN is blocked, the APDU `command(key, algorithm, new_pin, challenge)` gives
    (CLA, INS, P1, P2, data under the issuer's key `kid`) with its MAC corrupted answers 6988 and
    leaves the PIN blocked; with the right MAC it sets the new PIN and the full try counter."""
    __tracebackhide__ = True
    facts = card.facts("pin_blocked")
    host = card.open("pin_blocked")
    host.select_ssse()
    algorithm = SSSE["generations"][str(facts.generation)]["algorithm"]
    key = ssse.card_key(SSSE, kid, facts.values["card_identifier"], algorithm)
    new = "2468"
    *header, data = command(key, algorithm, encode_pin(new), host.challenge())
    expect(host.send(*header, data[:-1] + bytes((data[-1] ^ 0x01,))), SW.SM_DATA_INCORRECT, f"{what} with a wrong MAC")
    expect(host.verify(new), SW.AUTH_METHOD_BLOCKED, f"VERIFY after a refused {what}")
    expect(host.send(*command(key, algorithm, encode_pin(new), host.challenge())), SW.OK,
           f"{what} with the issuer's MAC over a fresh challenge")
    assert host.pin_tries() == TRIES, f"after {what} the PIN has {host.pin_tries()} tries, not the profile's {TRIES}"
    expect(host.verify(new), SW.OK, f"VERIFY with the PIN {what} set")


@clause("CARD-PIN-004")
@requires("persona_choice")
def test_reload_pin_needs_the_issuers_mac(card):
    _resets_a_blocked_pin_only_with_the_right_mac(
        card, "RELOAD PIN", 0x06,
        lambda key, algorithm, new, challenge: (0x80, 0x5E, 0x00, 0x00,
                                                new + pin_reload_mac(algorithm, key, new, challenge)))


@clause("CARD-PIN-006")
@requires("persona_choice")
def test_unblock_pin_needs_the_issuers_mac(card):
    _resets_a_blocked_pin_only_with_the_right_mac(
        card, "UNBLOCK PIN", 0x07,
        lambda key, algorithm, new, challenge: (0x84, 0x24, 0x00, 0x00,
                                                pin_unblock_data(algorithm, key, new, challenge)))
