"""Atomicity: power cut at every tear point of a write leaves the card all-old or all-new.

Cutting the power mid-command (`tear_control`) needs a simulated card (its fault plan) or a lab's
tear rig over the reader. The record update runs on a sample too (the persona's 姓名 written back
before each cut and at the end); the purse transactions need a fresh card of a known persona for
each cut (`persona_choice`). The check itself is black-box: after the tear the card is powered up
again and read back with ordinary commands.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import DATE, READ_KEY, TIME, WRITE_KEY, Host, expect
from conformance.suites.card._lab import CardLab
from simulator.apdu import SW, ResponseAPDU

clause = pytest.mark.clause
pytestmark = pytest.mark.requires("tear_control")
#: a 30-byte GBK 姓名: the record spans two NVM pages, so a torn page write shows
NEW_NAME = "测试更新" * 3 + "姓名长"
AMOUNT = 120


def _tear_each_point(card: CardLab, prepare, command, read_back) -> tuple[int, list[str]]:
    """Cut the power at each step of `command` in turn (`CardLab.sweep_tears`); returns (steps,
    problems): a state after a tear that is neither the one before nor the one after the command."""
    __tracebackhide__ = True
    old = read_back(prepare())
    torn, new = card.sweep_tears(prepare, command, read_back)
    problems = [f"tear at step {i + 1}/{len(torn)}: {_what_is_torn(now, old, new)}"
                for i, now in enumerate(torn) if now not in (old, new)]
    return len(torn), problems


def _what_is_torn(now: dict, old: dict, new: dict) -> str:
    torn = [k for k in now if now[k] not in (old[k], new[k])]
    if torn:
        return f"{', '.join(torn)} neither old nor new"
    mixed = ", ".join(f"{k} {'old' if now[k] == old[k] else 'new'}" for k in now)
    return f"a write half done ({mixed})"


@clause("CARD-NVM-001")
def test_a_torn_record_update_leaves_the_record_all_old_or_all_new(card):
    element, ef06 = card.layout.elements["name"], card.layout.sfi["EF06"]

    def update(host: Host, record: bytes, what: str) -> None:
        __tracebackhide__ = True
        expect(host.send(0x00, 0xDC, element.tag, ef06 << 3, record), SW.OK,
               f"UPDATE RECORD EF06 姓名 by tag ({what}) after authentication with key 04")

    def read_back(host: Host) -> dict:
        __tracebackhide__ = True
        host.select_ssse()
        host.authenticate(READ_KEY)
        return {"姓名": expect(host.read_record(ef06, element.tag, by_tag=True), SW.OK,
                               "READ RECORD EF06 姓名").data}

    original = element.to_record(card.facts("normal").values["name"])

    def prepare() -> Host:
        """A card whose 姓名 is the persona's: a fresh one, or the sample with it written back."""
        host = card.open("normal")
        host.select_ssse()
        host.authenticate(WRITE_KEY)
        if card.persistent:
            update(host, original, "back to the persona's")
        return host

    try:
        new_name = element.to_record(NEW_NAME)
        points, problems = _tear_each_point(card, prepare, lambda host: update(host, new_name, "a new name"),
                                            read_back)
    finally:
        if card.persistent:
            prepare()  # the sample leaves with the 姓名 it came with
    assert not problems, f"of {points} tear points of UPDATE RECORD: " + "; ".join(problems)


def _purchase(host: Host) -> ResponseAPDU:
    __tracebackhide__ = True
    init = expect(host.init_purchase(AMOUNT), SW.OK, f"INITIALIZE FOR PURCHASE of {AMOUNT} fen").data
    return host.debit(init, AMOUNT)[0]


def _load(host: Host) -> ResponseAPDU:
    __tracebackhide__ = True
    init = expect(host.init_load(AMOUNT), SW.OK, f"INITIALIZE FOR LOAD of {AMOUNT} fen").data
    return host.send(0x80, 0x52, 0x00, 0x00, DATE + TIME + host.load_mac2(init, AMOUNT), le=4)


#: transaction -> (what commits it, how it starts, and so which ATC it moves)
TRANSACTIONS = {"purchase": ("DEBIT FOR PURCHASE", _purchase, "offline"), "load": ("CREDIT FOR LOAD", _load, "online")}


@clause("PURSE-NVM-001")
@pytest.mark.requires("purse", "persona_choice")
@pytest.mark.parametrize("transaction", sorted(TRANSACTIONS))
def test_a_torn_value_transaction_leaves_balance_counter_and_log_all_old_or_all_new(card, transaction):
    what, run, atc = TRANSACTIONS[transaction]

    def prepare() -> Host:
        host = card.open("normal")
        host.select_purse()
        return host

    def command(host: Host) -> None:
        __tracebackhide__ = True
        expect(run(host), SW.OK, f"{what} with the issuer's MAC")

    def read_back(host: Host) -> dict:
        __tracebackhide__ = True
        host.select_purse()
        state = {"balance": host.balance(), "0x18 records": host.purse_log()}
        init = host.init_load(AMOUNT) if atc == "online" else host.init_purchase(AMOUNT)
        state[f"{atc} ATC"] = expect(init, SW.OK, f"INITIALIZE (to read the {atc} ATC)").data[4:6]
        return state

    points, problems = _tear_each_point(card, prepare, command, read_back)
    assert not problems, f"of {points} tear points of {what}: " + "; ".join(problems)
