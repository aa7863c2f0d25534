"""The world's site mechanics: back-end outages (offline fallback or refusal), balking,
shortest-queue choice, the time-of-day arrival profile, and money on both sides."""

from __future__ import annotations

import random

import pytest
import simpy

from simulator.profile import ProfileError, national
from simulator.world import replication, replications, scenario
from simulator.world.arrivals import RateProfile, arrival_times
from simulator.world.backends import Backend
from simulator.world.distributions import from_spec
from simulator.world.stats import interval

ROOT_SEED = 3


def document(*, servers=4, balk_at=50, carriers=None, outages=(), rate_per_hour=2000, duration_s=3600, fare=300,
             arrivals=None):
    return {
        "id": "site-test",
        "description": "site mechanics",
        "source": "modelled: a test site",
        "duration_s": duration_s,
        "bin_s": 600,
        "backends": {
            "platform": {"capacity": 8, "latency_ms": {"dist": "constant", "value": 80}, "error_rate": 0,
                         "timeout_s": 1.0, "outages": [list(o) for o in outages]},
        },
        "sites": [{
            "name": "gates", "kind": "gate", "terminal": "metro_exit_gate", "servers": servers, "balk_at": balk_at,
            "before": ["approach_gate"], "after": ["walk_through"], "calls": [], "fare": fare,
            "arrivals": arrivals or [[0, rate_per_hour]],
            "carriers": carriers or {"contactless_card": 1}, "personas": {"transit": 1},
        }],
    }


def run(doc):
    return replication.run(scenario.resolve(doc), root_seed=ROOT_SEED, index=0)["sites"]["gates"]


def test_a_platform_outage_refuses_e_codes_and_sends_contact_cards_offline():
    doc = document(carriers={"e_code": 1, "contact_card": 1}, outages=[(0, 10**6)], rate_per_hour=600)
    site = run(doc)
    refused = site["rejections"].get("platform_unreachable", 0)
    assert refused > 0 and set(site["rejections"]) == {"platform_unreachable"}
    assert site["offline_fallbacks"] == site["completed"] - refused > 0  # every contact card, none of the e-codes
    money = site["money"]
    assert money["settled_online"] == 0 and money["settled_offline"] == money["holders"] == 300 * (
        site["completed"] - refused)


def test_without_an_outage_everything_settles_online():
    site = run(document(carriers={"e_code": 1, "contact_card": 1}, rate_per_hour=600))
    assert site["rejections"] == {} and site["offline_fallbacks"] == 0
    assert site["money"]["settled_offline"] == 0 and site["money"]["settled_online"] == 300 * site["completed"]


def test_an_outage_window_only_touches_those_inside_it():
    doc = document(carriers={"e_code": 1}, outages=[(1200, 2400)], rate_per_hour=600)
    site = run(doc)
    refused = site["rejections"]["platform_unreachable"]
    # about a third of the arrivals fall in the window: the refusals are neither none nor all
    assert 0 < refused < site["completed"]


def test_people_balk_at_a_full_queue_and_no_queue_grows_past_its_limit():
    site = run(document(servers=2, balk_at=5, rate_per_hour=6000))
    assert site["balked"] > 0
    assert site["queue_peak"] <= 2 * 5
    assert site["completed"] + site["balked"] == site["arrivals"]


def test_shortest_queue_choice_favours_the_first_of_equal_gates():
    """At light load most people find every gate free and take the first: gate use falls with the
    gate's position."""
    site = run(document(servers=4, rate_per_hour=1200))
    served = site["throughput_per_server_per_hour"]
    assert served == sorted(served, reverse=True) and served[0] > served[-1]


def test_the_arrival_profile_gives_its_expected_count():
    """Thinning reproduces the step profile: the expected count lies in the 95% interval of 30
    replications' counts."""
    profile = RateProfile([[0, 1000], [1800, 4000], [3600, 500]], where="test")
    counts = [sum(1 for _ in arrival_times(profile, 5400, random.Random(seed))) for seed in range(30)]
    assert profile.expected(5400) in interval(counts)
    times = list(arrival_times(profile, 5400, random.Random(0)))
    assert times == sorted(times) and times[0] >= 0 and times[-1] < 5400


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["sites"][0].update(carriers={"telepathy": 1}), "unknown carrier(s) ['telepathy']"),
    (lambda d: d["sites"][0].update(personas={"nobody": 1}), "persona(s)"),
    (lambda d: d["sites"][0].update(before=["teleport"]), "unknown human step(s) ['teleport']"),
    (lambda d: d["sites"][0].update(calls=[{"backend": "bank", "policy": "required"}]), "unknown back-end(s) ['bank']"),
    (lambda d: d["sites"][0].update(arrivals=[[10, 100]]), "starts at 0 s"),
    (lambda d: d["sites"][0].update(servers=0), "minimum"),
])
def test_a_bad_scenario_is_refused_naming_what_is_wrong(edit, message):
    doc = document()
    edit(doc)
    with pytest.raises((ProfileError, ValueError)) as refused:
        scenario.resolve(doc)
    assert message in str(refused.value) and "site-test" in str(refused.value)


def test_replications_summarise_with_intervals_and_conserved_money():
    results = replications.run(document(rate_per_hour=3000), profile=national(), replications=3, root_seed=ROOT_SEED)
    summary = replications.summarise(results)["sites"]["gates"]
    waits = [r["sites"]["gates"]["wait_mean_s"] for r in results]
    assert summary["wait_mean_s"]["mean"] == pytest.approx(sum(waits) / 3)
    assert summary["wait_mean_s"]["low"] < summary["wait_mean_s"]["mean"] < summary["wait_mean_s"]["high"]
    assert summary["money_conserved"]


def test_a_back_end_serves_capacity_requests_at_once_and_queues_the_rest_in_order():
    env = simpy.Environment()
    bank = Backend(env, name="bank", capacity=2, latency=from_spec({"dist": "constant", "value": 1.0}, where="test"),
                   error_rate=0, timeout_s=5, outages=[(10, 20)], rng=random.Random(ROOT_SEED))
    finished = []

    def request(name, at):
        yield env.timeout(at)
        outcome = yield from bank.call()
        finished.append((name, env.now, outcome))

    for name, at in (("a", 0), ("b", 0), ("c", 0), ("d", 0.5), ("e", 12)):
        env.process(request(name, at))
    env.run()
    assert finished == [("a", 1, "ok"), ("b", 1, "ok"), ("c", 2, "ok"), ("d", 2, "ok"), ("e", 17, "unreachable")]
    assert bank.in_use == 0 and not bank.waiting
    assert bank.calls == {"ok": 4, "error": 0, "unreachable": 1}


def test_the_queue_over_the_day_is_never_negative_and_adds_up_to_the_queue_integral():
    """Each bin holds the queue's integral over that bin alone, also when the queue was empty at
    a bin's edge (the bins move on without anyone waiting)."""
    site = run(document(rate_per_hour=1000, duration_s=7200))  # light load: often nobody waits at an edge
    over_day, bin_s, end = site["queue_over_day"], 600, site["end_s"]
    assert min(over_day) >= 0 and max(over_day) > 0
    widths = [min(bin_s, end - i * bin_s) for i in range(len(over_day))]
    assert sum(q * w for q, w in zip(over_day, widths, strict=True)) == pytest.approx(site["little"]["queue_area"])
