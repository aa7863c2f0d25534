"""The throughput suite's power: it passes the reference gates, fails each throughput mutant on the
clause its defect breaks, runs over http: against a gate served by the terminal control protocol,
and calls a DUT whose link breaks *broken*, never pass. Then its parts: the site model against the
saturated-server throughput 3600 / E[S], the verdict read from an interval, and the harness's
measure (never the terminal's own report).

The suite runs as a vendor runs it (`pytest conformance/suites/throughput --dut SPEC`), one pytest
subprocess per DUT, two at a time (the machine has 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from conformance.dut import RecordingCard
from conformance.mutants import all_mutants
from conformance.service import reference_app
from conformance.suites.terminal._timing import real_card
from conformance.suites.throughput import _measure, _model
from conformance.suites.throughput._limits import for_kind
from simulator.backend.loopback import serving
from simulator.card.interface import EchoCard
from simulator.profile import national
from simulator.world.arrivals import RateProfile
from simulator.world.measured import REACHABLE, UNREACHABLE, Tap, replicate
from simulator.world.stats import interval

ROOT = Path(__file__).resolve().parents[1]
SUITE = "conformance/suites/throughput"
CLAUSES = {"THR-GATE-001", "THR-WAIT-001", "THR-OUT-001"}

#: throughput mutant -> the clause whose test must fail on it
CAUGHT_BY = {
    "gate_slow_for_throughput": "THR-GATE-001",
    "gate_blocks_without_platform": "THR-OUT-001",
}

#: a lab's adapter (`-p`): the reference entry gate whose link breaks after its first presentations
BREAKING_ADAPTER = """
from conformance.adapters.sim import REFERENCE_TERMINALS, SimTerminal
from conformance.dut import DUT
from simulator.transport.errors import LinkError


class Breaking(SimTerminal):
    def __init__(self, profile):
        super().__init__("breaking", "gate_entry", REFERENCE_TERMINALS["gate_entry"], profile=profile)
        self.left = 3

    def present(self, card):
        self.left -= 1
        if self.left < 0:
            raise LinkError("the gate's reader stopped answering")
        return super().present(card)


def pytest_yikatong_make_dut(config, spec, info, profile):
    if spec == "lab:breaking":
        return DUT(name="lab", terminals={"breaking": Breaking(profile)})
"""


def run_suite(tag: str, dut: str, where: Path, *extra: str) -> tuple[list[dict], str]:
    results = where / f"{tag}.json"
    done = subprocess.run([sys.executable, "-m", "pytest", SUITE, "--dut", dut, "--yikatong-results", str(results),
                           "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(where)})
    output = done.stdout[-3000:] + done.stderr[-3000:]
    if not results.exists():
        raise RuntimeError(f"the suite wrote no results for {dut}:\n{output}")
    return json.loads(results.read_text(encoding="utf-8")), output


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[list[dict], str]]:
    """The reference gates, each throughput mutant, the served reference and slow gates over http:,
    and a gate whose link breaks: every run at once, two at a time."""
    where = tmp_path_factory.mktemp("throughput-suite")
    (where / "breaking_adapter.py").write_text(BREAKING_ADAPTER)
    with ExitStack() as stack:
        http = {name: stack.enter_context(serving(reference_app(kind, mutant)))
                for name, kind, mutant in (("http", "gate_entry", None),
                                           ("http_slow", None, "gate_slow_for_throughput"),
                                           ("http_blocking", None, "gate_blocks_without_platform"))}
        specs = {"sim": ["sim"], **{m: [f"sim:mutant={m}"] for m in CAUGHT_BY},
                 **{name: [url] for name, url in http.items()},
                 "breaking": ["lab:breaking", "-p", "breaking_adapter"]}
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {tag: pool.submit(run_suite, tag, spec[0], where, *spec[1:]) for tag, spec in specs.items()}
            return {tag: future.result() for tag, future in futures.items()}


def by_clause(verdicts: list[dict], terminal: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for v in verdicts:
        if v["nodeid"].endswith(f"[{terminal}]"):
            found.setdefault(v["clause"], set()).add(v["verdict"])
    return found


@pytest.mark.parametrize("gate", ["gate_entry", "gate_exit"])
def test_the_reference_gates_pass_every_throughput_clause(runs, gate):
    verdicts, output = runs["sim"]
    assert by_clause(verdicts, gate) == {c: {"pass"} for c in CLAUSES}, output
    others = {v["verdict"] for v in verdicts if not v["nodeid"].endswith(("[gate_entry]", "[gate_exit]"))}
    assert others == {"not_applicable"}, "a bus, scenic gate or POS is not judged on a gate array's throughput"


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_each_throughput_mutant_fails_its_clause(runs, mutant):
    verdicts, output = runs[mutant]
    found = by_clause(verdicts, mutant)
    assert "broken" not in set().union(*found.values()), output
    assert found[CAUGHT_BY[mutant]] == {"fail"}, f"{mutant}: {found}\n{output}"
    assert all_mutants()[mutant].suite == "throughput"


def test_every_throughput_mutant_is_named_here():
    assert {n for n, m in all_mutants().items() if m.suite == "throughput"} == set(CAUGHT_BY)


def test_over_http_the_served_gate_passes_and_each_served_mutant_fails_its_clause(runs):
    """A served terminal is pointed at the harness's platform through PUT /platform (the port
    served to it over HTTP): all three clauses are judged, the outage one included."""
    reference, output = runs["http"]
    assert by_clause(reference, "gate_entry") == {c: {"pass"} for c in CLAUSES}, output
    for tag, mutant in (("http_slow", "gate_slow_for_throughput"), ("http_blocking", "gate_blocks_without_platform")):
        verdicts, output = runs[tag]
        assert by_clause(verdicts, "gate_entry")[CAUGHT_BY[mutant]] == {"fail"}, output


def test_a_gate_whose_link_breaks_is_broken_never_pass(runs):
    verdicts, output = runs["breaking"]
    assert {v["clause"]: v["verdict"] for v in verdicts} == {c: "broken" for c in CLAUSES}, output
    assert all("stopped answering" in v["message"] for v in verdicts), output


# -- the suite's parts --------------------------------------------------------------------------------
def test_a_saturated_measured_gate_serves_3600_over_its_mean_service_time():
    """Constant 0.3 s transactions: each gate admits 3600 / (E[human] + 0.3) an hour (a saturated
    server's renewal rate), within the replications' interval."""
    gate = for_kind("gate_entry", national())
    taps = {REACHABLE: {p: (Tap(0.3, 0, "OK"),) for p in gate.site.personas.names}}
    values = [_model.admitted_per_gate_hour(
        replicate(gate.scenario, gate.site.name, taps, root_seed=7, index=i, duration_s=1800, cards_only=True,
                  rate=RateProfile([[0, 30000]], where="test")), window_s=1800, gates=gate.site.servers)
        for i in range(4)]
    expected = 3600 / (gate.human_s + 0.3)
    found = interval(values)
    assert found.low - 2 <= expected <= found.high + 2, (found, expected)


def test_a_run_that_meets_the_platform_down_needs_taps_measured_without_it():
    gate = for_kind("gate_entry", national())
    taps = {REACHABLE: {p: (Tap(0.1, 1, "OK"),) for p in gate.site.personas.names}}
    with pytest.raises(ValueError, match="no unreachable taps"):
        replicate(gate.outage_scenario, gate.site.name, taps, root_seed=1, index=0)
    taps[UNREACHABLE] = {"transit": (Tap(0.1, 1, "OK"),)}
    with pytest.raises(ValueError, match=r"persona\(s\) \['transit_elderly'"):
        replicate(gate.outage_scenario, gate.site.name, taps, root_seed=1, index=0)


@pytest.mark.parametrize(("values", "limit", "at_least", "verdict"), [
    ((10.0, 11.0, 12.0), 5.0, True, _model.PASS), ((10.0, 11.0, 12.0), 20.0, True, _model.FAIL),
    ((10.0, 11.0, 12.0), 11.0, True, _model.UNDECIDED), ((10.0, 11.0, 12.0), 20.0, False, _model.PASS),
    ((10.0, 11.0, 12.0), 5.0, False, _model.FAIL), ((10.0, 11.0, 12.0), 11.5, False, _model.UNDECIDED)])
def test_a_verdict_is_read_from_where_the_interval_lies(values, limit, at_least, verdict):
    experiment = _model.Experiment("figure", values, interval(values), (), 300, "entry", (), 0.95)
    assert experiment.judged(limit, at_least=at_least) == verdict


def test_the_measure_is_the_harness_s_never_the_terminal_s_report():
    """Two exchanges the card answers in 2 and 3 ms with the terminal stalling 498 ms between them,
    claiming 5 ms: in process the modelled link time alone, in another process the stall too."""
    ticks = iter([10.000, 10.002, 10.500, 10.503])
    recorder = RecordingCard(EchoCard(), clock=lambda: next(ticks))
    for command in ("00A4040008A000000632010105", "805C000204"):
        recorder.transmit(bytes.fromhex(command))
    shown = recorder.presentation({"modelled_ms": 5.0, "wall_ms": 5.0})
    card = real_card(national())
    in_process, remote = _measure.timed(shown, in_process=True, card=card), _measure.timed(shown, in_process=False,
                                                                                              card=card)
    assert 0 < in_process < 0.05
    assert remote == pytest.approx(0.498 + in_process)
