"""Service-time distributions as data: `{dist: lognormal, mean: 0.9, cv: 0.3}` -> a sampler.

Every human, device and back-end time in a scenario is one of these specs, so the profile (not
the code) says what a time is. A `Distribution` knows its first two moments as well as how to
draw, so the analytic checks (Pollaczek-Khinchine needs E[S²]) read the same spec the world draws
from. Times are in seconds unless the spec's key says otherwise. A draw is the generator's own
method with its parameters computed once (`operator.methodcaller`): no Python frame per draw, as
the world draws several times per person.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import methodcaller
from typing import Any


@dataclass(frozen=True)
class Distribution:
    """A named distribution with its mean, its second moment and a draw from a given generator."""

    spec: str
    mean: float
    second_moment: float
    draw: Callable[[random.Random], float]

    def scaled(self, factor: float) -> Distribution:
        """The same shape in other units (ms -> s): every draw and moment times `factor`."""
        draw = self.draw
        return Distribution(
            f"{self.spec} x {factor:g}", self.mean * factor, self.second_moment * factor**2,
            lambda rng: draw(rng) * factor,
        )


def _constant(value: float) -> Distribution:
    return Distribution(f"constant {value:g}", value, value * value, lambda rng: value)


def _exponential(mean: float) -> Distribution:
    rate = 1.0 / mean
    return Distribution(f"exponential mean {mean:g}", mean, 2 * mean * mean, methodcaller("expovariate", rate))


def _lognormal(mean: float, cv: float) -> Distribution:
    """Parameterised by mean and coefficient of variation, as measured times are reported."""
    sigma2 = math.log1p(cv * cv)
    mu, sigma = math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
    return Distribution(
        f"lognormal mean {mean:g} cv {cv:g}", mean, mean * mean * (1 + cv * cv),
        methodcaller("lognormvariate", mu, sigma),
    )


def _uniform(low: float, high: float) -> Distribution:
    return Distribution(
        f"uniform {low:g}..{high:g}", (low + high) / 2, (low * low + low * high + high * high) / 3,
        methodcaller("uniform", low, high),
    )


#: spec `dist` -> (factory, the keys it takes)
FAMILIES: dict[str, tuple[Callable[..., Distribution], tuple[str, ...]]] = {
    "constant": (_constant, ("value",)),
    "exponential": (_exponential, ("mean",)),
    "lognormal": (_lognormal, ("mean", "cv")),
    "uniform": (_uniform, ("low", "high")),
}


def from_spec(spec: Mapping[str, Any], *, where: str) -> Distribution:
    """The distribution a spec names; a ValueError naming `where` and the bad spec otherwise."""
    family = spec.get("dist")
    if family not in FAMILIES:
        raise ValueError(f"{where}: unknown distribution {family!r}; known: {sorted(FAMILIES)}")
    factory, keys = FAMILIES[family]
    missing = [k for k in keys if k not in spec]
    if missing:
        raise ValueError(f"{where}: {family} needs {missing}, got {dict(spec)}")
    return factory(*(float(spec[k]) for k in keys))
