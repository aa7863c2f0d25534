"""One replication of a scenario: build the SimPy environment, its back-ends and sites, run the
arrival window, let the queues drain, and return the measurements as plain data.

Every generator comes from the run's one root seed and the component's name
(`simulator.seeds.generator(root, scenario, replication, component...)`), so a replication is a
pure function of (scenario, root seed, index): it is the unit a Dask worker runs, and the same
seed gives the same numbers on any number of workers.
"""

from __future__ import annotations

import simpy

from simulator.seeds import child_seed, generator
from simulator.world import full_logic
from simulator.world.arrivals import arrival_times, arrivals
from simulator.world.backends import Backend
from simulator.world.scenario import Scenario
from simulator.world.site import Site


def build(env: simpy.Environment, scenario: Scenario, *, root_seed: int,
          index: int) -> tuple[dict[str, Site], dict[str, Backend]]:
    """The sites and back-ends of one replication in `env`, their arrival processes started; a
    site of the full-logic fidelity served by reference terminals (simulator.world.full_logic)."""
    name = scenario.name
    backends = {
        b.name: Backend(
            env,
            name=b.name,
            capacity=b.capacity,
            latency=b.latency,
            error_rate=b.error_rate,
            timeout_s=b.timeout_s,
            outages=b.outages,
            rng=generator(root_seed, name, index, "backend", b.name),
        )
        for b in scenario.backends
    }
    sites = {}
    for spec in scenario.sites:
        service = (full_logic.service(env, terminal=spec.terminal, servers=spec.servers, profile=scenario.profile)
                   if spec.full_logic else None)
        site = Site(
            env, spec, backends=backends, rng=generator(root_seed, name, index, "site", spec.name),
            duration=scenario.duration_s, bin_s=scenario.bin_s, service=service,
        )
        times = arrival_times(
            scenario.arrivals[spec.name], scenario.duration_s, generator(root_seed, name, index, "arrivals", spec.name)
        )
        env.process(arrivals(env, times, site.spawn))
        sites[spec.name] = site
    return sites, backends


def run(scenario: Scenario, *, root_seed: int, index: int) -> dict:
    """Replication `index` of `scenario` under `root_seed`, run until everyone has left."""
    env = simpy.Environment()
    sites, backends = build(env, scenario, root_seed=root_seed, index=index)
    env.run()
    end = max(env.now, scenario.duration_s)
    return {
        "scenario": scenario.name,
        "root_seed": root_seed,
        "index": index,
        "seed": child_seed(root_seed, scenario.name, index),
        "end_s": end,
        "sites": {n: s.metrics.summary(duration=scenario.duration_s, end=end) for n, s in sites.items()},
        "backends": {n: dict(b.calls) for n, b in backends.items()},
    }
