"""Replications of a scenario, in this process or as Dask tasks, and their summary with
confidence intervals.

One task is one whole replication, never an event (Dask costs about 200 µs a task): a worker gets
the validated scenario document, the root seed and the replication's index, and returns plain
data. Results are ordered by index, so the same seed gives the same results on 1 or N workers.
Dask is imported only when a cluster is asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any

from simulator.profile import Profile
from simulator.world import replication
from simulator.world.scenario import resolve
from simulator.world.stats import interval

#: per-site figures summarised by their mean over replications with a 95% interval
FIGURES = (
    "throughput_per_hour",
    "wait_mean_s",
    "wait_p50_s",
    "wait_p95_s",
    "wait_p99_s",
    "queue_mean",
    "utilisation_mean",
    "balked",
    "offline_fallbacks",
)

Progress = Callable[[dict], None]


def task(document: Mapping[str, Any], profile: Profile, root_seed: int, index: int) -> dict:
    """What a worker runs: replication `index` of the scenario `document` resolved against `profile`."""
    return replication.run(resolve(document, profile), root_seed=root_seed, index=index)


@contextmanager
def cluster(*, workers: int, scheduler: str | None):
    """A Dask client: on an existing scheduler (`tcp://host:8786`) or on a LocalCluster of
    `workers` single-threaded processes (SimPy holds the GIL, so threads would not help)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as local, \
            Client(local) as client:
        yield client


def run(document: Mapping[str, Any], *, profile: Profile, replications: int, root_seed: int, client=None,
        progress: Progress | None = None) -> list[dict]:
    """`replications` replications of the scenario `document` of `profile`, ordered by index: on
    `client` (a Dask client) or, without one, one after another in this process."""
    done = progress or (lambda result: None)
    if client is None:
        results = []
        for index in range(replications):
            results.append(task(document, profile, root_seed, index))
            done(results[-1])
        return results
    from distributed import as_completed

    futures = client.map(task, [dict(document)] * replications, [profile] * replications, [root_seed] * replications,
                         range(replications))
    results = []
    for future in as_completed(futures):
        results.append(future.result())
        done(results[-1])
    return sorted(results, key=lambda r: r["index"])


def money_conserved(site: Mapping[str, Any]) -> bool:
    """What moved on holders' cards is what the servers recorded, and all of it settled online or offline."""
    m = site["money"]
    return m["holders"] == m["recorded"] == m["settled_online"] + m["settled_offline"]


def summarise(results: list[dict]) -> dict:
    """Per site: each figure's mean and 95% interval over the replications (the mean alone for one
    replication), rejections by reason and offline fallbacks in total, money conserved in every one."""
    sites = {}
    for name in results[0]["sites"]:
        per_rep = [r["sites"][name] for r in results]
        figures = {}
        for figure in FIGURES:
            values = [float(s[figure]) for s in per_rep]
            figures[figure] = interval(values).as_dict() if len(values) > 1 else {"mean": values[0], "n": 1}
        rejections = Counter()
        for s in per_rep:
            rejections.update(s["rejections"])
        sites[name] = {
            **figures,
            "throughput_per_server_per_hour": [
                sum(col) / len(per_rep)
                for col in zip(*(s["throughput_per_server_per_hour"] for s in per_rep), strict=True)
            ],
            "rejections": dict(sorted(rejections.items())),
            "money_conserved": all(money_conserved(s) for s in per_rep),
            "littles_law": [littles_law_gap(s) for s in per_rep],
        }
    return {"replications": len(results), "root_seed": results[0]["root_seed"], "sites": sites}


def littles_law_gap(site: Mapping[str, Any]) -> float:
    """The larger relative gap, queue and system, between L·T (the integral of the number present,
    counted as people come and go) and λT·W (the sum of the waits or sojourns): Little's law over a
    run that starts and ends empty makes them equal, so only rounding separates them."""
    little = site["little"]
    gaps = []
    for area, total in ((little["queue_area"], little["waits_sum"]), (little["system_area"], little["sojourns_sum"])):
        gaps.append(abs(area - total) / total if total else abs(area))
    return max(gaps)
