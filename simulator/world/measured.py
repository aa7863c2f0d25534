"""A gate array served by transaction times measured elsewhere: the throughput suite presents
seeded cards to a gate under test, times each presentation from the harness's side, and this
module puts those times into a site of a scenario in place of the device-logic part of the gate's
service time (the carrier's `device` distribution of national/world.yaml). The human steps stay
the profile's: approach, presentation, walk through.

A tap is replayed as it was observed: its transaction time, then as many platform round trips as
the gate made (each timed by the scenario's back-end model: latency and queueing when the platform
is up, its `timeout_s` when it is down), and the decision the gate made in that platform state.
Which state's taps a holder draws from is the platform's state when the holder reaches the reader.
Holders of other carriers (e-code, QuickPass: other readers) keep the sampled fidelity.

`replicate` runs one site of a scenario so, optionally with every holder presenting the card and
arrivals of its own (a saturated array): the unit the suite's confidence intervals are built from.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass

import simpy

from simulator.seeds import generator
from simulator.world.arrivals import RateProfile, arrival_times, arrivals
from simulator.world.backends import Backend
from simulator.world.full_logic import CARD_CARRIER
from simulator.world.scenario import Scenario
from simulator.world.site import Holder, Mix, Service, Site, SiteSpec, draw_sum, sampled_outcome, sampled_service

REACHABLE, UNREACHABLE = "reachable", "unreachable"
PLATFORM = "platform"


@dataclass(frozen=True)
class Tap:
    """One presentation as the harness saw it."""

    seconds: float  # the transaction time the harness measured
    platform_calls: int  # round trips to the platform the gate made
    reason: str  # the gate's decision (a reason code of terminals.yaml)


#: platform state -> persona -> the taps measured in that state
Taps = Mapping[str, Mapping[str, tuple[Tap, ...]]]


@dataclass
class Run:
    """One replication of a measured site: its metrics summary (simulator.world.metrics), each
    person's arrival and wait, and each card holder's service end and whether the gate admitted them."""

    summary: dict
    arrived_at: list[float] = dataclasses.field(default_factory=list)
    waits: list[float] = dataclasses.field(default_factory=list)
    ended: list[float] = dataclasses.field(default_factory=list)
    admitted: list[bool] = dataclasses.field(default_factory=list)


def service(taps: Taps, run: Run) -> Service:
    """The Service (simulator.world.site) of a site whose card holders meet the measured gate."""

    def serve(env: simpy.Environment, site: Site, index: int, holder: Holder, rng: random.Random):
        if holder.carrier.name != CARD_CARRIER:
            return (yield from sampled_service(env, site, index, holder, rng))
        yield env.timeout(holder.carrier.present.draw(rng) + draw_sum(tuple(d.draw for d in site.spec.before), rng))
        platform: Backend | None = site.backends.get(PLATFORM)
        state = UNREACHABLE if platform is not None and platform.down(env.now) else REACHABLE
        tap = rng.choice(taps[state][holder.persona])
        yield env.timeout(tap.seconds)
        for _ in range(tap.platform_calls):
            yield from platform.call()
        yield env.timeout(draw_sum(holder.after, rng))
        run.ended.append(env.now)
        run.admitted.append(tap.reason in site.accepted)
        return sampled_outcome(site, tap.reason, state == REACHABLE)

    return serve


def check(taps: Taps, scenario: Scenario, spec: SiteSpec, *, platform_down: bool) -> None:
    """Refuse taps that cannot serve `spec` of `scenario`: a persona of its mix without taps in a
    platform state the run can meet (unreachable: an outage of the scenario, or `platform_down`),
    or platform calls in a scenario without a platform."""
    platform = next((b for b in scenario.backends if b.name == PLATFORM), None)
    states = [REACHABLE] + ([UNREACHABLE] if platform_down or (platform and platform.outages) else [])
    for state in states:
        missing = [p for p in spec.personas.names if not taps.get(state, {}).get(p)]
        if missing:
            raise ValueError(f"no {state} taps measured for persona(s) {missing} of {scenario.name} site {spec.name}")
    calls = any(t.platform_calls for by_persona in taps.values() for ts in by_persona.values() for t in ts)
    if calls and platform is None:
        raise ValueError(f"the gate calls the platform but scenario {scenario.name} has no platform back-end")


def replicate(scenario: Scenario, site: str, taps: Taps, *, root_seed: int, index: int,
              rate: RateProfile | None = None, duration_s: float | None = None, personas: Mix | None = None,
              cards_only: bool = False, platform_down: bool = False) -> Run:
    """Replication `index` of one site of `scenario` served by the measured gate.

    `rate`, `duration_s` and `personas` replace the site's arrivals, the scenario's duration and its
    persona mix; `cards_only` has every holder present the card (the carrier the gate reads);
    `platform_down` keeps the platform unreachable throughout.
    """
    spec = next(s for s in scenario.sites if s.name == site)
    if cards_only:
        carrier = spec.carrier_by_name.get(CARD_CARRIER)
        if carrier is None:
            raise ValueError(f"{scenario.name} site {site} has no {CARD_CARRIER} holders")
        spec = dataclasses.replace(spec, carriers=Mix({CARD_CARRIER: 1}, where=site),
                                   carrier_by_name={CARD_CARRIER: carrier})
    if personas is not None:
        spec = dataclasses.replace(spec, personas=personas)
    check(taps, scenario, spec, platform_down=platform_down)
    duration = duration_s or scenario.duration_s
    env = simpy.Environment()
    names = (scenario.name, "measured", site, index)
    backends = {
        b.name: Backend(env, name=b.name, capacity=b.capacity, latency=b.latency, error_rate=b.error_rate,
                        timeout_s=b.timeout_s,
                        outages=((0.0, float("inf")),) if platform_down and b.name == PLATFORM else b.outages,
                        rng=generator(root_seed, *names, "backend", b.name))
        for b in scenario.backends
    }
    run = Run({})
    built = Site(env, spec, backends=backends, rng=generator(root_seed, *names, "site"), duration=duration,
                 bin_s=scenario.bin_s, service=service(taps, run))
    times = arrival_times(rate or scenario.arrivals[site], duration, generator(root_seed, *names, "arrivals"))
    env.process(arrivals(env, times, built.spawn))
    env.run()
    end = max(env.now, duration)
    m = built.metrics
    run.summary, run.arrived_at, run.waits = m.summary(duration=duration, end=end), m.arrived_at, m.waits
    return run
