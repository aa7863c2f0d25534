"""A served back-end's fault plan (`ykt platform serve --faults PLAN.yaml`): what a suite, or later
the SimPy world, drives a service into failure with.

    seed: 7
    latency: {distribution: uniform, low_ms: 5, high_ms: 50}   # fixed (ms) or exponential (mean_ms)
    error_rate: 0.05                       # the fraction of requests answered 503
    retry_after_seconds: 1                 # the Retry-After of such a 503
    outages: [{from_s: 10, to_s: 20}]      # seconds after start: every request 503 until to_s
    crash: {point: platform.lifecycle.committed, hit: 0}   # die there, as SIGKILL would

Schema: profiles/schema/fault_plan.schema.json; a crash point must be one of the fault registry's
(simulator.faults). Delays and errors are drawn from a generator of `seed`, so a run is repeated
from its plan. `FaultyService` applies the plan in front of an ASGI app; `crash_plan` gives the
`FaultPlan` the service passes its crash points through (its armed hit ends the process).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from simulator import seeds
from simulator.faults import REGISTRY, FaultPlan, PowerLost
from simulator.profile import validate


class FaultPlanError(ValueError):
    """A fault plan that cannot be read or names what does not exist."""


@dataclass(frozen=True)
class ServiceFaultPlan:
    seed: int = 0
    latency: dict = field(default_factory=lambda: {"distribution": "fixed", "ms": 0})
    error_rate: float = 0.0
    retry_after_seconds: int = 1
    outages: tuple[tuple[float, float], ...] = ()
    crash: tuple[str, int] | None = None

    @classmethod
    def from_document(cls, document: dict, *, where: str) -> ServiceFaultPlan:
        validate(document, "fault_plan", where=where)
        crash = document.get("crash")
        if crash is not None and crash["point"] not in REGISTRY:
            raise FaultPlanError(f"{where}: at crash/point: no fault point {crash['point']!r}; the registry has "
                                 f"{', '.join(sorted(REGISTRY))}")
        backwards = [o for o in document.get("outages", ()) if o["to_s"] <= o["from_s"]]
        if backwards:
            raise FaultPlanError(f"{where}: at outages: an outage ends before it starts: {backwards[0]}")
        return cls(seed=document.get("seed", 0), latency=document.get("latency", cls().latency),
                   error_rate=document.get("error_rate", 0.0),
                   retry_after_seconds=document.get("retry_after_seconds", 1),
                   outages=tuple((o["from_s"], o["to_s"]) for o in document.get("outages", ())),
                   crash=(crash["point"], crash.get("hit", 0)) if crash else None)

    @classmethod
    def load(cls, path: Path) -> ServiceFaultPlan:
        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FaultPlanError(f"--faults {path}: cannot read it ({exc})") from None
        return cls.from_document(document, where=f"--faults {path}")

    def delay(self, rng: random.Random) -> float:
        """Seconds one request is held back, drawn from the latency distribution."""
        latency = self.latency
        ms = {"fixed": lambda: latency["ms"],
              "uniform": lambda: rng.uniform(latency["low_ms"], latency["high_ms"]),
              "exponential": lambda: rng.expovariate(1 / latency["mean_ms"])}[latency["distribution"]]()
        return ms / 1000

    def outage_at(self, elapsed: float) -> tuple[float, float] | None:
        return next((o for o in self.outages if o[0] <= elapsed < o[1]), None)

    def crash_plan(self, crash: Callable[[str], None]) -> FaultPlan:
        """The `FaultPlan` of the service's crash points: armed at the plan's crash, whose hit calls
        `crash(point)` (a served process ends there)."""
        plan = _CrashingPlan(crash=crash)
        if self.crash is not None:
            plan.arm(at=self.crash[1], point=self.crash[0])
        return plan


@dataclass
class _CrashingPlan(FaultPlan):
    crash: Callable[[str], None] = print

    def hit(self, name: str) -> None:
        try:
            super().hit(name)
        except PowerLost as lost:
            self.crash(lost.point)
            raise


class FaultyService:
    """The plan applied in front of `app`: each request is held back, then answered 503 in an outage
    or at the error rate, else passed on. `elapsed()` is seconds since the service started."""

    def __init__(self, app, plan: ServiceFaultPlan, *, elapsed: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.app, self.plan, self.elapsed, self.sleep = app, plan, elapsed, sleep
        self.rng = seeds.generator(plan.seed, "faults", "requests")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.sleep(self.plan.delay(self.rng))
        now = self.elapsed()
        outage = self.plan.outage_at(now)
        if outage is None and not self.rng.random() < self.plan.error_rate:
            await self.app(scope, receive, send)
            return
        retry_after = math.ceil(outage[1] - now) if outage else self.plan.retry_after_seconds
        why = f"an outage until {outage[1]} s after start" if outage else f"error rate {self.plan.error_rate}"
        body = json.dumps({"error": "service_unavailable", "detail": f"the fault plan answers 503 ({why})"}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry_after).encode())]})
        await send({"type": "http.response.body", "body": body})
