"""The T-Union purse's value commands: GET BALANCE, INITIALIZE / DEBIT FOR PURCHASE, MAC1, MAC2, TAC.

The host computes MAC1 and checks MAC2 and TAC with keys it derives on its own from the issuer's
test master keys and the card's file 0x15. A purchase spends 1 fen of the card's balance, which
a load gives back when the test ends: a real test card needs at least that much.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import expect
from conformance.verdicts import not_tested
from simulator.apdu import SW

clause = pytest.mark.clause
pytestmark = pytest.mark.requires("purse")
AMOUNT = 1  # fen


@pytest.fixture
def purse_host(card, host):
    """The purse selected; its balance given back when the test ends (a sample keeps its money)."""
    yield from card.keeping_balance(host)


def _init(host, amount: int = AMOUNT) -> bytes:
    answer = host.init_purchase(amount)
    if answer.sw == SW.INSUFFICIENT_FUNDS:
        not_tested(f"the purse holds less than {amount} fen",
                   need=f"the sample's purse loaded with {amount} fen or more")
    return expect(answer, SW.OK, f"INITIALIZE FOR PURCHASE of {amount} fen").data


@clause("PURSE-BAL-001")
def test_get_balance_answers_both_purses_and_refuses_other_p1_p2(purse_host):
    for p1 in (0x00, 0x01):
        data = purse_host.ok(f"GET BALANCE 805C {p1:02X} 02", 0x80, 0x5C, p1, 0x02, le=4)
        assert len(data) == 4, f"GET BALANCE 805C {p1:02X} 02 answered {len(data)} bytes; the profile requires 4"
    for p1, p2 in ((0x02, 0x02), (0x00, 0x01)):
        expect(purse_host.send(0x80, 0x5C, p1, p2, le=4), SW.INCORRECT_P1P2, f"GET BALANCE 805C {p1:02X} {p2:02X}")


@clause("PURSE-PUR-001")
def test_initialize_for_purchase_answers_the_profiles_layout(purse_host):
    balance = purse_host.balance()
    init = _init(purse_host)
    assert len(init) == 15, f"INITIALIZE FOR PURCHASE answered {len(init)} bytes; the profile requires 15"
    assert int.from_bytes(init[0:4], "big") == max(balance, 0), (
        f"INITIALIZE names balance {int.from_bytes(init[0:4], 'big')}; GET BALANCE said {balance}")
    ids = {int(spec["id"], 16) for spec in purse_host.layout.purse_profile["algorithms"].values()}
    assert init[10] in ids, f"INITIALIZE names algorithm ID {init[10]:02X}; the profile knows {sorted(ids)}"
    version = int(purse_host.layout.purse_profile["keys"]["DPK"]["version"], 16)
    assert init[9] == version, f"INITIALIZE names key version {init[9]:02X}; the purchase key's is {version:02X}"
    expect(purse_host.init_purchase(AMOUNT, index=0x09), SW.KEY_INDEX_NOT_SUPPORTED,
           "INITIALIZE FOR PURCHASE with key index 09 (none)")
    limit = max(balance, 0) + int.from_bytes(init[6:9], "big")
    for amount, what in ((max(balance, 0), "the balance"), (limit, "balance + overdraft limit, the most it may take")):
        if amount:  # an INITIALIZE without its DEBIT moves no money; the next one abandons it
            expect(purse_host.init_purchase(amount), SW.OK, f"INITIALIZE FOR PURCHASE of {amount} fen ({what})")
    expect(purse_host.init_purchase(limit + 1), SW.INSUFFICIENT_FUNDS,
           f"INITIALIZE FOR PURCHASE of {limit + 1} fen (balance + overdraft limit + 1)")


@clause("PURSE-PUR-002")
def test_a_purchase_debits_counts_logs_and_proves_itself(purse_host):
    before, log_before = purse_host.balance(), purse_host.purse_log()
    init = _init(purse_host)
    answer, expected = purse_host.debit(init, AMOUNT)
    expect(answer, SW.OK, "DEBIT FOR PURCHASE with the right MAC1")
    assert answer.data[4:8] == expected["mac2"], (
        f"MAC2 is {answer.data[4:8].hex().upper()}; the issuer's purchase key gives {expected['mac2'].hex().upper()}")
    assert answer.data[0:4] == expected["tac"], (
        f"TAC is {answer.data[0:4].hex().upper()}; the issuer's TAC key gives {expected['tac'].hex().upper()}")
    assert purse_host.balance() == before - AMOUNT, f"a purchase of {AMOUNT} fen left the balance at " \
                                                    f"{purse_host.balance()}, not {before - AMOUNT}"
    log = purse_host.purse_log()
    assert log and log[0] == expected["record"], (
        f"0x18 record 1 is {log[0].hex().upper() if log else 'absent'}; the purchase should have written "
        f"{expected['record'].hex().upper()}")
    log_size = next(f["max_records"] for f in purse_host.layout.purse_profile["files"] if f["sfi"] == 0x18)
    assert len(log) == min(len(log_before) + 1, log_size), "the purchase did not add exactly one 0x18 record"
    atc = int.from_bytes(init[4:6], "big")
    again = _init(purse_host)
    assert int.from_bytes(again[4:6], "big") == atc + 1, (
        f"the offline ATC was {atc} for the purchase and is {int.from_bytes(again[4:6], 'big')} after it; "
        f"it must rise by one")


@clause("PURSE-PUR-002")
def test_debit_without_initialize_answers_6985(purse_host):
    answer = purse_host.send(0x80, 0x54, 0x01, 0x00, bytes(15), le=0x08)
    expect(answer, SW.CONDITIONS_NOT_SATISFIED, "DEBIT FOR PURCHASE without INITIALIZE")


@clause("PURSE-MAC-001")
def test_a_wrong_mac1_answers_9302_and_moves_no_money(purse_host):
    before, log_before = purse_host.balance(), purse_host.purse_log()
    init = _init(purse_host)
    answer, _ = purse_host.debit(init, AMOUNT, wrong_mac=True)
    expect(answer, SW.MAC_INVALID, "DEBIT FOR PURCHASE with a wrong MAC1")
    assert purse_host.balance() == before, (
        f"a refused purchase moved money: balance {before} before, {purse_host.balance()} after")
    assert purse_host.purse_log() == log_before, "a refused purchase changed the 0x18 records"
    retry, _ = purse_host.debit(init, AMOUNT)
    expect(retry, SW.CONDITIONS_NOT_SATISFIED, "DEBIT retried after a wrong MAC1 without a new INITIALIZE")
    again = _init(purse_host)
    assert again[4:6] == init[4:6], (
        f"the offline ATC moved from {init[4:6].hex()} to {again[4:6].hex()} though no purchase was committed")
