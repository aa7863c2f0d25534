"""A back-end as the world sees it until the real ports arrive: how many requests it serves at
once, how long one takes, how often one fails, and when it is down.

The platform (card status, e-code verification) and the bank (QuickPass authorisation,
disbursement) are each one `Backend`: `capacity` concurrent requests (the rest wait in arrival
order) whose round trip is drawn from a latency distribution, failing with `error_rate`, and
unreachable during its outage windows, where a terminal waits `timeout_s` before it gives up. All
of it comes from the scenario (`source: modelled` there until a back-end's own figures are
measured). A request that finds a free slot costs one event (its round trip), not a resource's
three, and no generator frame: most requests of a city day do.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

import simpy

from simulator.world.distributions import Distribution

OK, ERROR, UNREACHABLE = "ok", "error", "unreachable"


class Backend:
    """One back-end's capacity, latency, errors and outage windows in simulated time."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        name: str,
        capacity: int,
        latency: Distribution,
        error_rate: float,
        timeout_s: float,
        outages: Sequence[tuple[float, float]],
        rng: random.Random,
    ) -> None:
        self.env, self.name, self.latency, self.error_rate = env, name, latency, error_rate
        self.timeout_s, self.outages, self.rng = timeout_s, tuple(outages), rng
        self.capacity, self.in_use = capacity, 0
        self.waiting: deque[simpy.Event] = deque()  # requests waiting for a slot, first come first served
        self.calls = {OK: 0, ERROR: 0, UNREACHABLE: 0}

    def down(self, t: float) -> bool:
        return any(start <= t < end for start, end in self.outages)

    def call(self):
        """A SimPy process body (use with `yield from`): one round trip, returning its outcome."""
        return self.end((yield self.request()))

    def request(self) -> simpy.Event:
        """The event a caller yields for one round trip made now; pass its value to `end`.

        It is a timeout when the back-end is down (the terminal's, value False: not reached) or a
        slot is free (the round trip, value True), so such a request costs the caller one event
        and no generator of its own; one that must wait for a slot is a process that waits for the
        slot `end` hands over, then takes its round trip.
        """
        env = self.env
        if self.outages and self.down(env.now):
            return env.timeout(self.timeout_s, False)
        if self.in_use < self.capacity:
            self.in_use += 1
            return env.timeout(self.latency.draw(self.rng), True)
        slot = env.event()
        self.waiting.append(slot)  # in line now, though the process starts one event later
        return env.process(self._queued(slot))

    def _queued(self, slot: simpy.Event):
        yield slot
        yield self.env.timeout(self.latency.draw(self.rng))
        return True

    def end(self, reached: bool) -> str:
        """The outcome of a request whose event has fired (`reached` its value): the slot goes to
        the first request waiting for one, and the round trip failed with `error_rate`."""
        if reached:
            if self.waiting:
                self.waiting.popleft().succeed()
            else:
                self.in_use -= 1
            outcome = ERROR if self.rng.random() < self.error_rate else OK
        else:
            outcome = UNREACHABLE
        self.calls[outcome] += 1
        return outcome
