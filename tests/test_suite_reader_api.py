"""The reader_api suite's proof of power: the reference reader passes, every reader mutant fails,
and the native C library (conformance/native/sscard.c) is certified through `lib:` over the real
PC/SC stack.

Each run is `pytest conformance/suites/reader_api --dut <spec>` in a subprocess (without the
Hypothesis plugin: it is half of a run's start-up and the suite does not use it), judged from its
`--yikatong-results` JSON. The mutant runs go one per core, are judged one test each, and the
mutation score is printed.

The PC/SC tests share the session's pcscd (tests/conftest.py): the library reads a card laid in
a vpcd slot by `vpcd_slot`, then the whole suite runs through `lib:` with `pcscd=external`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.mutants import all_mutants
from conformance.native.build import build
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.profile import national

ROOT = Path(__file__).resolve().parent.parent
SUITE = "conformance/suites/reader_api"
READER_MUTANTS = sorted(name for name, m in all_mutants().items() if m.role == "reader")


def run_suite(spec: str, results: Path, *dut_info: str) -> list[dict]:
    """Run the suite against `spec`; the verdicts it wrote (an error with the output if none)."""
    info = [arg for pair in dut_info for arg in ("--dut-info", pair)]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", SUITE, "--dut", spec, "--yikatong-results", str(results), "-q",
         "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest", *info],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if not results.exists():
        raise AssertionError(f"the suite wrote no results for {spec} (exit {done.returncode}):\n{done.stdout}\n"
                             f"{done.stderr}")
    return json.loads(results.read_text(encoding="utf-8"))


def by_verdict(verdicts: list[dict], verdict: str) -> list[str]:
    return [f"{v['nodeid']} [{v['clause']}] {v['message']}" for v in verdicts if v["verdict"] == verdict]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> list[dict]:
    return run_suite("sim", tmp_path_factory.mktemp("reader-sim") / "sim.json")


def test_every_test_names_a_reader_api_clause(reference_run):
    catalogue = national().clauses
    assert reference_run, "the suite ran no test"
    assert all(v["clause"] in catalogue and catalogue[v["clause"]]["part"] == "reader_api" for v in reference_run)
    covered = {v["clause"] for v in reference_run}
    declared = {cid for cid, c in catalogue.items() if c["part"] == "reader_api"}
    assert declared <= covered, f"reader_api clauses without a test: {sorted(declared - covered)}"


def test_the_reference_reader_passes(reference_run):
    problems = by_verdict(reference_run, "fail") + by_verdict(reference_run, "broken")
    assert not problems, problems
    # the reference declares hsm and pin_entry: nothing of the suite is left out for it
    assert not by_verdict(reference_run, "not_applicable")


@pytest.fixture(scope="module")
def mutant_runs(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("reader-mutants")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = {name: pool.submit(run_suite, f"sim:mutant={name}", folder / f"{name}.json")
                for name in READER_MUTANTS}
        return {name: run.result() for name, run in runs.items()}


def test_there_are_reader_mutants():
    assert len(READER_MUTANTS) >= 3


@pytest.mark.parametrize("name", READER_MUTANTS)
def test_the_suite_fails_the_mutant(mutant_runs, name):
    verdicts = mutant_runs[name]
    failed = [v for v in verdicts if v["verdict"] == "fail"]
    assert failed, f"mutant {name} ({all_mutants()[name].defect}) passed the reader_api suite"
    assert all(v["clause"] for v in failed)
    assert not by_verdict(verdicts, "broken"), by_verdict(verdicts, "broken")
    print(f"{name}: caught by {sorted({v['clause'] for v in failed})}")


def test_mutation_score(mutant_runs):
    caught = [name for name, verdicts in mutant_runs.items() if any(v["verdict"] == "fail" for v in verdicts)]
    print(f"reader_api mutation score: {len(caught)}/{len(mutant_runs)}")
    for name, verdicts in sorted(mutant_runs.items()):
        print(f"  {name}: {sorted({v['clause'] for v in verdicts if v['verdict'] == 'fail'})}")
    assert len(caught) == len(mutant_runs)


# -- the native library through the real PC/SC stack ------------------------------------------
@pytest.fixture(scope="module")
def native_library(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("native"))


@pytest.mark.pcsc
@pytest.mark.timeout(60)
def test_the_native_library_reads_a_card_in_a_vpcd_slot(native_library, vpcd_slot, monkeypatch):
    from conformance.adapters.lib import READER_ENV, LibReader
    from simulator.clock import AS_OF

    reader_name, _ = vpcd_slot(CardOS(personas.image("normal", as_of=AS_OF)))
    monkeypatch.setenv(READER_ENV, reader_name)  # restored afterwards (LibReader exports the reader name)
    reader = LibReader(str(native_library), info={"reader": reader_name, "pcscd": "external"}, profile=national())
    code, out = reader.call("iReadCardBas", 1)
    ident = personas.resolve("normal", as_of=AS_OF).values["card_identifier"].hex().upper()
    assert code == 0
    assert out.startswith(f"{ident[:6]}|||{ident}||") and out.endswith("|000000000000|YKTLIB000001|")


@pytest.mark.pcsc
@pytest.mark.timeout(90)
def test_the_native_library_is_certified_through_lib(native_library, pcscd, tmp_path):
    verdicts = run_suite(f"lib:{native_library}", tmp_path / "lib.json", "pcscd=external",
                         f"reader={pcscd.reader(0)}", f"vpcd_port={pcscd.port}")
    problems = by_verdict(verdicts, "fail") + by_verdict(verdicts, "broken")
    assert not problems, problems
    passed = {v["clause"] for v in verdicts if v["verdict"] == "pass"}
    # no HSM in the C library: its HSM clauses are not applicable, everything else passes
    assert by_verdict(verdicts, "not_applicable")
    assert {"READER-FMT-001", "READER-PRIV-001", "READER-ERR-001", "READER-ERR-002", "READER-PIN-002"} <= passed
