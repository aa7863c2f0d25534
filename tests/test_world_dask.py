"""Replications on Dask: one task a replication, results ordered by index, so the same root seed
gives identical results whatever the number of workers (and the same as in process)."""

from __future__ import annotations

from simulator.profile import national
from simulator.world import replications, scenario

ROOT_SEED = 7


def test_same_seed_identical_results_on_one_and_two_workers():
    doc = scenario.load("bus-line", national()).document
    runs = []
    for workers in (1, 2):
        with replications.cluster(workers=workers, scheduler=None) as client:
            runs.append(replications.run(doc, profile=national(), replications=4, root_seed=ROOT_SEED, client=client))
    in_process = replications.run(doc, profile=national(), replications=4, root_seed=ROOT_SEED)
    assert runs[0] == runs[1] == in_process, f"root seed {ROOT_SEED}"
    assert [r["index"] for r in runs[1]] == [0, 1, 2, 3]
    assert len({r["sites"]["front-door"]["wait_mean_s"] for r in in_process}) == 4  # replications differ


def test_another_seed_gives_other_results():
    doc = scenario.load("bus-line", national()).document
    first = replications.run(doc, profile=national(), replications=1, root_seed=ROOT_SEED)
    other = replications.run(doc, profile=national(), replications=1, root_seed=ROOT_SEED + 1)
    assert first[0]["sites"] != other[0]["sites"]
