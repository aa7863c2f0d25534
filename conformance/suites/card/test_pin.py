"""PIN rules: 63Cx with the tries left, 6983 when blocked (also for the right PIN), a right PIN
restoring the counter, and RELOAD PIN with the issuer's MAC.

Blocking a PIN is destructive: those tests need a card the harness chooses (`persona_choice`).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import SSSE, expect
from simulator.apdu import SW, counter_sw
from simulator.card.apps import ssse
from simulator.card.commands_security import encode_pin
from simulator.crypto.auth import pin_reload_mac

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
    query = host.send(0x00, 0x20, 0x00, 0x00)
    assert query.sw & 0xFFF0 == 0x63C0 or query.sw == SW.AUTH_METHOD_BLOCKED, (
        f"VERIFY without data (tries left) answered {query.sw:04X}; ISO/IEC 7816-4 answers 63Cx")
    left = query.sw & 0x0F if query.sw != SW.AUTH_METHOD_BLOCKED else 0
    if left < 2:
        pytest.skip(f"not applicable: the card has {left} PIN tries left; this test spends one")
    for attempt in (1, 2):
        expect(host.verify(_wrong(pin)), counter_sw(left - 1), f"VERIFY with a wrong PIN (attempt {attempt})")
        expect(host.verify(pin), SW.OK, f"VERIFY with the right PIN after a wrong one (attempt {attempt})")


@clause("CARD-PIN-004")
@requires("persona_choice")
def test_reload_pin_needs_the_issuers_mac(card):
    facts = card.facts("pin_blocked")
    host = card.open("pin_blocked")
    host.select_ssse()
    algorithm = SSSE["generations"][str(facts.generation)]["algorithm"]
    key = ssse.card_key(SSSE, 0x06, facts.values["card_identifier"], algorithm)
    new = encode_pin("2468")
    wrong_mac = bytes(4)
    host.challenge()
    expect(host.send(0x80, 0x5E, 0x00, 0x00, new + wrong_mac), SW.SM_DATA_INCORRECT, "RELOAD PIN with a wrong MAC")
    expect(host.verify("2468"), SW.AUTH_METHOD_BLOCKED, "VERIFY after a refused RELOAD PIN")
    mac = pin_reload_mac(algorithm, key, new, host.challenge())
    expect(host.send(0x80, 0x5E, 0x00, 0x00, new + mac), SW.OK, "RELOAD PIN with the issuer's MAC")
    expect(host.verify("2468"), SW.OK, "VERIFY with the reloaded PIN")
