"""Full-logic fidelity: the world drives the reference terminals' own steps in simulated time and
gets exactly what `present()` gets (decision, money, the card's state), its clock moved by the
steps' modelled time; the sampled fidelity's outcome table agrees with those decisions."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
import simpy

from simulator.clock import START, Clock
from simulator.devices.terminal import certification_blacklist
from simulator.devices.transit import LoadKiosk
from simulator.profile import load, national
from simulator.transport import InProcessTransport
from simulator.world import full_logic, replication, replications, scenario
from simulator.world.backends import Backend
from simulator.world.distributions import from_spec

ROOT_SEED = 11
WORLD = load("national/world", "world")
CASES = [(t, p) for t in full_logic.REFERENCES for p in WORLD["terminals"][t]["outcomes"]]


def setup(terminal: str, persona: str, clock):
    """A reference terminal and a fresh card of `persona` (an exit gate's card entered elsewhere)."""
    reference = full_logic.REFERENCES[terminal]
    gate = reference.build(1, national(), clock=clock, blacklist=certification_blacklist(national()))
    card = full_logic.card_of(persona, random.Random(ROOT_SEED))
    link = InProcessTransport(card)
    if reference.prepare:
        reference.prepare(clock, national())(link)
    return gate, card, link


def comparable(decision) -> dict:
    """A decision without what differs by design: the wall time, and the transaction's time stamp,
    which the world's clock has moved on by the steps before it (checked apart)."""
    out = {k: v for k, v in decision.as_dict().items() if k != "wall_ms"}
    out["evidence"] = {k: v for k, v in out["evidence"].items() if k != "time"}
    return out


def stamped_within(decision, seconds: float) -> bool:
    """The transaction's time stamp lies between START and START + `seconds` (the world's clock)."""
    if "time" not in decision.evidence:
        return True
    return START <= datetime.fromisoformat(decision.evidence["time"]) <= START + timedelta(seconds=seconds)


@pytest.mark.parametrize(("terminal", "persona"), CASES)
def test_the_world_gets_what_present_gets(terminal, persona):
    gate, card, link = setup(terminal, persona, Clock(START))
    expected = gate.present(link)

    env = simpy.Environment()
    world_gate, world_card, world_link = setup(terminal, persona, full_logic.world_clock(env))
    done = env.process(full_logic.timed(env, world_gate.presentation(world_link), None))
    env.run()
    got = done.value

    assert comparable(got) == comparable(expected)
    assert stamped_within(got, env.now)
    assert world_card.nvm.data == card.nvm.data  # the card's own state, money included
    assert world_gate.journal[-1] is got
    # the world's clock moved by the steps' modelled time (two sums of the same terms, rounded apart)
    assert env.now == pytest.approx(expected.modelled_ms / 1e3, rel=1e-12)
    assert got.reason == WORLD["terminals"][terminal]["outcomes"][persona], "the sampled outcome table disagrees"


def test_a_back_end_step_waits_for_the_worlds_back_end():
    """The load kiosk's issuer authorisation is a back-end step: the world answers it after the
    back-end's round trip, and the decision is the one present() gives."""
    def kiosk(clock):
        return LoadKiosk(terminal_id="000000000301", clock=clock, amount=1000)

    card = full_logic.card_of("transit", random.Random(ROOT_SEED))
    expected = kiosk(Clock(START)).present(InProcessTransport(card))

    env = simpy.Environment()
    bank = Backend(env, name="bank", capacity=1, latency=from_spec({"dist": "constant", "value": 0.25}, where="test"),
                   error_rate=0, timeout_s=1, outages=(), rng=random.Random(ROOT_SEED))
    world_card = full_logic.card_of("transit", random.Random(ROOT_SEED))
    presentation = kiosk(full_logic.world_clock(env)).presentation(InProcessTransport(world_card))
    done = env.process(full_logic.timed(env, presentation, bank))
    env.run()

    assert expected.reason == "OK" and comparable(done.value) == comparable(expected)
    assert stamped_within(done.value, env.now)
    assert env.now == pytest.approx(expected.modelled_ms / 1e3 + 0.25, rel=1e-12)
    assert bank.calls["ok"] == 1
    assert full_logic.purse_balance(world_card) == full_logic.purse_balance(card)


def test_a_full_logic_bus_replication_conserves_money_on_the_cards():
    doc = dict(scenario.load("bus-line", national()).document)
    doc["duration_s"] = 2 * 3600
    doc["sites"] = [dict(doc["sites"][0], fidelity="full_logic")]
    result = replication.run(scenario.resolve(doc), root_seed=ROOT_SEED, index=0)
    site = result["sites"]["front-door"]
    assert site["money"]["holders"] > 0, f"nothing was charged (root seed {ROOT_SEED})"
    assert replications.money_conserved(site), f"{site['money']} (root seed {ROOT_SEED})"
    outcomes = WORLD["terminals"]["bus_validator"]["outcomes"]
    rejected_personas = {p for p in doc["sites"][0]["personas"] if outcomes[p] != "OK"}
    assert set(site["rejections"]) <= {outcomes[p] for p in rejected_personas}
    assert site["completed"] + site["balked"] == site["arrivals"]
