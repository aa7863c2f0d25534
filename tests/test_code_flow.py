"""The reference scenic gate and bus validator admitting by e-code (simulator/devices/code_flow.py).

The codes come from the platform (the issuing side), never from the terminal: online the terminal
asks the platform, offline it holds the platform's key chain; the expected decisions are the
profile's (terminals.yaml `ecode`, ecode.yaml windows) and what the platform was told (a card
reported lost). A platform that gives no answer makes the terminal verify offline and say so.
"""

from __future__ import annotations

from datetime import date

import pytest

from conformance.adapters.sim import REFERENCE_TERMINALS
from simulator import ecode
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.port import InProcessPlatform
from simulator.backend.ports import Unavailable
from simulator.clock import Clock
from simulator.devices.terminal import Step
from simulator.privacy import mask_value
from simulator.profile import load

TERMINALS = load("national/terminals", "terminals")
CODES = load("national/ecode", "ecode")
CARD, LOST = "K00000001", "K00000002"
#: terminal kind -> (the code kind it admits, one it does not)
KINDS = {"bus": ("ride", "essc"), "scenic": ("essc", "ride")}
FLAT_FARE = min(TERMINALS["bus"]["flat_fare"], TERMINALS["max_single_fare"])


def reason(outcome: str) -> str:
    return TERMINALS["ecode"]["verdicts"][outcome]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(clock) -> Platform:
    platform = Platform(open_store(":memory:"), clock=clock, seed=11, operator_secret=b"\x07" * 32)
    for number, citizen in ((CARD, "410203198506150131"), (LOST, "410203199001010022")):
        platform.issue_card(card_number=number, citizen_id=citizen, name="测试甲", birth_date=date(1985, 6, 15),
                            region="410200")
    for purpose in ("transit", "scenic"):
        platform.register_department(department_id=purpose, name=purpose, purpose=purpose, callback_url=None)
    return platform


def terminal(kind: str, clock: Clock, platform: Platform, *, port=None, blacklist=frozenset()):
    """The reference terminal of `kind` holding the platform's key chain, online through `port`."""
    return REFERENCE_TERMINALS[kind](clock=clock, blacklist=blacklist, ecode_keys=platform.key_chain, platform=port)


class Down:
    """A platform port that never answers; it counts the requests it was sent."""

    def __init__(self) -> None:
        self.calls = 0

    def verify_ecode(self, request):
        self.calls += 1
        raise Unavailable("platform timed out")


def test_every_verdict_of_the_verification_has_its_own_decision_reason():
    verdicts = TERMINALS["ecode"]["verdicts"]
    assert set(verdicts) == {r.value for r in ecode.Reason}
    assert len(set(verdicts.values())) == len(verdicts), "two verdicts share a decision reason"
    accepted = {outcome for outcome, code in verdicts.items() if TERMINALS["reasons"][code]["accepted"]}
    assert accepted == {"valid"}
    assert set(TERMINALS["ecode"]["admits"]) == {k for k, caps in load("national/ics", "ics")["terminal_kinds"].items()
                                                 if "ecode" in caps}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_offline_a_code_is_admitted_once_then_replayed_then_expired(kind, clock, platform):
    admits, _ = KINDS[kind]
    gate = terminal(kind, clock, platform)
    payload = platform.issue_ecode(card_number=CARD, kind=admits).encode()
    first = gate.present_code(payload)
    assert (first.reason, first.accepted, first.card) == (reason("valid"), True, mask_value("card_number", CARD))
    assert first.evidence == {"verified": "offline", "code_kind": admits,
                              **({"charge": "deferred"} if kind == "bus" else {})}
    assert (first.fare, first.amount, first.debited) == ((FLAT_FARE,) * 2 + (0,) if kind == "bus" else (0, 0, 0))
    assert gate.present_code(payload).reason == reason("replayed")
    clock.advance(CODES["kinds"][admits]["validity_seconds"] + 1)
    assert gate.present_code(payload).reason == reason("expired")
    assert [d.reason for d in gate.journal] == [reason(o) for o in ("valid", "replayed", "expired")]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_offline_each_refusal_has_its_reason(kind, clock, platform):
    admits, other = KINDS[kind]
    gate = terminal(kind, clock, platform, blacklist=frozenset({LOST}))
    good = platform.issue_ecode(card_number=CARD, kind=admits).encode()
    forged = good[:-1] + bytes([good[-1] ^ 1])
    test_only = ecode.KeyChain([k for k in platform.key_chain.keys.values() if k.test])
    cases = {
        "malformed": (gate, good[:100]),
        "wrong_kind": (gate, platform.issue_ecode(card_number=CARD, kind=other).encode()),
        "wrong_signature": (gate, forged),
        "revoked_card": (gate, platform.issue_ecode(card_number=LOST, kind=admits).encode()),
        "unknown_ca_key": (REFERENCE_TERMINALS[kind](clock=clock, blacklist=frozenset(), ecode_keys=test_only), good),
    }
    for outcome, (who, payload) in cases.items():
        decision = who.present_code(payload)
        assert (decision.reason, decision.accepted, decision.debited) == (reason(outcome), False, 0), outcome
    assert gate.present_code(good).accepted  # none of the refusals above burnt the code in the gate's log


def test_online_the_platform_decides_and_a_lost_card_is_refused(clock, platform):
    gate = terminal("scenic", clock, platform, port=InProcessPlatform(platform, "scenic"))
    payload = platform.issue_ecode(card_number=LOST, kind="essc").encode()
    platform.transition(LOST, "report_lost")  # after issue: only the live registry knows
    decision = gate.present_code(payload)
    assert (decision.reason, decision.evidence["verified"]) == (reason("revoked_card"), "online")
    fresh = platform.issue_ecode(card_number=CARD, kind="essc").encode()
    assert gate.present_code(fresh).evidence == {"verified": "online", "code_kind": "essc"}
    assert gate.present_code(fresh).reason == reason("replayed")


def test_online_the_verification_is_a_backend_step_the_world_can_time(clock, platform):
    gate = terminal("bus", clock, platform, port=InProcessPlatform(platform, "transit"))
    steps = gate.code_presentation(platform.issue_ecode(card_number=CARD, kind="ride").encode())
    step = next(steps)
    assert isinstance(step, Step) and step.kind == "backend"
    with pytest.raises(StopIteration) as done:
        steps.send(step.call())
    assert done.value.value.reason == reason("valid") and gate.journal == [done.value.value]


def test_a_wrong_kind_is_refused_without_asking_the_platform(clock, platform):
    down = Down()
    gate = terminal("bus", clock, platform, port=down)
    decision = gate.present_code(platform.issue_ecode(card_number=CARD, kind="essc").encode())
    assert (decision.reason, down.calls) == (reason("wrong_kind"), 0)


def test_an_unavailable_platform_falls_back_offline_and_the_code_stays_used(clock, platform):
    down = Down()
    gate = terminal("bus", clock, platform, port=down)
    payload = platform.issue_ecode(card_number=CARD, kind="ride").encode()
    decision = gate.present_code(payload)
    assert (decision.reason, down.calls) == (reason("valid"), 1)
    assert decision.evidence["verified"] == "offline" and decision.evidence["fallback"] is True
    assert "platform unavailable" in decision.detail
    gate.platform = InProcessPlatform(platform, "transit")  # the platform is back; it never saw the code
    assert gate.present_code(payload).reason == reason("replayed")


def test_online_the_terminals_own_blacklist_still_refuses(clock, platform):
    gate = terminal("scenic", clock, platform, port=InProcessPlatform(platform, "scenic"),
                    blacklist=frozenset({CARD}))
    decision = gate.present_code(platform.issue_ecode(card_number=CARD, kind="essc").encode())
    assert (decision.reason, decision.evidence["verified"]) == (reason("revoked_card"), "online")


def test_the_reference_terminals_hold_the_profiles_certification_key_chain(clock):
    gate = REFERENCE_TERMINALS["scenic"](clock=clock, blacklist=frozenset())
    low, high = CODES["ca_keys"]["test_indices"]
    assert {k.index: (k.public_key.hex().upper(), k.test) for k in gate.code_keys.keys.values()} == {
        k["index"]: (k["public_key"], low <= k["index"] <= high) for k in CODES["ca_keys"]["keys"]}
    assert not gate.code_keys.accept_test_keys
