"""The terminal suite's power: it passes every reference terminal and fails every terminal mutant.

The suite runs as a vendor would run it (`pytest conformance/suites/terminal --dut SPEC`), in a
subprocess per DUT, all of them started at once on the machine's cores; each test below judges one
run's verdicts. A mutant counts as caught when the clause its defect breaks gets a `fail` (a
product defect), never a `broken` (a harness or link failure). Then the suite's own parts: its
fare oracle against the profile's table read by hand, its transaction time against a test clock,
and its blame (an assertion inside an adapter is *broken*, the suite's own is *fail*).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.adapters import sim
from conformance.dut import RecordingCard
from conformance.mutants import all_mutants
from conformance.suites.terminal._timing import real_card, transaction_time
from conformance.suites.terminal.oracle import Oracle
from simulator.card.interface import EchoCard
from simulator.clock import Clock
from simulator.profile import build, load, national

#: the module's first test waits for every run (the reference and 30 mutants: two to four minutes on two busy cores)
pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[1]
SUITE = "conformance/suites/terminal"
MUTANTS = sorted(name for name, m in all_mutants().items() if m.role == "terminal" and not m.suite and not m.region)

#: mutant -> the clause whose test must fail on it (the defect it was seeded with)
CAUGHT_BY = {
    "bus_skips_expiry": "TERM-VAL-001",
    "bus_charges_not_yet_valid": "TERM-VAL-002",
    "gate_ignores_blacklist": "TERM-BL-001",
    "bus_ignores_9303": "TERM-LOCK-001",
    "bus_lets_low_balance_through": "TERM-FUND-001",
    "gate_fines_missing_entry": "TERM-DEBIT-001",
    "bus_accepts_bad_mac2": "TERM-MAC-001",
    "gate_ignores_tac": "TERM-TAC-001",
    "bus_forgets_torn_debit": "TERM-TEAR-001",
    "bus_loses_pre_balance": "TERM-TEAR-002",
    "bus_records_less_than_debited": "TERM-MONEY-001",
    "gate_records_more_than_debited": "TERM-MONEY-001",
    "gate_full_fare_elderly": "TERM-CONC-001",
    "gate_next_fare_band": "TERM-METRO-001",
    "scenic_entitles_everyone": "TERM-SCENIC-001",
    "bus_reads_cardholder": "TERM-PRIV-001",
    "scenic_reads_name": "TERM-PRIV-002",
    "scenic_tries_pin": "TERM-PRIV-003",
    "scenic_records_visitor": "TERM-PRIV-004",
    "bus_rereads_trip_log": "TERM-TIME-001",
    "bus_stalls_before_debit": "TERM-TIME-001",
    "gate_selects_by_fid": "TERM-SEL-001",
    "pos_first_ppse_entry": "TERM-SEL-003",
    "pos_trusts_gpo": "TERM-POS-002",
    "pos_sends_tc_online": "TERM-POS-001",
    "scenic_accepts_replayed_code": "TERM-ECODE-002",
    "bus_ignores_code_window": "TERM-ECODE-003",
    "scenic_skips_code_signature": "TERM-ECODE-004",
    "scenic_ignores_code_blacklist": "TERM-ECODE-005",
    "bus_takes_test_keys": "TERM-ECODE-006",
}


def run_suite(spec: str, results: Path) -> tuple[list[dict], str, float]:
    """Run the suite against `spec`: (verdicts, pytest's output, seconds)."""
    command = [sys.executable, "-m", "pytest", SUITE, "--dut", spec, "--yikatong-results", str(results), "-q",
               "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    if not results.exists():
        raise RuntimeError(f"the suite wrote no results for {spec}:\n{done.stdout}\n{done.stderr}")
    return json.loads(results.read_text(encoding="utf-8")), done.stdout + done.stderr, seconds


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[list[dict], str, float]]:
    """Every run at once: the reference terminals and each terminal mutant."""
    where = tmp_path_factory.mktemp("terminal-suite")
    specs = {"sim": "sim", **{name: f"sim:mutant={name}" for name in MUTANTS}}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(run_suite, spec, where / f"{name}.json") for name, spec in specs.items()}
        return {name: future.result() for name, future in futures.items()}


def _bad(verdicts: list[dict]) -> list[str]:
    return [f"{v['verdict']} {v['clause']} {v['nodeid']}: {v['message']}" for v in verdicts
            if v["verdict"] in ("fail", "broken")]


def test_the_reference_terminals_pass_every_clause(runs):
    verdicts, output, seconds = runs["sim"]
    print(f"\nterminal suite against the reference terminals: {len(verdicts)} verdicts in {seconds:.1f} s")
    assert not _bad(verdicts), "\n".join(_bad(verdicts)) + "\n" + output[-3000:]
    passed = {v["clause"] for v in verdicts if v["verdict"] == "pass"}
    terminal_clauses = {cid for cid, c in national().clauses.items() if c["part"] == "terminal"}
    assert terminal_clauses <= passed, f"clauses no reference terminal passed: {sorted(terminal_clauses - passed)}"
    assert all(v["clause"] for v in verdicts), "a test of the suite names no clause"


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_terminal_mutant_is_caught_by_its_clause(runs, mutant):
    verdicts, output, _ = runs[mutant]
    failed = sorted({v["clause"] for v in verdicts if v["verdict"] == "fail"})
    broken = [v for v in verdicts if v["verdict"] == "broken"]
    assert not broken, f"{mutant} broke the suite (harness or link error, not a verdict):\n" + "\n".join(_bad(broken))
    assert failed, f"{mutant} ({all_mutants()[mutant].defect}) passed the terminal suite:\n{output[-3000:]}"
    assert CAUGHT_BY.get(mutant) in failed, (
        f"{mutant} was caught by {failed}, not by {CAUGHT_BY.get(mutant)}, the clause its defect breaks")


def test_mutation_score(runs):
    caught = [m for m in MUTANTS if any(v["verdict"] == "fail" and v["clause"] for v in runs[m][0])]
    slowest = max(runs[m][2] for m in MUTANTS)
    print(f"\nterminal suite mutation score: {len(caught)}/{len(MUTANTS)} "
          f"(slowest mutant run {slowest:.1f} s)")
    for m in MUTANTS:
        clauses_failed = sorted({v["clause"] for v in runs[m][0] if v["verdict"] == "fail"})
        print(f"  {m:32} {', '.join(clauses_failed) or 'NOT CAUGHT'}")
    assert len(MUTANTS) >= 12
    assert set(CAUGHT_BY) == set(MUTANTS), "every terminal mutant names the clause that must catch it"
    assert caught == MUTANTS


def test_every_terminal_mutant_is_one_defective_reference_terminal():
    kinds = load("national/ics", "ics")["terminal_kinds"]
    for name in MUTANTS:
        mutant = all_mutants()[name]
        assert mutant.kind in kinds and mutant.defect, name
        terminal = mutant.build(clock=Clock(), blacklist=sim.blacklist(national()))
        reference = sim.REFERENCE_TERMINALS[mutant.kind](clock=Clock(), blacklist=sim.blacklist(national()))
        assert isinstance(terminal, type(reference)), f"{name} is not a {type(reference).__name__}"




# -- the suite's own parts ---------------------------------------------------------------------
def test_the_fare_oracle_reads_the_profile_table():
    """Expected fares worked out by hand from terminals.yaml `metro` (stations at 0, 2.5, 5.8, 9.4,
    14.0, 21.7, 33.2 km; bands 6/12/22/32 km at 3/4/5/6 CNY; +1 CNY per 20 km begun beyond)."""
    hand = {("0101", "0102"): 300, ("0102", "0101"): 300, ("0101", "0104"): 400, ("0101", "0105"): 500,
            ("0103", "0106"): 500, ("0101", "0106"): 500, ("0102", "0107"): 600, ("0101", "0107"): 700}
    oracle = Oracle(national())
    assert {pair: oracle.metro_fare(*pair) for pair in hand} == hand
    assert [oracle.concession_fare(333, t, "410200") for t in ("01", "02", "03", "99")] == [333, 166, 0, 333]
    sichuan = Oracle(build("national", "sichuan"))  # residents and Chongqing's cards only (SC-XR-001)
    assert [sichuan.concession_fare(333, "03", d) for d in ("510100", "510700", "500000", "410200")] == [0, 0, 0, 333]
    ages = (65, 64, 5, 6)
    assert [oracle.entitled(age, "410200") for age in ages] == [True, False, True, False]
    kaifeng = Oracle(build("national", "kaifeng"))  # its own residents free from 60 (scenic.local_residents)
    assert [kaifeng.entitled(age, "410200") for age in (60, 59)] == [True, False]
    assert [kaifeng.entitled(age, "330300") for age in (65, 62)] == [True, False], "a visitor: the national age"
    assert oracle.purchase_limit().ms == 400


def test_the_oracle_refuses_a_kind_that_may_record_undeclared_evidence():
    terminals = national()["terminals"]
    rules = {**terminals["minimisation"], "bus": {**terminals["minimisation"]["bus"], "decision_evidence": ["photo"]}}
    profile = dataclasses.replace(national(), documents={**national().documents,
                                                         "terminals": {**terminals, "minimisation": rules}})
    with pytest.raises(ValueError, match=r"minimisation.bus.decision_evidence names \['photo'\]"):
        Oracle(profile).record_rule("bus")


def test_transaction_time_is_measured_at_the_card_not_taken_from_the_terminal():
    """Two exchanges the card answers in 2 and 3 ms, the terminal stalling 498 ms between them and
    claiming 50 ms: judged on the stall plus a real card's modelled time."""
    ticks = iter([10.000, 10.002, 10.500, 10.503])
    recorder = RecordingCard(EchoCard(), clock=lambda: next(ticks))
    for command in ("00A4040008A000000632010105", "805C000204"):
        recorder.transmit(bytes.fromhex(command))
    took = transaction_time(recorder.presentation({"modelled_ms": 50.0}), real_card(national()))
    assert recorder.timeline == [10.000, 10.500]
    assert (round(took.span_ms, 6), round(took.card_computing_ms, 6), round(took.terminal_ms, 6)) == (503, 5, 498)
    assert 0 < took.card_modelled_ms < 50 and took.judged_ms == took.terminal_ms + took.card_modelled_ms
    assert took.judged_ms > Oracle(national()).purchase_limit().ms
    slower = transaction_time(recorder.presentation({"modelled_ms": 900.0}), real_card(national()))
    assert slower.judged_ms == 900  # a slower claim counts


#: a lab's DUT adapter (`-p`) with two terminals: one whose adapter code asserts, one that transacts nothing
LAB_ADAPTER = """
from conformance.dut import DUT, Presentation

RECORD = {"terminal": "t", "reason": "NO_APPLICATION", "accepted": False, "amount": 0, "fare": 0, "debited": 0,
          "loaded": 0, "balance_after": None, "card": "", "detail": "", "evidence": {}, "modelled_ms": None,
          "wall_ms": None}


class LabTerminal:
    kind = "bus"
    capabilities = frozenset({"purse"})

    def __init__(self, name):
        self.name = name

    def present(self, card):
        assert self.name != "asserts", "the adapter's own sanity check"
        return Presentation(dict(RECORD), [], [])


def pytest_yikatong_make_dut(config, spec, info):
    if spec == "lab:two":
        return DUT(name="lab", terminals={n: LabTerminal(n) for n in ("asserts", "silent")})
"""


def test_an_assertion_inside_an_adapter_is_broken_and_the_suites_own_is_fail(tmp_path):
    (tmp_path / "lab_adapter.py").write_text(LAB_ADAPTER)
    results = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "pytest", SUITE, "-k", "test_the_purse_is_selected_by_its_aid",
                    "--dut", "lab:two", "-p", "lab_adapter", "--yikatong-results", str(results), "-q",
                    "-p", "no:cacheprovider", "-p", "no:randomly"], cwd=ROOT, capture_output=True, text=True,
                   timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    verdicts = {v["nodeid"].rpartition("[")[2].rstrip("]"): v for v in json.loads(results.read_text())}
    assert verdicts["asserts"]["verdict"] == "broken", verdicts["asserts"]
    assert "sanity check" in verdicts["asserts"]["message"]
    assert (verdicts["silent"]["verdict"], verdicts["silent"]["clause"]) == ("fail", "TERM-SEL-001"), verdicts["silent"]
