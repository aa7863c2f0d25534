"""A metro gate's throughput in its station's gate array (THR-*): the gate's transaction times as
the harness measured them (_measure.py), the profile's human times, the SimPy world's site model
(_model.py), verdicts from confidence intervals over replications, the charts and the measured
distribution attached as evidence."""

from __future__ import annotations

import pytest

from conformance.evidence import attach_json
from conformance.verdicts import not_tested
from simulator.world.measured import UNREACHABLE

from . import _model
from ._limits import GateLimits
from ._measure import summary, taps

NEED = "more replications (throughput.yaml replications) or a larger sample (cards_per_persona)"


def settle(experiment: _model.Experiment, limit: float, *, at_least: bool, gate: GateLimits, who: str) -> None:
    """Pass, fail or leave unjudged by where the interval lies against `limit`."""
    verdict = experiment.judged(limit, at_least=at_least)
    side = "at least" if at_least else "at most"
    said = (f"{who}: {experiment.what}: mean {experiment.interval.mean:.1f}, {experiment.confidence:.0%} interval "
            f"{experiment.interval.low:.1f}-{experiment.interval.high:.1f} over {experiment.interval.n} replications; "
            f"the clause asks {side} {limit:.1f} ({gate.scenario.name} site {gate.site.name})")
    if verdict == _model.UNDECIDED:
        not_tested(f"the interval straddles the limit: {said}", need=NEED)
    assert verdict == _model.PASS, said


def attach(gate: GateLimits, observed, *experiments: _model.Experiment, charts: bool, in_process: bool) -> None:
    attach_json("measured transaction times (harness)", summary(observed, in_process=in_process))
    attach_json("limits (profile)", gate.as_evidence())
    for experiment in experiments:
        attach_json(f"site model: {experiment.what}", experiment.as_evidence())
        if charts:
            experiment.attach_charts(experiment.what)


@pytest.mark.clause("THR-GATE-001")
def test_a_saturated_gate_array_sustains_the_gates_throughput(dut, terminal, gate, observed, seed, charts):
    experiment = _model.saturated(gate, taps(observed), seed=seed)
    attach(gate, observed, experiment, charts=charts, in_process=dut.simulated)
    settle(experiment, gate.sustained_pph, at_least=True, gate=gate, who=terminal.name)


@pytest.mark.clause("THR-WAIT-001")
def test_the_95th_percentile_wait_at_the_design_peak_stays_within_the_limit(dut, terminal, gate, observed, seed,
                                                                              charts):
    experiment = _model.design_peak(gate, taps(observed), seed=seed)
    attach(gate, observed, experiment, charts=charts, in_process=dut.simulated)
    settle(experiment, gate.p95_wait_max_s, at_least=False, gate=gate, who=terminal.name)


@pytest.mark.clause("THR-OUT-001")
def test_with_the_platform_unreachable_the_gate_decides_by_its_own_list_and_keeps_admitting(dut, terminal, gate,
                                                                                             observed, seed, charts):
    down = [o for o in observed if o.state == UNREACHABLE]
    if not down:
        not_tested(f"{terminal.name} could not be connected to the platform the harness plays",
                   need="a terminal the harness can point at its own platform and cut it off (harness facility "
                        "platform_control: the control protocol's PUT /platform)")
    experiment = _model.saturated(gate, taps(observed), seed=seed, platform_down=True)
    day = [_model.outage_day(gate, taps(observed), seed=seed)] if charts else []
    attach(gate, observed, experiment, *day, charts=charts, in_process=dut.simulated)
    wrong = sorted({f"{o.persona} {o.reason}" for o in down if o.accepted != gate.admits(o.persona)})
    assert not wrong, (f"{terminal.name} with the platform unreachable decided {', '.join(wrong)}; its own blacklist "
                       f"decides then: {', '.join(p for p in gate.site.personas.names if gate.admits(p))} admitted, "
                       f"the rest refused (national/world.yaml)")
    settle(experiment, gate.outage_pph, at_least=True, gate=gate, who=terminal.name)
