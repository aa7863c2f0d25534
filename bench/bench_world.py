"""The SimPy world's speed (issue 14 targets), each figure measured in this run:

- per-event cost: the world against a bare SimPy model of the same queueing structure (an array
  of gates, one queue each, shortest-queue choice, Poisson arrivals, lognormal service) written
  the way the world is (a process per gate taking people from its line), as the ratio of wall time
  per person (target <= 1.25x); the same structure with a process per person, SimPy's textbook
  form, is printed beside it;
- sampled-mode taps per wall minute on one core, in the metro-peak scenario (target >= 6,000,000);
- full-logic transactions per wall minute on one core (card OS + terminal + PSAM crypto per tap;
  the issue's target, >= 1,000,000 on 2 cores, is printed against twice this figure);
- a city day (>= 2 million metro taps plus bus, scenic and hospital flows, sampled) on a
  2-worker Dask LocalCluster, wall time with and without the cluster's start (target < 60 s).

`python -m bench world` (or `tox -e bench -- world`); `--quick` in argv shortens every run.
"""

from __future__ import annotations

import copy
import math
import random
import statistics
import sys
import time
from collections import deque
from functools import partial

import simpy

from simulator.profile import national
from simulator.world import replication, replications, scenario

TARGET_RATIO, TARGET_TAPS, TARGET_FULL, TARGET_CITY_S = 1.25, 6_000_000, 1_000_000, 60.0
GATES, MEAN_S, CV, RHO = 8, 2.7, 0.3, 0.85


def structure(duration: float) -> dict:
    """The queueing structure both models share, as a world scenario: one gate array, service
    time alone (no human steps, no back-end)."""
    return {
        "id": "bench",
        "description": "the bare structure",
        "source": "modelled: a benchmark, not a site",
        "duration_s": duration,
        "bin_s": 3600,
        "backends": {},
        "sites": [{
            "name": "gates", "kind": "gate", "terminal": "metro_entry_gate", "servers": GATES, "balk_at": 10**9,
            "before": [], "after": [], "calls": [], "fare": 0, "arrivals": [[0, RHO * GATES / MEAN_S * 3600]],
            "carriers": {"contactless_card": 1}, "personas": {"transit": 1},
            "service": {"dist": "lognormal", "mean": MEAN_S, "cv": CV},
        }],
    }


def _lognormal() -> tuple[float, float]:
    sigma2 = math.log1p(CV * CV)
    return math.log(MEAN_S) - sigma2 / 2, sigma2**0.5


def poisson(env: simpy.Environment, rng: random.Random, duration: float, arrive):
    """Both bare models' arrivals: Poisson at the structure's rate until `duration`, `arrive(t)` each."""
    rate = RHO * GATES / MEAN_S
    t = rng.expovariate(rate)
    while t < duration:
        yield env.timeout(t - env.now)
        arrive(t)
        t += rng.expovariate(rate)


def bare(duration: float, seed: int) -> int:
    """The same structure written plainly in SimPy as the world writes it: a process per gate,
    a deque per line, an idle gate woken by an event (people served)."""
    env, rng = simpy.Environment(), random.Random(seed)
    mu, sigma = _lognormal()
    lines = [deque() for _ in range(GATES)]
    busy, wake, served = [False] * GATES, [None] * GATES, [0]

    def gate(index):
        line = lines[index]
        while True:
            if not line:
                wake[index] = env.event()
                yield wake[index]
                continue
            line.popleft()
            busy[index] = True
            yield env.timeout(rng.lognormvariate(mu, sigma))
            busy[index] = False
            served[0] += 1

    def arrive(t):
        index = min(range(GATES), key=lambda i: len(lines[i]) + busy[i])
        lines[index].append(t)
        if wake[index] is not None:
            event, wake[index] = wake[index], None
            event.succeed()

    for index in range(GATES):
        env.process(gate(index))
    env.process(poisson(env, rng, duration, arrive))
    env.run()
    return served[0]


def bare_per_person(duration: float, seed: int) -> int:
    """The same structure with a process per person and a Resource per gate (people served)."""
    env, rng = simpy.Environment(), random.Random(seed)
    gates = [simpy.Resource(env, 1) for _ in range(GATES)]
    mu, sigma = _lognormal()
    served = [0]

    def person(gate):
        with gate.request() as turn:
            yield turn
            yield env.timeout(rng.lognormvariate(mu, sigma))
        served[0] += 1

    def arrive(t):
        env.process(person(min(gates, key=lambda g: len(g.queue) + g.count)))

    env.process(poisson(env, rng, duration, arrive))
    env.run()  # arrivals stop at `duration`; the queues drain
    return served[0]


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def per_event_ratio(duration: float, pairs: int = 5) -> tuple[float, float, float, float]:
    """(world / bare per person, bare, bare per person, world persons per second): the ratio is the
    median over `pairs` runs of each, back to back (a shared machine's load changes between them),
    the rates the best of the runs."""
    resolved = scenario.resolve(structure(duration), national())
    ratios, bare_s, textbook_s, world_s = [], [], [], []
    for seed in range(pairs):
        n_bare, t_bare = timed(bare, duration, seed)
        result, t_world = timed(partial(replication.run, resolved, root_seed=seed, index=0))
        n_textbook, t_textbook = timed(bare_per_person, duration, seed)
        n_world = result["sites"]["gates"]["completed"]
        bare_s.append(t_bare / n_bare)
        world_s.append(t_world / n_world)
        textbook_s.append(t_textbook / n_textbook)
        ratios.append(world_s[-1] / bare_s[-1])
    return statistics.median(ratios), 1 / min(bare_s), 1 / min(textbook_s), 1 / min(world_s)


def sampled_taps_per_minute() -> tuple[float, int, float]:
    resolved = scenario.load("metro-peak", national())
    result, seconds = timed(lambda: replication.run(resolved, root_seed=1, index=0))
    taps = sum(s["completed"] for s in result["sites"].values())
    return taps / seconds * 60, taps, seconds


def full_logic_per_minute(duration: float) -> tuple[float, int, float]:
    doc = copy.deepcopy(scenario.load("bus-line", national()).document)
    doc["duration_s"] = duration
    site = doc["sites"][0]
    site.update(fidelity="full_logic", carriers={"contactless_card": 1})
    resolved = scenario.resolve(doc, national())
    replication.run(resolved, root_seed=0, index=0)  # card images built once per persona, before timing
    result, seconds = timed(lambda: replication.run(resolved, root_seed=1, index=0))
    taps = result["sites"]["front-door"]["completed"]
    return taps / seconds * 60, taps, seconds


def city_district(district: int, stations: int, scale: float) -> dict:
    """One district of the city day as a scenario: `stations` metro stations (entry and exit
    arrays) over 06:00-24:00 plus a bus line, a scenic spot and a hospital, arrivals x `scale`."""
    metro = scenario.load("metro-peak", national()).document
    day = 18 * 3600
    shape = [[0, 800], [3600, 3000], [10800, 1500], [39600, 2800], [50400, 1000]]  # persons/h, modelled
    sites = []
    for station in range(stations):
        for template in metro["sites"]:
            site = copy.deepcopy(template)
            site["name"] = f"s{district}-{station}-{template['name']}"
            site["arrivals"] = [[t, rate * scale] for t, rate in shape]
            sites.append(site)
    for other in ("bus-line", "scenic-holiday", "hospital-morning"):
        for template in scenario.load(other, national()).document["sites"]:
            site = copy.deepcopy(template)
            site["name"] = f"d{district}-{other}-{template['name']}"
            sites.append(site)
    return {**copy.deepcopy(metro), "id": f"city-district-{district}", "duration_s": day, "sites": sites}


def city_day(districts: int, stations: int, scale: float) -> tuple[float, float, int, int]:
    docs = [city_district(d, stations, scale) for d in range(districts)]
    started = time.perf_counter()
    with replications.cluster(workers=2, scheduler=None) as client:
        ready = time.perf_counter()
        futures = [client.submit(replications.task, doc, national(), 20261123, 0) for doc in docs]
        results = client.gather(futures)
    done = time.perf_counter()
    metro = sum(s["completed"] for r in results for n, s in r["sites"].items() if n.startswith("s"))
    other = sum(s["completed"] for r in results for n, s in r["sites"].items() if n.startswith("d"))
    return done - started, done - ready, metro, other


def main(argv: list[str] | None = None) -> None:
    quick = "--quick" in (argv if argv is not None else sys.argv)
    ratio, bare_rate, textbook_rate, world_rate = per_event_ratio(3600 if quick else 2 * 3600)
    print("the world against bare SimPy, same structure (8 gates, shortest queue, rho 0.85)")
    print(f"  bare SimPy             {bare_rate:>12,.0f} persons/s   (a process per gate, as the world)")
    print(f"  bare SimPy per person  {textbook_rate:>12,.0f} persons/s   (a process per person)")
    print(f"  world                  {world_rate:>12,.0f} persons/s   ratio {ratio:.2f}x per event"
          f"   target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT MET'}")
    taps, n, seconds = sampled_taps_per_minute()
    print(f"sampled metro-peak       {taps:>12,.0f} taps per wall minute on one core ({n:,} taps in {seconds:.2f} s)"
          f"   target >= {TARGET_TAPS:,}: {'met' if taps >= TARGET_TAPS else 'NOT MET'}")
    print(f"  (gates alone, no back-end round trips: {world_rate * 60:,.0f} taps per wall minute)")
    full, n, seconds = full_logic_per_minute(3600 if quick else 6 * 3600)
    print(f"full-logic bus line      {full:>12,.0f} transactions per wall minute on one core ({n:,} in {seconds:.2f} s)"
          f"   target >= {TARGET_FULL:,} on 2 cores: {'met' if 2 * full >= TARGET_FULL else 'NOT MET'}")
    districts, stations, scale = (2, 4, 0.25) if quick else (4, 9, 1.0)
    wall, run_wall, metro, other = city_day(districts, stations, scale)
    print(f"city day on 2 workers    {wall:>8.1f} s wall ({run_wall:.1f} s after the cluster started): "
          f"{metro:,} metro taps + {other:,} other transactions in {districts} district tasks"
          f"   target < {TARGET_CITY_S:.0f} s with >= 2,000,000 metro taps: "
          f"{'met' if wall < TARGET_CITY_S and metro >= 2_000_000 else 'NOT MET'}")


if __name__ == "__main__":
    main()
