"""The card suite's power: it passes the reference card and fails every card mutant with a clause
(the same through a real PC/SC reader: tests/test_card_real.py).

Each run is the suite as a vendor starts it, in a subprocess with `--yikatong-results`; the
simulated runs go two at a time in the background, started when the module's first test asks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.mutants.cards import MUTANTS

ROOT = Path(__file__).resolve().parents[1]
SUITE = "conformance/suites/card"
#: tests that need what a simulated card offers (persona_choice, tear_control) or block the card:
#: they must run (and pass) on the reference
SIMULATOR_ONLY = ("test_atomicity.py", "test_differential.py", "test_wrong_pins_count_down",
                  "test_verify_spends_the_try_before_it_compares")


def run_suite(spec: str, out: Path, *extra: str) -> tuple[list[dict], str]:
    """Run the card suite against `spec`; returns its verdicts and its output."""
    results = out / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", SUITE, "--dut", spec, "--yikatong-results", str(results), "-q",
         "-p", "no:cacheprovider", "-p", "no:randomly", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    output = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert results.exists(), f"the suite wrote no results for {spec}:\n{output}"
    return json.loads(results.read_text(encoding="utf-8")), output


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Future]:
    """The suite against the reference card and each card mutant, two runs at a time."""
    specs = ["sim"] + [f"sim:mutant={m.name}" for m in MUTANTS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {spec: pool.submit(run_suite, spec, tmp_path_factory.mktemp("card-suite")) for spec in specs}


def _by_verdict(verdicts: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for v in verdicts:
        out.setdefault(v["verdict"], []).append(v)
    return out


def test_the_reference_card_passes(runs):
    verdicts, output = runs["sim"].result()
    groups = _by_verdict(verdicts)
    bad = groups.get("fail", []) + groups.get("broken", [])
    assert not bad, "the reference card must pass:\n" + "\n".join(f"{v['nodeid']}: {v['message']}" for v in bad)
    assert all(v["clause"] for v in verdicts), "every test of the suite names its clause"
    assert len(groups.get("pass", [])) >= 40, output
    skipped = [v["nodeid"] for v in groups.get("not_applicable", []) if any(s in v["nodeid"] for s in SIMULATOR_ONLY)]
    assert not skipped, f"the simulator offers persona_choice and tear_control, yet these did not run: {skipped}"
    print(f"card suite on the reference card: {len(verdicts)} tests, "
          f"{sum(v['seconds'] for v in verdicts):.2f} s in tests")


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_card_mutant_is_caught_by_a_fail_with_a_clause(runs, mutant):
    verdicts, output = runs[f"sim:mutant={mutant.name}"].result()
    groups = _by_verdict(verdicts)
    assert not groups.get("broken"), f"{mutant.name} broke the suite (harness error, not a verdict):\n" + \
        "\n".join(f"{v['nodeid']}: {v['message']}" for v in groups["broken"])
    caught = [v for v in groups.get("fail", []) if v["clause"]]
    assert caught, f"no test fails {mutant.name} ({mutant.defect}):\n{output}"
    print(f"{mutant.name}: caught by " + ", ".join(f"{v['clause']} {v['nodeid'].split('::')[-1]}" for v in caught))


def test_mutation_score(runs):
    caught = 0
    for mutant in MUTANTS:
        verdicts, _ = runs[f"sim:mutant={mutant.name}"].result()
        caught += any(v["verdict"] == "fail" and v["clause"] for v in verdicts)
    print(f"card suite mutation score: {caught}/{len(MUTANTS)}")
    assert len(MUTANTS) >= 6
    assert caught == len(MUTANTS)
