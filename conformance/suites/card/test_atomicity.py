"""Atomicity: power cut at every tear point of a write leaves the card all-old or all-new.

Only a simulated card lets the harness cut its power mid-command (`tear_control`: the card OS's
fault plan, reached through the in-process link), and every case needs a fresh card of a known
persona (`persona_choice`). The check itself is black-box: after the tear the card is powered up
again and read back with ordinary commands.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import DATE, ELEMENTS, READ_KEY, SFI, TIME, WRITE_KEY, Host, expect
from conformance.suites.card._lab import CardLab
from simulator.apdu import SW, ResponseAPDU
from simulator.transport.errors import CardRemovedError

clause = pytest.mark.clause
pytestmark = pytest.mark.requires("persona_choice", "tear_control")
#: a 30-byte GBK 姓名: the record spans two NVM pages, so a torn page write shows
NEW_NAME = ELEMENTS["name"].to_record("测试更新" * 3 + "姓名长")
AMOUNT = 120


def _tear_each_point(card: CardLab, prepare, command, read_back) -> tuple[int, list[str]]:
    """Run `command` untorn to count its tear points, then once per point with the power cut
    there; returns (points, problems)."""
    __tracebackhide__ = True
    host, plan = prepare()
    old = read_back(host, plan)
    host, plan = prepare()
    start = plan.total
    command(host, untorn=True)
    points = plan.total - start
    new = read_back(host, plan)
    if points == 0:
        raise RuntimeError("the write passed no tear point: the simulated card's fault plan is not wired")
    problems = []
    for i in range(points):
        host, plan = prepare()
        plan.arm(at=plan.total + i)
        with pytest.raises(CardRemovedError):  # the tear the harness itself caused, not a link failure
            command(host, untorn=False)
        where = plan.trail[-1]
        host.reconnect()
        now = read_back(host, plan)
        if now not in (old, new):
            problems.append(f"tear {i + 1}/{points} at {where}: {_what_is_torn(now, old, new)}")
    return points, problems


def _what_is_torn(now: dict, old: dict, new: dict) -> str:
    torn = [k for k in now if now[k] not in (old[k], new[k])]
    if torn:
        return f"{', '.join(torn)} neither old nor new"
    mixed = ", ".join(f"{k} {'old' if now[k] == old[k] else 'new'}" for k in now)
    return f"a write half done ({mixed})"


@clause("CARD-NVM-001")
def test_a_torn_record_update_leaves_the_record_all_old_or_all_new(card):
    element = ELEMENTS["name"]

    def prepare() -> tuple[Host, object]:
        host = card.open("normal")
        plan = card.tear_plan(host)
        host.select_ssse()
        host.authenticate(WRITE_KEY)
        return host, plan

    def command(host: Host, *, untorn: bool) -> None:
        __tracebackhide__ = True
        answer = host.send(0x00, 0xDC, element.tag, SFI["EF06"] << 3, NEW_NAME)
        if untorn:
            expect(answer, SW.OK, "UPDATE RECORD EF06 姓名 by tag after authentication with key 04")

    def read_back(host: Host, plan) -> dict:
        __tracebackhide__ = True
        plan.disarm()
        host.select_ssse()
        host.authenticate(READ_KEY)
        return {"姓名": expect(host.read_record(SFI["EF06"], element.tag, by_tag=True), SW.OK,
                               "READ RECORD EF06 姓名").data}

    points, problems = _tear_each_point(card, prepare, command, read_back)
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
@pytest.mark.requires("purse")
@pytest.mark.parametrize("transaction", sorted(TRANSACTIONS))
def test_a_torn_value_transaction_leaves_balance_counter_and_log_all_old_or_all_new(card, transaction):
    what, run, atc = TRANSACTIONS[transaction]

    def prepare() -> tuple[Host, object]:
        host = card.open("normal")
        plan = card.tear_plan(host)
        host.select_purse()
        return host, plan

    def command(host: Host, *, untorn: bool) -> None:
        __tracebackhide__ = True
        answer = run(host)
        if untorn:
            expect(answer, SW.OK, f"{what} with the issuer's MAC")

    def read_back(host: Host, plan) -> dict:
        __tracebackhide__ = True
        plan.disarm()
        host.select_purse()
        state = {"balance": host.balance(), "0x18 records": host.purse_log()}
        init = host.init_load(AMOUNT) if atc == "online" else host.init_purchase(AMOUNT)
        state[f"{atc} ATC"] = expect(init, SW.OK, f"INITIALIZE (to read the {atc} ATC)").data[4:6]
        return state

    points, problems = _tear_each_point(card, prepare, command, read_back)
    assert not problems, f"of {points} tear points of {what}: " + "; ".join(problems)
