"""`ykt simulate`: the summary table, results.json and the charts; usage errors exit 64."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from simulator.profile import national

YKT = [sys.executable, "-m", "conformance.cli"]


def ykt(*args, cwd=None):
    return subprocess.run([*YKT, *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ, COLUMNS="200"))


def test_simulate_prints_the_table_and_writes_results_and_charts(tmp_path):
    done = ykt("simulate", "library-gate", "--replications", "2", "--workers", "0", "--seed", "5",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "library-gate: 2 replication(s), root seed 5" in done.stdout
    assert "entrance" in done.stdout and "conserved" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["summary"]["replications"] == 2 and len(results["replications"]) == 2
    site = results["summary"]["sites"]["entrance"]
    per_rep = [r["sites"]["entrance"]["throughput_per_hour"] for r in results["replications"]]
    assert site["throughput_per_hour"]["mean"] == pytest.approx(sum(per_rep) / 2)
    for chart in ("queue_over_day", "wait_over_day", "throughput_per_server", "wait_distribution"):
        assert (tmp_path / f"{chart}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_scenario_is_refused_in_one_line_listing_the_scenarios():
    done = ykt("simulate", "metro-rush")
    assert done.returncode == 64
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown scenario 'metro-rush'" in lines[0]
    assert all(name in lines[0] for name in sorted(national().scenarios))


def test_simulate_runs_the_reference_terminals_with_full_logic(tmp_path):
    done = ykt("simulate", "library-gate", "--replications", "1", "--workers", "0", "--fidelity", "full_logic",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr  # the library gate has no reference terminal: it stays sampled
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert "fidelity" not in results["scenario"]["sites"][0]
    done = ykt("simulate", "bus-line", "--replications", "1", "--workers", "0", "--fidelity", "full_logic",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["scenario"]["sites"][0]["fidelity"] == "full_logic"
    assert results["summary"]["sites"]["front-door"]["money_conserved"]


@pytest.mark.parametrize("args", [["--replications", "0"], ["--workers", "-1"], ["--seed", "x"],
                                  ["--fidelity", "approximate"]])
def test_bad_options_exit_64(args):
    assert ykt("simulate", "metro-peak", *args).returncode == 64


def test_a_regions_scenario_runs_with_its_region_and_only_with_it(tmp_path):
    done = ykt("simulate", "guangdong-metro-mix", "--region", "guangdong", "--replications", "1", "--workers", "0",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(results["summary"]["sites"]) == {"entry", "exit"}
    refused = ykt("simulate", "guangdong-metro-mix")
    assert refused.returncode == 64 and "unknown scenario 'guangdong-metro-mix'" in refused.stderr
