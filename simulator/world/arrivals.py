"""Arrivals: a non-homogeneous Poisson process from a time-of-day profile, drawn by thinning.

The profile is piecewise constant: `[[t0, rate0], [t1, rate1], ...]`, seconds from the start of
the run and persons per hour, each rate holding until the next breakpoint (the last until the end).
Thinning (Lewis and Shedler 1979): candidates arrive at the profile's peak rate and each is kept
with probability rate(t) / peak, which gives exactly the non-homogeneous process.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator, Sequence

import simpy


class RateProfile:
    """Persons per hour as a step function of the time since the start of the run."""

    def __init__(self, steps: Sequence[Sequence[float]], *, where: str) -> None:
        times = [float(t) for t, _ in steps]
        if not times or times[0] != 0 or times != sorted(times):
            raise ValueError(f"{where}: a rate profile starts at 0 s and its times ascend, got {list(steps)}")
        if any(rate < 0 for _, rate in steps):
            raise ValueError(f"{where}: rates are >= 0 persons per hour, got {list(steps)}")
        self.times = times
        self.per_second = [float(rate) / 3600 for _, rate in steps]
        self.peak = max(self.per_second)

    def rate(self, t: float) -> float:
        """Arrivals per second at `t`."""
        return self.per_second[bisect.bisect_right(self.times, t) - 1]

    def expected(self, duration: float) -> float:
        """The expected number of arrivals in [0, duration) (the integral of the rate)."""
        bounds = [*self.times[1:], float("inf")]
        spans = zip(self.times, bounds, self.per_second, strict=True)
        return sum(r * max(0.0, min(end, duration) - start) for start, end, r in spans)


def arrival_times(profile: RateProfile, duration: float, rng: random.Random) -> Iterator[float]:
    """Arrival instants in [0, duration), ascending, by thinning."""
    if profile.peak == 0:
        return
    t, peak, random_, expovariate, rate = 0.0, profile.peak, rng.random, rng.expovariate, profile.rate
    stepped = len(profile.times) > 1  # one step keeps every candidate without looking up its rate
    while True:
        t += expovariate(peak)
        if t >= duration:
            return
        mark = random_() * peak  # drawn for every candidate: the stream is the same for any shape
        if not stepped or mark < rate(t):
            yield t


def arrivals(env: simpy.Environment, times: Iterator[float], spawn: Callable[[float], None]):
    """The SimPy process that calls `spawn(now)` at each arrival instant."""
    timeout = env.timeout
    for t in times:
        yield timeout(t - env.now)
        spawn(t)
