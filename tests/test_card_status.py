"""A card reported lost reaches the reference gates: online at once, offline through the delta
blacklist within the propagation delay of profiles/national/platform.yaml, and back after 解挂; a
reissued card works and the card it superseded is refused. The platform is the real one (its HTTP
API for one gate, its port in-process for the others); the cards are persona cards, registered with
the chip identifiers a terminal reads. Oracles: the lifecycle and the delays of the profile."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from conformance.adapters.sim import REFERENCE_TERMINALS
from simulator.backend import ports
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app
from simulator.backend.platform.client import DepartmentClient
from simulator.backend.platform.http_port import HttpPlatform
from simulator.backend.platform.port import InProcessPlatform
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF, Clock
from simulator.profile import load
from simulator.transport import InProcessTransport

BLACKLIST = load("national/platform", "platform")["blacklist"]
REFRESH, DELAY = BLACKLIST["refresh_interval_seconds"], BLACKLIST["propagation_delay_seconds"]
OPERATOR = b"\x07" * 32


class Switchable:
    """A platform port whose link the test cuts: while `down`, every call is `ports.Unavailable`."""

    def __init__(self, port: ports.PlatformPort) -> None:
        self.port, self.down, self.calls = port, False, 0

    def __getattr__(self, name: str):
        call = getattr(self.port, name)

        def through(request):
            self.calls += 1
            if self.down:
                raise ports.Unavailable(f"{name}: the platform does not answer")
            return call(request)
        return through


class City:
    """One platform, its cards (persona name -> card), and gates of each reference kind on its clock."""

    def __init__(self, *names: str) -> None:
        self.clock = Clock()
        self.platform = Platform(open_store(":memory:"), clock=self.clock, seed=3, operator_secret=OPERATOR)
        for department, purpose in (("metro", "transit"), ("bus", "transit"), ("park", "scenic")):
            self.platform.register_department(department_id=department, name=department, purpose=purpose,
                                              callback_url=None)
        self.personas = {name: personas.resolve(name, as_of=AS_OF) for name in names}
        for persona in self.personas.values():
            self.issue(persona)
        self.cards = {name: CardOS(personas.image_of(p), rng=random.Random(name)) for name, p in self.personas.items()}

    def issue(self, persona: personas.Persona) -> None:
        v = persona.values
        self.platform.issue_card(card_number=v["card_number"], citizen_id=v["citizen_id"], name=v["name"],
                                 birth_date=v["birth_date"], region="410200", chips=personas.chip_identifiers(persona))

    def number(self, name: str) -> str:
        return self.personas[name].values["card_number"]

    def gate(self, kind: str, department: str) -> tuple[object, Switchable]:
        port = Switchable(InProcessPlatform(self.platform, department))
        return REFERENCE_TERMINALS[kind](clock=self.clock, platform=port), port

    def tap(self, terminal, name: str):
        return terminal.present(InProcessTransport(self.cards[name]))


def test_an_online_gate_refuses_a_lost_card_at_once_and_admits_it_again_after_unreport():
    city = City("transit")
    gate, port = city.gate("gate_entry", "metro")
    first = city.tap(gate, "transit")
    assert (first.reason, first.evidence["card_status"]) == ("OK", "online")
    city.platform.transition(city.number("transit"), "report_lost")
    lost = city.tap(gate, "transit")
    assert (lost.reason, lost.evidence["card_status"], lost.debited) == ("BLACKLISTED", "online", 0)
    city.platform.transition(city.number("transit"), "unreport")
    assert city.tap(gate, "transit").reason == "OK"


def test_an_offline_validator_refuses_a_lost_card_within_the_propagation_delay_through_the_delta():
    assert REFRESH <= DELAY  # the profile's promise the mechanism keeps
    city = City("transit")
    bus, port = city.gate("bus", "bus")
    assert city.tap(bus, "transit").reason == "OK"  # the first tap fetched the whole (empty) list
    assert bus.status.version == 0
    city.platform.transition(city.number("transit"), "report_lost")
    reported = city.clock()
    decisions = []
    while city.clock() - reported <= timedelta(seconds=DELAY):
        decision = city.tap(bus, "transit")
        decisions.append(decision.reason)
        if decision.reason == "BLACKLISTED":
            assert decision.evidence["card_status"] == "offline"
            break
        city.clock.advance(10)
    assert decisions[-1] == "BLACKLISTED", f"still {decisions[-1]} {DELAY} s after the report"
    assert city.clock() - reported <= timedelta(seconds=REFRESH)
    assert bus.status.version == 1  # it came as a delta: one change after the version held
    city.platform.transition(city.number("transit"), "unreport")
    city.clock.advance(REFRESH)
    assert city.tap(bus, "transit").reason == "OK"


def test_an_online_gate_cut_off_from_the_platform_decides_from_its_delta_list_and_never_blocks():
    city = City("transit", "transit_elderly")
    gate, port = city.gate("gate_entry", "metro")
    city.tap(gate, "transit")
    city.platform.transition(city.number("transit"), "report_lost")
    city.clock.advance(REFRESH)
    city.tap(gate, "transit_elderly")  # a tap after the refresh interval fetched the delta
    port.down = True
    lost, other = city.tap(gate, "transit"), city.tap(gate, "transit_elderly")
    assert (lost.reason, lost.evidence["card_status"]) == ("BLACKLISTED", "offline")
    assert (other.reason, other.evidence["card_status"]) == ("OK", "offline")


def test_a_reissued_card_works_and_the_superseded_one_is_refused_online_and_offline():
    city = City("transit")
    new = personas.resolve("transit_elderly", as_of=AS_OF)  # the new card's chip and number
    entry, _ = city.gate("gate_entry", "metro")
    bus, _ = city.gate("bus", "bus")
    city.tap(bus, "transit")
    city.platform.transition(city.number("transit"), "reissue", new_card_number=new.values["card_number"],
                             new_chips=personas.chip_identifiers(new))
    city.personas["new"], city.cards["new"] = new, CardOS(personas.image_of(new), rng=random.Random(2))
    city.clock.advance(REFRESH)
    assert [city.tap(entry, "transit").reason, city.tap(entry, "new").reason] == ["BLACKLISTED", "OK"]
    assert [city.tap(bus, "transit").reason, city.tap(bus, "new").reason] == ["BLACKLISTED", "OK"]


def test_a_scenic_gate_asks_by_the_card_identifier_and_a_foreign_card_is_decided_locally():
    city = City("elderly")
    park, _ = city.gate("scenic", "park")
    assert city.tap(park, "elderly").evidence["card_status"] == "online"
    city.platform.transition(city.number("elderly"), "cancel")
    assert city.tap(park, "elderly").reason == "BLACKLISTED"
    stranger = City("normal")  # a card this platform never issued
    foreign = REFERENCE_TERMINALS["scenic"](clock=city.clock, platform=InProcessPlatform(city.platform, "park"))
    decision = foreign.present(InProcessTransport(stranger.cards["normal"]))
    # past the status check to the entitlement (an adult pays): not refused for being unknown here
    assert (decision.reason, decision.evidence["card_status"]) == ("NOT_ENTITLED", "local")


def test_the_gate_reaches_the_served_platform_through_its_http_port():
    city = City("transit")
    secret = city.platform.register_department(department_id="metro-http", name="metro", purpose="transit",
                                               callback_url=None)
    client = DepartmentClient(TestClient(make_app(city.platform)), department="metro-http", secret=secret,
                              clock=city.clock, rng=random.Random(4))
    gate = REFERENCE_TERMINALS["gate_entry"](clock=city.clock, platform=HttpPlatform(client))
    assert city.tap(gate, "transit").evidence["card_status"] == "online"
    city.platform.transition(city.number("transit"), "report_lost")
    assert city.tap(gate, "transit").reason == "BLACKLISTED"
    assert gate.status.version == 0  # the list was fetched (signed, over HTTP) on the first tap


@pytest.mark.parametrize("kind", ["gate_entry", "bus", "scenic"])
def test_a_terminal_without_a_platform_keeps_its_provisioned_list_and_says_nothing_about_status(kind):
    terminal = REFERENCE_TERMINALS[kind](clock=Clock(), blacklist=frozenset())
    persona = "elderly" if kind == "scenic" else "transit"
    decision = terminal.present(InProcessTransport(CardOS(personas.image(persona, as_of=AS_OF))))
    assert decision.accepted and "card_status" not in decision.evidence
    assert not terminal.status.online
