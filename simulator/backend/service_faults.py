"""A served back-end's fault plan: latency, errors, outage windows and crash points.

Why: the suites, the fault-injection tests and later the SimPy world must drive a service into
failure the way a real one fails: slow answers (a latency distribution, added after the service
acted, so a client that times out does not know the effect), refused requests (an
error rate: 503 before the service acts), outage windows (503 with Retry-After for a stretch of
time), and crashes (the process killed with SIGKILL at one of the service's named fault points,
`simulator.faults.REGISTRY`, e.g. between applying a request and committing it). Every draw
comes from one generator seeded from the plan's seed and the service's name
(`simulator.seeds.generator`), so a failing run is reproduced from the seed it prints.

A plan is data (JSON or YAML, `ServicePlan.from_dict`):

    latency: {distribution: exponential, mean_ms: 5}    # or fixed {ms}, uniform {low_ms, high_ms}
    error_rate: 0.01                                    # share of requests refused with 503
    outages: [[10, 12.5]]                               # seconds since start: 503 inside each
    crash: {bank.after_commit: 0.001}                   # point -> chance of SIGKILL at each hit

Time is the service's elapsed seconds, read from a clock given at its edge (a served process in
front of real clients); the service's own logic reads none.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.faults import REGISTRY
from simulator.seeds import generator

DISTRIBUTIONS = {
    "fixed": ("ms",),
    "uniform": ("low_ms", "high_ms"),
    "exponential": ("mean_ms",),
}


class PlanError(ValueError):
    """A fault plan that cannot be followed, naming the bad entry."""


def _number(value: object, where: str, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PlanError(f"{where}: want a number in [{low}, {high}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ServicePlan:
    """What can go wrong with a service, and how often; the empty plan is a healthy service."""

    latency: dict = field(default_factory=lambda: {"distribution": "fixed", "ms": 0})
    error_rate: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()
    crash: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, plan: dict) -> ServicePlan:
        if not isinstance(plan, dict):
            raise PlanError(f"a fault plan is a mapping, got {type(plan).__name__}")
        unknown = set(plan) - {"latency", "error_rate", "outages", "crash"}
        if unknown:
            raise PlanError(f"unknown fault plan entries {sorted(unknown)}; known: latency, error_rate, outages, crash")
        latency = plan.get("latency", {"distribution": "fixed", "ms": 0})
        kind = latency.get("distribution") if isinstance(latency, dict) else None
        if kind not in DISTRIBUTIONS:
            raise PlanError(f"latency.distribution: want one of {sorted(DISTRIBUTIONS)}, got {kind!r}")
        if set(latency) - {"distribution"} != set(DISTRIBUTIONS[kind]):
            raise PlanError(f"latency {kind}: want exactly {list(DISTRIBUTIONS[kind])}, got {sorted(latency)}")
        for name in DISTRIBUTIONS[kind]:
            _number(latency[name], f"latency.{name}", high=60_000)
        outages = []
        for n, window in enumerate(plan.get("outages", [])):
            if not isinstance(window, list | tuple) or len(window) != 2:
                raise PlanError(f"outages[{n}]: want [start_s, end_s], got {window!r}")
            start, end = (_number(x, f"outages[{n}]") for x in window)
            if end <= start:
                raise PlanError(f"outages[{n}]: ends at {end} s, not after its start {start} s")
            outages.append((start, end))
        crash = plan.get("crash", {})
        if not isinstance(crash, dict):
            raise PlanError(f"crash: want a mapping point -> chance, got {crash!r}")
        for name, chance in crash.items():
            if name not in REGISTRY:
                raise PlanError(f"crash: unknown fault point {name!r}; known: {sorted(REGISTRY)}")
            _number(chance, f"crash.{name}", high=1)
        return cls(dict(latency), _number(plan.get("error_rate", 0.0), "error_rate", high=1), tuple(outages),
                   {name: float(chance) for name, chance in crash.items()})


def _kill_self(point: str) -> None:
    """SIGKILL this process, saying where on stderr first (the one trace a crash leaves)."""
    sys.stderr.write(f"fault plan: SIGKILL at {point}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class ServiceFaults:
    """A plan in force for one service: draws from `generator(seed, service, "faults")`. A served
    app applies it at its edge with `simulator.backend.fault_middleware.apply_faults`.

    `elapsed()` gives the service's seconds since it started; `kill(point)` ends the process
    (SIGKILL of itself, as a crash: no cleanup, nothing kept beyond what was committed)."""

    def __init__(self, plan: ServicePlan, *, service: str, seed: int, elapsed: Callable[[], float],
                 kill: Callable[[str], None] = _kill_self) -> None:
        self.plan, self.service, self.elapsed, self.kill = plan, service, elapsed, kill
        self.rng: random.Random = generator(seed, service, "faults")

    def latency(self) -> float:
        """Seconds to delay this answer by."""
        spec = self.plan.latency
        kind = spec["distribution"]
        if kind == "fixed":
            return spec["ms"] / 1000
        if kind == "uniform":
            return self.rng.uniform(spec["low_ms"], spec["high_ms"]) / 1000
        return self.rng.expovariate(1000 / spec["mean_ms"]) if spec["mean_ms"] else 0.0

    def refusal(self) -> tuple[str, float] | None:
        """(why, retry after seconds) when this request is to be refused with 503, else None."""
        now = self.elapsed()
        for start, end in self.plan.outages:
            if start <= now < end:
                return f"outage until {end:g} s after start", end - now
        if self.plan.error_rate and self.rng.random() < self.plan.error_rate:
            return "injected error", 0.0
        return None

    def crash(self, point: str) -> None:
        """At the fault point `point`: SIGKILL this process with the plan's chance for it."""
        chance = self.plan.crash.get(point, 0.0)
        if chance and self.rng.random() < chance:
            self.kill(point)
