"""The SimPy world against queueing theory: the analytic value must fall inside the 95% confidence
interval of the replications' means (the tolerance is the interval, never a chosen number).

Each model is a scenario document built here and resolved like the shipped ones; one root seed
per test, printed in the failure message.
"""

from __future__ import annotations

import sys

from simulator.profile import national
from simulator.world import replications, scenario, theory
from simulator.world.distributions import from_spec

ROOT_SEED = 20261123


def document(*, name, servers, queue, service, rate_per_hour, duration_s, balk_at=1_000_000):
    """A one-site scenario whose service time is `service` alone (no human steps, no back-end)."""
    return {
        "id": name,
        "description": "validation model",
        "source": "modelled: an analytic queueing model, not a site",
        "duration_s": duration_s,
        "bin_s": 3600,
        "backends": {},
        "sites": [
            {
                "name": "model",
                "kind": "gate",
                "terminal": "metro_entry_gate",
                "servers": servers,
                "queue": queue,
                "balk_at": balk_at,
                "before": [],
                "after": [],
                "calls": [],
                "fare": 0,
                "arrivals": [[0, rate_per_hour]],
                "carriers": {"contactless_card": 1},
                "personas": {"transit": 1},
                "service": service,
            }
        ],
    }


def replicate(doc, n):
    results = replications.run(doc, profile=national(), replications=n, root_seed=ROOT_SEED)
    return results, [r["sites"]["model"] for r in results]


def test_an_mmc_gate_array_waits_as_erlang_c():
    servers, mean_s, rho = 3, 2.0, 0.8
    rate = rho * servers / mean_s  # per second
    doc = document(name="mmc", servers=servers, queue="shared", service={"dist": "exponential", "mean": mean_s},
                   rate_per_hour=rate * 3600, duration_s=20_000)
    _, sites = replicate(doc, 20)
    ci = replications.interval([s["wait_mean_s"] for s in sites])
    expected = theory.mmc_mean_wait(rate, mean_s, servers)
    assert expected in ci, f"Erlang C {expected:.3f} s outside {ci} (root seed {ROOT_SEED})"


def test_an_mg1_kiosk_waits_as_pollaczek_khinchine():
    spec, rho = {"dist": "lognormal", "mean": 30.0, "cv": 0.8}, 0.7
    service = from_spec(spec, where="test")
    rate = rho / service.mean
    doc = document(name="mg1", servers=1, queue="shared", service=spec, rate_per_hour=rate * 3600,
                   duration_s=200_000)
    _, sites = replicate(doc, 30)
    ci = replications.interval([s["wait_mean_s"] for s in sites])
    expected = theory.mg1_mean_wait(rate, service.mean, service.second_moment)
    assert expected in ci, f"Pollaczek-Khinchine {expected:.3f} s outside {ci} (root seed {ROOT_SEED})"


def test_a_saturated_flap_gate_passes_the_gb50157_design_capacity():
    """GB 50157-2013: a door-leaf gate with contactless cards passes 1,800 persons/h, i.e. 2.0 s a
    person; fed that service time and a queue that never empties, the gate passes that many.
    (The renewal count in a window is t/E[S] + (cv² - 1)/2 on average, under a person short of
    1,800 in two hours: far inside the interval of 30 replications.)"""
    design_per_hour = 1800
    spec = {"dist": "lognormal", "mean": 3600 / design_per_hour, "cv": 0.3}
    doc = document(name="flap", servers=1, queue="per_server", service=spec, rate_per_hour=2 * design_per_hour,
                   duration_s=7200)
    _, sites = replicate(doc, 30)
    ci = replications.interval([s["throughput_per_hour"] for s in sites])
    assert design_per_hour in ci, f"{design_per_hour}/h outside {ci} (root seed {ROOT_SEED})"
    assert all(s["queue_peak"] > 1000 for s in sites)  # saturated: the queue kept growing


def rounding_bound(site) -> float:
    """Little's law is exact over a run that starts and ends empty; what separates the two sums is
    floating-point rounding, at most one machine epsilon per addition on each side."""
    return 4 * (site["arrivals"] + 1) * sys.float_info.epsilon


def test_littles_law_holds_on_every_shipped_scenario():
    for name in sorted(national().scenarios):
        doc = scenario.load(name, national()).document
        results = replications.run(doc, profile=national(), replications=1, root_seed=ROOT_SEED)
        for site_name, site in results[0]["sites"].items():
            gap = replications.littles_law_gap(site)
            assert gap <= rounding_bound(site), f"{name}/{site_name}: L vs λW gap {gap} (root seed {ROOT_SEED})"
            assert site["completed"] + site["balked"] == site["arrivals"]


def test_littles_law_holds_on_the_validation_models():
    doc = document(name="mmc", servers=3, queue="shared", service={"dist": "exponential", "mean": 2.0},
                   rate_per_hour=4320, duration_s=5000)
    results, sites = replicate(doc, 3)
    for site in sites:
        assert replications.littles_law_gap(site) <= rounding_bound(site)
        assert site["little"]["waits_sum"] > 0
