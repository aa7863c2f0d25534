"""A site: an array of gates or kiosks with one line per server, and the people who use it.

Each arrival picks the server with the fewest people at it (shortest-queue choice; the first of
equals, as people take the nearest), or joins the one line of a `shared` queue (a hall of kiosks,
next free one), balks when that queue already holds `balk_at`, waits, and is served: human time
(approach, PIN entry... from the profile), the presentation of the carrier (card tap, QR scan) and
the device's own time, the back-end round trips the carrier or the site
needs, then the walk through. A carrier whose back-end cannot be reached either falls back offline
(counted) or is refused with the back-end's reason, as the scenario says.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from functools import partial

import simpy

from simulator.world.backends import OK, Backend
from simulator.world.distributions import Distribution
from simulator.world.metrics import SiteMetrics

FALLBACK, REQUIRED = "fallback", "required"


@dataclass(frozen=True)
class Carrier:
    """How a holder presents (居民服务一卡通 carriers: contactless card, contact card, e-code QR, QuickPass)."""

    name: str
    present: Distribution
    device: Distribution
    calls: tuple[tuple[str, str], ...]  # (back-end, "fallback" or "required")


#: a draw of a time (seconds) from a generator
Draw = Callable[[random.Random], float]


@dataclass(frozen=True)
class Holder:
    carrier: Carrier
    persona: str
    reason: str  # what the terminal decides for this persona (sampled fidelity)
    calls: tuple[tuple[str, str], ...]  # the site's back-end calls, then the carrier's
    before: tuple[Draw, ...]  # sampled: presentation, device, human steps
    after: tuple[Draw, ...]  # sampled: human steps after the back-ends
    whole: Draw  # sampled with no back-end to ask: all of them, summed, in one call
    outcome: tuple[str, int, int, bool]  # sampled with no back-end to ask: (reason, moved, recorded, online)


def _draws(distributions) -> tuple[Draw, ...]:
    """The draws of `distributions`, leaving out those that are always 0."""
    return tuple(d.draw for d in distributions if d.second_moment)


def summed(draws: tuple[Draw, ...]) -> Draw:
    """`draw_sum` of `draws` as one callable: the draw itself when there is one (a scenario's
    single service time), so the commonest tap costs no summing frame."""
    return draws[0] if len(draws) == 1 else partial(draw_sum, draws)


def draw_sum(draws: tuple[Draw, ...], rng: random.Random) -> float:
    total = 0.0
    for draw in draws:
        total += draw(rng)
    return total


class Mix:
    """Names drawn by share: one uniform draw and a bisection over the cumulative shares (no draw
    at all when there is one name)."""

    def __init__(self, shares: Mapping[str, float], *, where: str) -> None:
        total = sum(shares.values())
        if not shares or total <= 0 or min(shares.values()) < 0:
            raise ValueError(f"{where}: shares are >= 0 and not all 0, got {dict(shares)}")
        self.names = list(shares)
        self.shares = {name: share / total for name, share in shares.items()}
        running, self.cumulative = 0.0, []
        for share in shares.values():
            running += share / total
            self.cumulative.append(running)
        self.cumulative[-1] = 1.0

    def draw(self, rng: random.Random) -> str:
        if len(self.names) == 1:
            return self.names[0]
        return self.names[bisect.bisect_right(self.cumulative, rng.random())]


@dataclass(frozen=True)
class SiteSpec:
    """A site of a scenario, resolved against the profile (distributions built, names checked)."""

    name: str
    kind: str
    terminal: str  # whose decisions its people get (national/world.yaml `terminals`)
    servers: int
    shared: bool  # one line for all servers (else one per server)
    full_logic: bool  # reference terminals and real cards serve it (else sampled times)
    balk_at: int
    before: tuple[Distribution, ...]
    after: tuple[Distribution, ...]
    calls: tuple[tuple[str, str], ...]
    carriers: Mix
    carrier_by_name: Mapping[str, Carrier]
    personas: Mix
    reason_by_persona: Mapping[str, str]
    fare: int
    #: the reason codes of the profile's terminals.yaml that let the person through (the world's
    #: own back-end refusals, `<backend>_<outcome>`, are not among them)
    accepted: frozenset[str]


#: (env, site, server index, holder, rng) -> a generator the passenger runs as its service, returning
#: (reason, fen moved on the holder's card or account, fen the server recorded, settled online)
Service = Callable[[simpy.Environment, "Site", int, Holder, random.Random], Generator]


class Site:
    """A site's servers, their lines and metrics in one replication.

    Each server is one SimPy process (`server`) that takes the next person from its line (a
    deque; one line for all when the queue is shared) and serves them; a person is data, not a
    process, so a tap costs two events (the arrival and the end of service) plus a wake-up when
    the server was idle.
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: SiteSpec,
        *,
        backends: Mapping[str, Backend],
        rng: random.Random,
        duration: float,
        bin_s: float,
        service: Service | None = None,
    ) -> None:
        self.env, self.spec, self.backends, self.rng = env, spec, backends, rng
        self.duration = duration
        self.lines: list[deque] = [deque() for _ in range(1 if spec.shared else spec.servers)]
        self.busy = [False] * spec.servers
        self.idle: list[int] = []  # servers waiting for someone, each on its `wake` event
        self.wake: list[simpy.Event | None] = [None] * spec.servers
        self.metrics = SiteMetrics(spec.servers, bin_s)
        self.service = service  # None: the sampled fidelity
        self.accepted = spec.accepted
        self.holders = {
            (c, p): Holder(carrier, p, spec.reason_by_persona[p], spec.calls + carrier.calls,
                           _draws((carrier.present, carrier.device, *spec.before)), _draws(spec.after),
                           summed(_draws((carrier.present, carrier.device, *spec.before, *spec.after))),
                           sampled_outcome(self, spec.reason_by_persona[p], False))
            for c, carrier in spec.carrier_by_name.items() for p in spec.personas.names
        }
        #: the one holder of a site with one carrier and one persona (nothing to draw), else None
        self.only = next(iter(self.holders.values())) if len(self.holders) == 1 else None
        for index in range(spec.servers):
            env.process(server(env, self, index))

    def spawn(self, now: float) -> None:
        """An arrival at `now`: draw the holder (carrier, then persona), choose a line, balk or
        join it, and wake a server that is waiting for someone."""
        m, spec = self.metrics, self.spec
        m.arrivals += 1
        holder = self.only or self.holders[spec.carriers.draw(self.rng), spec.personas.draw(self.rng)]
        index = 0 if spec.shared else self.choose()
        line = self.lines[index]
        if len(line) >= spec.balk_at:
            m.balked += 1
            return
        line.append((now, holder))
        m.occupancy.change(now, 1, 1)
        if spec.shared:
            if self.idle:
                self._wake(self.idle.pop())
        elif self.wake[index] is not None:
            self._wake(index)

    def _wake(self, index: int) -> None:
        event, self.wake[index] = self.wake[index], None
        event.succeed()

    def choose(self) -> int:
        """The server with the fewest people waiting at or using it (the first of equals)."""
        best, fewest, busy = 0, None, self.busy
        for i, line in enumerate(self.lines):
            n = len(line) + busy[i]
            if fewest is None or n < fewest:
                best, fewest = i, n
        return best


def server(env: simpy.Environment, site: Site, index: int):
    """One gate or kiosk: take the next person from the line, serve them, count the decision and
    the money (a fare paid, a subsidy credited) as the holder's card or account (`moved`) and the
    server (`recorded`) each saw it, settled online or offline; wait when nobody is there.
    (What it touches per person is bound to locals once: this loop is the world's hot path.)"""
    m, spec, rng, service, busy = site.metrics, site.spec, site.rng, site.service, site.busy
    line = site.lines[0 if spec.shared else index]
    timeout, change, duration, accepted = env.timeout, m.occupancy.change, site.duration, site.accepted
    arrived_at, waits, rejections = m.arrived_at.append, m.waits.append, m.rejections
    served_in_window, busy_s = m.served_in_window, m.busy_s
    while True:
        if not line:
            site.wake[index] = env.event()
            if spec.shared:
                site.idle.append(index)
            yield site.wake[index]
            continue
        arrived, holder = line.popleft()
        start = env.now
        busy[index] = True
        change(start, -1, 0)
        arrived_at(arrived)
        waits(start - arrived)
        if service is not None:
            reason, moved, recorded, online = yield from service(env, site, index, holder, rng)
        elif holder.calls:
            reason, moved, recorded, online = yield from sampled_service(env, site, index, holder, rng)
        else:  # sampled with no back-end to ask: one timeout
            yield timeout(holder.whole(rng))
            reason, moved, recorded, online = holder.outcome
        finish = env.now
        busy[index] = False
        change(finish, 0, -1)
        m.sojourns_s += finish - arrived
        busy_s[index] += finish - start
        if finish < duration:
            served_in_window[index] += 1
        m.holders += moved
        m.recorded += recorded
        if online:
            m.settled_online += recorded
        else:
            m.settled_offline += recorded
        if reason not in accepted:
            rejections[reason] += 1


def sampled_outcome(site: Site, reason: str, online: bool) -> tuple[str, int, int, bool]:
    """The sampled fidelity's decision: the site's fare when `reason` lets the person through."""
    fare = site.spec.fare if reason in site.accepted else 0
    return reason, fare, fare, online


def sampled_service(env: simpy.Environment, site: Site, index: int, holder: Holder, rng: random.Random):
    """Sampled fidelity: human, presentation and device times drawn from their distributions; the
    decision is the persona's (what the full-logic terminal decides for it); back-end calls timed,
    in order: a required one that fails refuses with `<backend>_<outcome>`, a fallback one that
    fails goes offline (counted once per person). (A holder with no back-end to ask is served by
    one timeout in `server` instead.)"""
    yield env.timeout(draw_sum(holder.before, rng))
    reason, online = holder.reason, True
    for name, policy in holder.calls:
        backend = site.backends[name]
        outcome = backend.end((yield backend.request()))  # what `Backend.call` does, without its frame
        if outcome == OK:
            continue
        if policy == REQUIRED:
            reason, online = f"{name}_{outcome}", False
            break
        if online:
            site.metrics.offline_fallbacks += 1
            online = False
    yield env.timeout(draw_sum(holder.after, rng))
    return sampled_outcome(site, reason, online)
