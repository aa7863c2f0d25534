"""A site: an array of gates or kiosks with one queue per server, and the people who use it.

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
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from functools import cache

import simpy

from simulator.devices.decision import reasons
from simulator.world.backends import OK, Backend
from simulator.world.distributions import Distribution
from simulator.world.metrics import SiteMetrics

FALLBACK, REQUIRED = "fallback", "required"


@cache
def accepted() -> frozenset[str]:
    """The reason codes of terminals.yaml that let the person through (the world's own back-end
    refusals, `<backend>_<outcome>`, are not among them)."""
    return frozenset(r for r, spec in reasons().items() if spec["accepted"])


@dataclass(frozen=True)
class Carrier:
    """How a holder presents (居民服务一卡通 carriers: contactless card, contact card, e-code QR, QuickPass)."""

    name: str
    present: Distribution
    device: Distribution
    calls: tuple[tuple[str, str], ...]  # (back-end, "fallback" or "required")


@dataclass(frozen=True)
class Holder:
    carrier: Carrier
    persona: str
    reason: str  # what the terminal decides for this persona (sampled fidelity)
    calls: tuple[tuple[str, str], ...]  # the site's back-end calls, then the carrier's


class Mix:
    """Names drawn by share: one uniform draw and a bisection over the cumulative shares (no draw
    at all when there is one name)."""

    def __init__(self, shares: Mapping[str, float], *, where: str) -> None:
        total = sum(shares.values())
        if not shares or total <= 0 or min(shares.values()) < 0:
            raise ValueError(f"{where}: shares are >= 0 and not all 0, got {dict(shares)}")
        self.names = list(shares)
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


#: (env, site, server index, holder, rng) -> a generator the passenger runs as its service, returning
#: (reason, fen moved on the holder's card or account, fen the server recorded, settled online)
Service = Callable[[simpy.Environment, "Site", int, Holder, random.Random], Generator]


class Site:
    """A site's servers and metrics in one replication."""

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
        if spec.shared:
            self.servers = [simpy.Resource(env, spec.servers)]
            self.free = list(range(spec.servers))  # which kiosk the next one served takes
        else:
            self.servers = [simpy.Resource(env, 1) for _ in range(spec.servers)]
        self.metrics = SiteMetrics(spec.servers, bin_s)
        self.holders = {
            (c, p): Holder(carrier, p, spec.reason_by_persona[p], spec.calls + carrier.calls)
            for c, carrier in spec.carrier_by_name.items() for p in spec.personas.names
        }
        self.service = service or sampled_service
        self.accepted = accepted()

    def spawn(self, now: float) -> None:
        """An arrival at `now`: count it, draw the holder (carrier, then persona) and start its
        passenger process."""
        self.metrics.arrivals += 1
        spec, rng = self.spec, self.rng
        holder = self.holders[spec.carriers.draw(rng), spec.personas.draw(rng)]
        self.env.process(passenger(self.env, self, holder))

    def choose(self) -> int:
        """The server with the fewest people waiting at or using it (the first of equals)."""
        best, fewest = 0, None
        for i, server in enumerate(self.servers):
            n = len(server.queue) + len(server.users)
            if fewest is None or n < fewest:
                best, fewest = i, n
        return best

def passenger(env: simpy.Environment, site: Site, holder: Holder):
    """One person: choose a server, balk or queue, be served, leave; then count the decision and
    the money (a fare paid, a subsidy credited) as the holder's card or account (`moved`) and the
    server (`recorded`) each saw it, settled online or offline."""
    m, now = site.metrics, env.now
    shared = site.spec.shared
    index = 0 if shared else site.choose()
    server = site.servers[index]
    if len(server.queue) >= site.spec.balk_at:
        m.balked += 1
        return
    arrived = now
    m.queue.change(arrived, 1)
    m.system.change(arrived, 1)
    with server.request() as turn:
        yield turn
        start = env.now
        if shared:
            index = site.free.pop()
        m.queue.change(start, -1)
        m.arrived_at.append(arrived)
        m.waits.append(start - arrived)
        reason, moved, recorded, online = yield from site.service(env, site, index, holder, site.rng)
        finish = env.now
        if shared:
            site.free.append(index)
    m.system.change(finish, -1)
    m.sojourns_s += finish - arrived
    m.busy_s[index] += finish - start
    m.served[index] += 1
    if finish < site.duration:
        m.served_in_window[index] += 1
    m.holders += moved
    m.recorded[index] += recorded
    if online:
        m.settled_online += recorded
    else:
        m.settled_offline += recorded
    if reason not in site.accepted:
        m.rejections[reason] += 1


def human_time(steps: tuple[Distribution, ...], rng: random.Random) -> float:
    total = 0.0
    for d in steps:
        total += d.draw(rng)
    return total


def sampled_service(env: simpy.Environment, site: Site, index: int, holder: Holder, rng: random.Random):
    """Sampled fidelity: human, presentation and device times drawn from their distributions; the
    decision is the persona's (what the full-logic terminal decides for it); back-end calls timed."""
    spec, carrier = site.spec, holder.carrier
    before = carrier.present.draw(rng) + carrier.device.draw(rng) + human_time(spec.before, rng)
    after = human_time(spec.after, rng)
    calls = holder.calls
    if calls:
        yield env.timeout(before)
        reason, online = yield from call_backends(site, calls, holder.reason)
        yield env.timeout(after)
    else:
        yield env.timeout(before + after)
        reason, online = holder.reason, False
    fare = spec.fare if reason in site.accepted else 0
    return reason, fare, fare, online


def call_backends(site: Site, calls: tuple[tuple[str, str], ...], reason: str):
    """The round trips of one transaction in order; a required one that fails refuses with
    `<backend>_<outcome>`, a fallback one that fails goes offline (counted once per person)."""
    online, fell_back = True, False
    for name, policy in calls:
        outcome = yield from site.backends[name].call()
        if outcome == OK:
            continue
        online = False
        if policy == REQUIRED:
            return f"{name}_{outcome}", False
        if not fell_back:
            site.metrics.offline_fallbacks += 1
            fell_back = True
    return reason, online
