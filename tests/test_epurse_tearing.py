"""Purse tearing (PURSE-NVM-001, PURSE-PROVE-001): power lost at every fault point of every value command.

For load, purchase and composite purchase (and the log wrapping, and both CAPP files at once):
bring a fresh card to just before the value command (INITIALIZE, UPDATE CAPP DATA CACHE), count
the command's fault-point hits with an unarmed plan, then for each hit cut the power there,
power up and check, through the card's own answers and in NVM, that balance, ATC, 0x18 log,
0x1E/0x1A records and the transaction proof are all-old or all-new together, and that money is
conserved: balance = initial + loads - debits in the log. When the commit happened,
GET TRANSACTION PROVE gives the MAC2 and TAC the terminal never received.

`NonAtomicNVM` (a driver that writes values in place, no journal) shows the check has teeth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from test_epurse import LOAD, TRIP, PurseTerminal, lc, log

from conformance.mutants.cards import NonAtomicNVM
from simulator.apdu import SW, ResponseAPDU
from simulator.card.nvm import NVM
from simulator.faults import PowerLost

pytestmark = [pytest.mark.clause("PURSE-NVM-001"), pytest.mark.clause("PURSE-PROVE-001")]

#: At least this many tear cases over all commands; each NVM write has 5 + pages fault points.
FLOOR = 100


def purchase(amount: int, *, earlier: int = 0) -> Callable[[PurseTerminal], str]:
    def prepare(t: PurseTerminal) -> str:
        for n in range(earlier):
            assert t.purchase(n + 1).sw == SW.OK
        return t.debit_apdu(t.init_purchase(amount).data, amount)

    return prepare


def composite(amount: int, *, linear: bool = False) -> Callable[[PurseTerminal], str]:
    def prepare(t: PurseTerminal) -> str:
        init = t.init_purchase(amount, composite=True).data
        t.ok("80DC00F0" + lc(TRIP))
        if linear:
            t.ok("80DC02D0" + lc(bytes.fromhex("27037D") + b"\x5A" * 125))
        return t.debit_apdu(init, amount, composite=True)

    return prepare


def load(amount: int) -> Callable[[PurseTerminal], str]:
    return lambda t: t.credit_apdu(t.init_load(amount).data, amount)


@dataclass(frozen=True)
class ValueCase:
    name: str
    persona: str
    prepare: Callable[[PurseTerminal], str]
    proof_p2: int
    answer_length: int

    def terminal(self, nvm: type[NVM] = NVM) -> tuple[PurseTerminal, str]:
        t = PurseTerminal(self.persona, nvm=nvm)
        return t, self.prepare(t)


CASES = [
    ValueCase("purchase", "transit", purchase(250), 0x06, 8),
    ValueCase("purchase into the overdraft", "transit", purchase(5600), 0x06, 8),
    ValueCase("purchase, log full (wraps)", "transit", purchase(70, earlier=10), 0x06, 8),
    ValueCase("purchase, SM4", "transit_sm4", purchase(320), 0x06, 8),
    ValueCase("composite purchase, 0x1E", "transit", composite(500), 0x09, 8),
    ValueCase("composite purchase, 0x1E and 0x1A", "transit", composite(0, linear=True), 0x09, 8),
    ValueCase("load", "transit", load(3000), LOAD, 4),
    ValueCase("load, SM4", "transit_sm4", load(1000), LOAD, 4),
]


def observe(t: PurseTerminal) -> dict:
    """What a terminal can see of the purse after power-up (selects it first)."""
    t.ok("00A4040008A000000632010105")
    return {"balance": t.balance(), "log": t.records(0x18), "trips": t.records(0x1E), "capp": t.records(0x1A),
            "atc": t.init_purchase(0).data[4:6], "online_atc": t.init_load(1).data[4:6]}


def conserved(t: PurseTerminal, seen: dict, torn: dict) -> bool:
    """balance = initial + loads - debits: those answered before (the terminal's ledger) and the
    torn one exactly when the card's log holds it (its ATC and type)."""
    initial = t.persona.sections["epurse"]["balance"]
    logged = any((r["atc"], r["type"]) == (torn["atc"], torn["type"]) for r in map(log, seen["log"]))
    delta = (torn["amount"] if torn["type"] == LOAD else -torn["amount"]) if logged else 0
    return seen["balance"] == initial + sum(t.ledger) + delta


def reference(case: ValueCase) -> tuple[dict, dict, dict, dict, ResponseAPDU, dict]:
    """(NVM before, NVM after, seen before, seen after, answer, expected MAC2/TAC) of an untorn run."""
    t, apdu = case.terminal()
    nvm_before = dict(t.card.nvm.data)
    resp = t.send(apdu)
    nvm_after = dict(t.card.nvm.data)
    expected = dict(t.expected)
    before_t, _ = case.terminal()
    return nvm_before, nvm_after, observe(before_t), observe(t), resp, expected


def count_hits(case: ValueCase, nvm: type[NVM] = NVM) -> int:
    t, apdu = case.terminal(nvm)
    start = t.card.faults.total
    t.card.transmit(bytes.fromhex(apdu))
    return t.card.faults.total - start


def tear_everywhere(case: ValueCase, nvm: type[NVM] = NVM) -> tuple[int, list[str], int]:
    """Cut power at each fault point of the value command; (cases, problems, cases that committed)."""
    nvm_before, nvm_after, seen_before, seen_after, resp, expected = reference(case)
    assert resp.sw == SW.OK and len(resp.data) == case.answer_length, f"{case.name}: untorn answer {resp}"
    assert nvm_before != nvm_after
    n = count_hits(case, nvm)
    problems, committed = [], 0
    for i in range(n):
        t, apdu = case.terminal(nvm)
        assert t.card.nvm.data == nvm_before, "preparation must be deterministic"
        t.card.faults.arm(at=t.card.faults.total + i)
        with pytest.raises(PowerLost):
            t.card.transmit(bytes.fromhex(apdu))
        where = f"{case.name}, tear {i}/{n} at {t.card.faults.trail[-1]}"
        t.card.power_up()
        recovered = dict(t.card.nvm.data)
        seen = observe(t)
        if recovered not in (nvm_before, nvm_after):
            changed = sorted(k for k in recovered.keys() | nvm_after.keys()
                             if recovered.get(k) not in (nvm_before.get(k), nvm_after.get(k)))
            problems.append(f"{where}: NVM neither all-old nor all-new (values {changed or 'mixed'})")
        if seen not in (seen_before, seen_after):
            problems.append(f"{where}: the card shows a state between old and new: {seen}")
        if not conserved(t, seen, expected):
            problems.append(f"{where}: money not conserved: balance {seen['balance']}, log {seen['log']}")
        atc = int.from_bytes((seen_before["online_atc"] if case.proof_p2 == LOAD else seen_before["atc"]), "big")
        prove = t.send(f"805A00{case.proof_p2:02X}02{atc + 1:04X}08")
        if seen == seen_after:
            committed += 1
            if prove.data != expected["mac2"] + expected["tac"]:
                problems.append(f"{where}: committed, but GET TRANSACTION PROVE answered {prove}")
        elif prove.sw != SW.MAC_UNAVAILABLE:
            problems.append(f"{where}: not committed, but GET TRANSACTION PROVE answered {prove}")
        t.card.power_down()
        t.card.power_up()
        if t.card.nvm.data != recovered:
            problems.append(f"{where}: a second recovery changed the NVM")
    return n, problems, committed


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_tear_at_every_fault_point_leaves_old_or_new(case):
    n, problems, committed = tear_everywhere(case)
    print(f"{case.name}: {n} tear cases, {committed} after the commit")
    assert n >= 6, "one write passes journal pages, commit, apply pages, clear and done"
    assert 0 < committed < n, "some tears fall before the commit point, some after"
    assert problems == []


def test_number_of_tear_cases_is_above_the_floor():
    total = sum(count_hits(case) for case in CASES)
    print(f"purse tearing: {len(CASES)} value commands, {total} tear cases")
    assert total >= FLOOR


def test_staging_passes_no_fault_point():
    """INITIALIZE and UPDATE CAPP DATA CACHE write nothing: nothing to tear before DEBIT."""
    t = PurseTerminal()
    start = t.card.faults.total
    composite(500, linear=True)(t)
    assert t.card.faults.total == start


@pytest.mark.parametrize("name", ["composite purchase, 0x1E and 0x1A", "purchase, log full (wraps)", "load"])
def test_non_atomic_nvm_is_caught(name):
    case = next(c for c in CASES if c.name == name)
    n, problems, _ = tear_everywhere(case, NonAtomicNVM)
    print(f"{name} on NonAtomicNVM: {n} tear cases, {len(problems)} problems")
    assert any("neither all-old nor all-new" in p for p in problems), problems
    assert any("money not conserved" in p or "between old and new" in p for p in problems), problems
