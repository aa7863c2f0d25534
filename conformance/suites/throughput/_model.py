"""The site-model experiments that judge a gate, and how their intervals become verdicts.

Each experiment runs `replications` independent replications of one site (simulator.world.measured)
with the gate's measured taps, from the run's root seed, and reads one figure per replication:
- `saturated`: the site's gate array flooded with card holders of valid personas (arrivals at twice
  its design capacity, the excess balking), optionally with the platform down throughout: persons
  the gates admitted per hour per gate within the window;
- `design_peak`: the scenario's site as it runs: the 95th percentile of the waits of those who
  arrive in the design-peak window;
- `outage_day`: the outage scenario's site as it runs, for the charts (evidence, not judged).
A verdict is read from the Student-t interval of the figure's mean: wholly on the right side of
the limit passes, wholly on the wrong side fails, astride it is not judged (never a pass).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from conformance.evidence import attach_png
from simulator.world import charts
from simulator.world.arrivals import RateProfile
from simulator.world.measured import Run, Taps, replicate
from simulator.world.metrics import quantile
from simulator.world.stats import Interval, interval

from ._limits import GateLimits

PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"


@dataclass(frozen=True)
class Experiment:
    """One figure over the replications of one experiment, and the runs it was read from."""

    what: str
    values: tuple[float, ...]
    interval: Interval
    runs: tuple[Run, ...]
    bin_s: float
    site: str
    charts: tuple[str, ...]  # of simulator.world.charts: what shows this experiment
    confidence: float  # of the interval (throughput.yaml `confidence`)

    def judged(self, limit: float, *, at_least: bool) -> str:
        low, high = self.interval.low, self.interval.high
        if (low >= limit) if at_least else (high <= limit):
            return PASS
        if (high < limit) if at_least else (low > limit):
            return FAIL
        return UNDECIDED

    def as_evidence(self) -> dict:
        return {"figure": self.what, "per replication": [round(v, 3) for v in self.values],
                "mean": round(self.interval.mean, 3), "interval": [round(self.interval.low, 3),
                                                                   round(self.interval.high, 3)],
                "confidence": self.confidence, "replications": self.interval.n}

    def attach_charts(self, label: str) -> None:
        """Its charts (simulator/world/charts.py) over this experiment's replications."""
        results = [{"sites": {self.site: run.summary}} for run in self.runs]
        with tempfile.TemporaryDirectory() as folder:
            for path in charts.write(results, bin_s=self.bin_s, out=Path(folder), names=self.charts):
                attach_png(f"{label}: {path.stem.replace('_', ' ')}", path.read_bytes())


def _experiment(limits: GateLimits, what: str, runs: list[Run], values: list[float], *, bin_s: float,
                charts: tuple[str, ...]) -> Experiment:
    confidence = limits.throughput["confidence"]
    return Experiment(what, tuple(values), interval(values, confidence=confidence), tuple(runs), bin_s,
                      limits.site.name, charts, confidence)


def admitted_per_gate_hour(run: Run, *, window_s: float, gates: int) -> float:
    admitted = sum(1 for ended, ok in zip(run.ended, run.admitted, strict=True) if ok and ended < window_s)
    return admitted / (window_s / 3600) / gates


def saturated(limits: GateLimits, taps: Taps, *, seed: int, platform_down: bool = False) -> Experiment:
    window = limits.throughput["outage" if platform_down else "sustained"]["window_s"]
    scenario = limits.outage_scenario if platform_down else limits.scenario
    gates = limits.site.servers
    rate = RateProfile([[0, 2 * limits.design_pph * gates]], where="throughput saturation")
    runs = [replicate(scenario, limits.site.name, taps, root_seed=seed, index=i, rate=rate, duration_s=window,
                      personas=limits.valid, cards_only=True, platform_down=platform_down)
            for i in range(limits.throughput["replications"])]
    values = [admitted_per_gate_hour(run, window_s=window, gates=gates) for run in runs]
    down = ", the platform down" if platform_down else ""
    return _experiment(limits, f"persons admitted per hour per gate, {gates} gates saturated with card holders{down}",
                       runs, values, bin_s=scenario.bin_s, charts=("throughput_per_server",))


def design_peak(limits: GateLimits, taps: Taps, *, seed: int) -> Experiment:
    start, end = limits.throughput["design_peak"]["window_s"]
    runs = [replicate(limits.scenario, limits.site.name, taps, root_seed=seed, index=i)
            for i in range(limits.throughput["replications"])]
    values = [quantile(sorted(w for a, w in zip(run.arrived_at, run.waits, strict=True) if start <= a < end), 0.95)
              for run in runs]
    return _experiment(limits, f"95th percentile wait (s) of those arriving {start:g}-{end:g} s into "
                               f"{limits.scenario.name}",
                       runs, values, bin_s=limits.scenario.bin_s, charts=tuple(charts.CHARTS))


def outage_day(limits: GateLimits, taps: Taps, *, seed: int) -> Experiment:
    scenario = limits.outage_scenario
    runs = [replicate(scenario, limits.site.name, taps, root_seed=seed, index=i)
            for i in range(limits.throughput["replications"])]
    values = [run.summary["wait_p95_s"] for run in runs]
    return _experiment(limits, f"95th percentile wait (s) over {scenario.name}", runs, values, bin_s=scenario.bin_s,
                       charts=("queue_over_day", "wait_over_day", "wait_distribution"))
