"""The integration suite's power: it fails every seeded-defect department on the clause its defect
breaks (that it passes the three reference departments, tests/test_departments.py shows through
`ykt certify`).

The suite runs as an integrator would run it (`pytest conformance/suites/integration --dut SPEC`),
in a subprocess per DUT, a few at once, each on the tests of the clause it was seeded against (the
clause's tests as `ykt clauses --coverage` finds them); a mutant counts as caught only by a `fail`
there, never a `broken`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.certify import named_clauses
from conformance.mutants import all_mutants

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suites" / "integration"

#: mutant -> the clause whose tests must fail on it
CAUGHT_BY = {
    "library_acks_unsigned_callbacks": "DEPT-CB-004",
    "hospital_trusts_any_signature": "DEPT-CB-005",
    "subsidy_accepts_stale_callbacks": "DEPT-CB-006",
    "library_applies_repeats": "DEPT-CB-002",
    "hospital_applies_older_events": "DEPT-CB-003",
    "subsidy_compares_with_last_event": "DEPT-CB-007",
    "library_ignores_retry_after": "DEPT-RETRY-001",
    "hospital_retries_4xx": "DEPT-RETRY-002",
    "subsidy_new_event_id_per_retry": "DEPT-IDEM-001",
    "library_keeps_birth_date": "DEPT-PURP-002",
    "library_serves_lost_cards": "DEPT-CARD-001",
    "library_refuses_only_lost": "DEPT-CARD-002",
    "hospital_signs_with_old_key": "DEPT-SIGN-001",
    "subsidy_stamps_ten_minutes_late": "DEPT-SIGN-002",
    "library_fetches_blacklist": "DEPT-PURP-001",
}


def clause_tests(clause: str) -> list[str]:
    named, _ = named_clauses(SUITE.parent)
    return sorted({str(SUITE.parent / location.split("::")[0]) + "::" + location.split("::")[1]
                   for location in named[clause] if location.startswith("integration/")})


def run_suite(spec: str, selection: list[str], results: Path) -> tuple[list[dict], str]:
    command = [sys.executable, "-m", "pytest", *selection, "--dut", spec, "--yikatong-results", str(results), "-q",
               "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not results.exists():
        raise RuntimeError(f"the suite wrote no results for {spec}:\n{done.stdout}\n{done.stderr}")
    return json.loads(results.read_text(encoding="utf-8")), done.stdout + done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[list[dict], str]]:
    folder = tmp_path_factory.mktemp("integration")
    jobs = {f"sim:mutant={name}": clause_tests(clause) for name, clause in CAUGHT_BY.items()}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {spec: pool.submit(run_suite, spec, selection, folder / f"{i}.json")
                   for i, (spec, selection) in enumerate(jobs.items())}
        return {spec: future.result() for spec, future in futures.items()}


def test_every_department_mutant_has_its_clause():
    mutants = {name for name, m in all_mutants().items() if m.role == "department" and not m.region}
    assert mutants == set(CAUGHT_BY), f"mutants without a clause here, or names here without a mutant: " \
                                      f"{sorted(mutants ^ set(CAUGHT_BY))}"
    assert len(mutants) >= 10


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_each_seeded_defect_fails_on_its_clause(runs, mutant):
    results, output = runs[f"sim:mutant={mutant}"]
    clause = CAUGHT_BY[mutant]
    verdicts = [r["verdict"] for r in results if r["clause"] == clause]
    assert "fail" in verdicts, f"{mutant} was not failed on {clause}: {verdicts}\n{output[-3000:]}"
    assert "broken" not in verdicts, f"{mutant}: a test of {clause} broke instead of judging\n{output[-3000:]}"
