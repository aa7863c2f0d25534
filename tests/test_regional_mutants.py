"""Each region's suites fail a device that passes national but breaks the region's rule.

For every regional mutant (conformance/mutants/regional.py) the suite file holding its region's
clause runs three times, as an integrator runs it (`pytest FILE --dut SPEC [--region R]`, a
subprocess each, a few at once; mutants of one region and file share the reference run): the
reference devices for the region pass every test of it; the mutant for the region fails the
regional clause (a `fail`, never a `broken`); the mutant for the national profile passes every
national test of the same file, so what catches it is the region's rule alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.mutants import all_mutants
from simulator.profile import build, region_names

#: the module's runs (three per regional mutant, a few at once) are its first test's setup
pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "conformance" / "suites"

#: mutant -> (its region's clause, the suite file judging it, the reference DUT of that kind)
CAUGHT_BY = {
    "bus_national_concessions": ("KF-CONC-001", "terminal/test_fares.py", "sim:terminals=bus"),
    "subsidy_pays_inactive_accounts": ("ZZ-FIN-001", "integration/test_client.py", "sim:department=subsidy"),
    "library_registers_once": ("HB-ID-001", "integration/test_client.py", "sim:department=library"),
    "library_returns_first_use_only": ("SC-DR-001", "integration/test_client.py", "sim:department=library"),
    "library_national_blacklist": ("GD-CARD-001", "integration/test_client.py", "sim:department=library"),
    "library_unreported_returns": ("SC-LIB-001", "integration/test_client.py", "sim:department=library"),
    "library_refuses_lost_returns": ("GD-LIB-001", "integration/test_client.py", "sim:department=library"),
    "library_lends_on_registration": ("GD-LIB-001", "integration/test_client.py", "sim:department=library"),
    "bus_national_code_kinds": ("ZZ-CODE-001", "terminal/test_ecode.py", "sim:terminals=bus"),
    "subsidy_pays_any_presented_card": ("GD-CARD-002", "integration/test_client.py", "sim:department=subsidy"),
    "subsidy_pays_any_card_sichuan": ("SC-ID-001", "integration/test_client.py", "sim:department=subsidy"),
    "pos_lets_card_approve_offline": ("ZZ-FIN-002", "terminal/test_pos.py", "sim:terminals=pos"),
    "scenic_national_ages": ("KF-CONC-002", "terminal/test_fares.py", "sim:terminals=scenic"),
    "bus_own_province_concessions": ("SC-XR-001", "terminal/test_fares.py", "sim:terminals=bus"),
    "pos_voucher_skips_pin": ("GD-VOUCH-001", "terminal/test_pos.py", "sim:terminals=pos"),
    "pos_voucher_lost_card": ("GD-VOUCH-002", "terminal/test_pos.py", "sim:terminals=pos"),
    "pos_voucher_any_merchant": ("GD-VOUCH-003", "terminal/test_pos.py", "sim:terminals=pos"),
}


def run(target: str, spec: str, region: str | None, results: Path) -> tuple[list[dict], str]:
    command = [sys.executable, "-m", "pytest", str(SUITES / target), "--dut", spec, "--yikatong-results", str(results),
               *(["--region", region] if region else []),
               "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not results.exists():
        raise RuntimeError(f"{target} on {spec} wrote no results:\n{done.stdout}\n{done.stderr}")
    return json.loads(results.read_text(encoding="utf-8")), done.stdout[-3000:] + done.stderr[-2000:]


def job(mutant: str, run_: str) -> tuple[str, str, str | None]:
    """(suite file, DUT spec, region) of `run_` ("reference", "regional" or "national") for `mutant`:
    mutants of one region judged by one file share their reference run."""
    _clause, target, reference = CAUGHT_BY[mutant]
    region = all_mutants()[mutant].region
    return {"reference": (target, reference, region), "regional": (target, f"sim:mutant={mutant}", region),
            "national": (target, f"sim:mutant={mutant}", None)}[run_]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple[str, str, str | None], tuple[list[dict], str]]:
    """job -> its verdicts and output, every distinct job run once."""
    folder = tmp_path_factory.mktemp("regional")
    jobs = sorted({job(name, run_) for name in CAUGHT_BY for run_ in ("reference", "regional", "national")},
                  key=str)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {j: pool.submit(run, *j, folder / f"{n}.json") for n, j in enumerate(jobs)}
        return {j: future.result() for j, future in futures.items()}


def test_every_regional_mutant_names_its_region_and_clause():
    regional = {name: m for name, m in all_mutants().items() if m.region}
    assert set(regional) == set(CAUGHT_BY)
    assert {m.region for m in regional.values()} == set(region_names()), "each of the regions fails a mutant of its own"
    for name, (clause, _target, _reference) in CAUGHT_BY.items():
        assert clause in build("national", regional[name].region).regional_clauses(), (name, clause)


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_the_regions_reference_devices_pass(runs, mutant):
    results, output = runs[job(mutant, "reference")]
    clause = CAUGHT_BY[mutant][0]
    judged = [r["verdict"] for r in results if r["clause"] == clause]  # one per test (and parameter) of it
    assert judged and set(judged) == {"pass"}, output
    wrong = [(r["clause"], r["verdict"]) for r in results if r["verdict"] not in ("pass", "not_applicable")]
    assert not wrong, f"the reference devices did not pass for {all_mutants()[mutant].region}: {wrong}\n{output}"


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_the_mutant_fails_its_regions_clause_and_nothing_else(runs, mutant):
    results, output = runs[job(mutant, "regional")]
    clause = CAUGHT_BY[mutant][0]
    assert "fail" in [r["verdict"] for r in results if r["clause"] == clause], f"{mutant} passed {clause}\n{output}"
    others = [(r["clause"], r["verdict"]) for r in results if r["clause"] != clause
              and r["verdict"] not in ("pass", "not_applicable")]
    assert not others, f"{mutant} is meant to break only its region's rule: {others}\n{output}"


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_the_mutant_passes_the_national_profile(runs, mutant):
    results, output = runs[job(mutant, "national")]
    assert results and not {r["clause"] for r in results} & set(build("national", all_mutants()[mutant].region)
                                                                  .regional_clauses()), output
    wrong = [(r["clause"], r["verdict"]) for r in results if r["verdict"] not in ("pass", "not_applicable")]
    assert not wrong, f"{mutant} fails the national profile too, so it does not show the region's power: {wrong}"
