"""Named fault points (tear = power lost) in one registry, fired by a fault plan.

Why: DESIGN.md asks that every fault (card tear, power cut, link drop) be a named point that a
plan switches on, so that a test can enumerate every point a command passes and cut power at
each one, and a later whole-system campaign can drive all of them from one seed.
Components call `plan.hit(name)` at each point; an unarmed plan only counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: Every fault point declared by any component: name -> what happens there.
REGISTRY: dict[str, str] = {}


def point(name: str, description: str) -> str:
    """Declare a fault point (at import time of the component that has it) and return its name."""
    if REGISTRY.get(name, description) != description:
        raise ValueError(f"fault point {name!r} declared twice with different meanings")
    REGISTRY[name] = description
    return name


class PowerLost(Exception):  # noqa: N818 - a physical event, not an error of the code
    """The card lost power at a tear point: volatile state is gone, NVM holds what was written."""

    def __init__(self, point: str, hit: int) -> None:
        super().__init__(f"power lost at {point} (hit {hit})")
        self.point = point
        self.hit = hit


@dataclass
class FaultPlan:
    """Counts hits of fault points and fires at most one armed hit.

    `arm(at=n)` fires at the n-th hit (0-based) counted over all points, or over one point
    when `point` is given. Counting first with an unarmed plan tells a test how many tear
    cases a command has.
    """

    hits: Counter = field(default_factory=Counter)
    total: int = 0
    trail: list[str] = field(default_factory=list)
    _armed: tuple[str | None, int] | None = None

    def arm(self, *, at: int, point: str | None = None) -> FaultPlan:
        if point is not None and point not in REGISTRY:
            raise ValueError(f"unknown fault point {point!r}; known: {sorted(REGISTRY)}")
        self._armed = (point, at)
        return self

    def disarm(self) -> None:
        self._armed = None

    @property
    def armed(self) -> bool:
        return self._armed is not None

    def hit(self, name: str) -> None:
        index = self.hits[name] if self._armed and self._armed[0] == name else self.total
        self.hits[name] += 1
        self.total += 1
        self.trail.append(name)
        if self._armed is not None and self._armed[0] in (None, name) and self._armed[1] == index:
            self._armed = None
            raise PowerLost(name, index)
