"""The purse under random sequences of loads, purchases, composite purchases, bad MACs and power cycles.

A small `RuleBasedStateMachine` keeps the model (balance, both ATCs, the 0x18 log) and predicts
every status word; the invariants are the purse's promises: the balance never goes below
-overdraft (PURSE-BAL-001), a wrong MAC is never accepted and moves nothing (PURSE-MAC-001), the
offline ATC rises by exactly one per committed debit (PURSE-ATC-001), and the log's newest
records are the committed transactions, newest first (PURSE-LOG-001). Derandomized, so CI sees
the same examples every run.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from test_epurse import COMPOSITE, LOAD, PURCHASE, SELECT, TRIP, PurseTerminal, log

from simulator.apdu import SW
from simulator.card.apps import epurse

pytestmark = [pytest.mark.clause(c) for c in ("PURSE-BAL-001", "PURSE-MAC-001", "PURSE-ATC-001", "PURSE-LOG-001")]

APP = "3F00/1001"
LOG_RECORDS = 10


class PurseMachine(RuleBasedStateMachine):
    @initialize(persona=st.sampled_from(["transit", "transit_sm4", "transit_low_balance"]), seed=st.integers(0, 9))
    def boot(self, persona: str, seed: int) -> None:
        self.t = PurseTerminal(persona, seed=seed)
        section = self.t.persona.sections["epurse"]
        self.balance = section["balance"]
        self.overdraft = section.get("overdraft_limit", 0)
        self.max_balance = self.t.card.image.applications[APP].params["max_balance"]
        self.atc = {"offline": 0, "online": 0}
        self.log: list[tuple[int, int, int]] = []  # (ATC, type, amount), newest first
        self.trips: list[bytes] = []
        self.last_debit: str | None = None
        self.proof = b""  # MAC2 ‖ TAC of the last committed transaction

    # -- value commands --
    @rule(amount=st.integers(0, 7000), composite=st.booleans(), right_mac=st.booleans(), trip=st.booleans())
    def purchase(self, amount: int, composite: bool, right_mac: bool, trip: bool) -> None:
        before = dict(self.t.card.nvm.data)
        record = bytes((len(self.trips) % 256,)) + TRIP[1:]
        stage = ((0, 0x1E, record),) if composite and trip else ()
        resp = self.t.purchase(amount, composite=composite, stage=stage, wrong_mac=not right_mac)
        event(f"{'composite ' if composite else ''}purchase: {resp.sw:04X}")
        if amount > self.balance + self.overdraft:
            assert resp.sw == SW.INSUFFICIENT_FUNDS
        elif not right_mac:
            assert resp.sw == SW.MAC_INVALID
        else:
            assert resp.sw == SW.OK
            assert resp.data == self.t.expected["tac"] + self.t.expected["mac2"]
            self.balance -= amount
            self.log.insert(0, (self.atc["offline"], COMPOSITE if composite else PURCHASE, amount))
            self.atc["offline"] += 1
            self.trips[:0] = [record] if stage else []
            self.proof = self.t.expected["mac2"] + self.t.expected["tac"]
            return
        assert self.t.card.nvm.data == before, "a refused purchase changed NVM"

    @rule(amount=st.one_of(st.integers(0, 5000), st.integers(90000, 120000)), right_mac=st.booleans())
    def load(self, amount: int, right_mac: bool) -> None:
        before = dict(self.t.card.nvm.data)
        resp = self.t.load(amount, wrong_mac=not right_mac)
        event(f"load: {resp.sw:04X}")
        if amount == 0 or self.balance + amount > self.max_balance:
            assert resp.sw == SW.WRONG_DATA
        elif not right_mac:
            assert resp.sw == SW.MAC_INVALID
        else:
            assert resp.sw == SW.OK and resp.data == self.t.expected["tac"]
            self.balance += amount
            self.log.insert(0, (self.atc["online"], LOAD, amount))
            self.atc["online"] += 1
            self.proof = self.t.expected["mac2"] + self.t.expected["tac"]
            return
        assert self.t.card.nvm.data == before, "a refused load changed NVM"

    # -- interruptions --
    @rule()
    def power_cycle(self) -> None:
        self.t.power_cycle()

    @rule(amount=st.integers(0, 100))
    def init_then_power_lost(self, amount: int) -> None:
        """An INITIALIZE whose DEBIT never comes: the transaction is forgotten with the power."""
        init = self.t.init_purchase(amount)
        if init.sw != SW.OK:
            return
        self.last_debit = self.t.debit_apdu(init.data, amount)
        self.t.power_cycle()

    @precondition(lambda self: self.last_debit is not None)
    @rule()
    def replay_last_debit(self) -> None:
        """A DEBIT with no transaction in progress (replayed, or after power loss) never pays."""
        before = dict(self.t.card.nvm.data)
        assert self.t.send(self.last_debit).sw == SW.CONDITIONS_NOT_SATISFIED
        assert self.t.card.nvm.data == before

    @rule()
    def reselect(self) -> None:
        self.t.ok(SELECT)

    @rule(proof_p2=st.sampled_from([PURCHASE, COMPOSITE, LOAD]))
    def prove_last(self, proof_p2: int) -> None:
        resp = self.t.send(f"805A00{proof_p2:02X}02{(self.log[0][0] + 1) if self.log else 1:04X}08")
        if self.log and self.log[0][1] == proof_p2:
            assert resp.data == self.proof
        else:
            assert resp.sw == SW.MAC_UNAVAILABLE

    # -- invariants --
    @invariant()
    def balance_is_the_model_and_never_below_the_overdraft(self) -> None:
        assert self.t.balance() == self.balance >= -self.overdraft

    @invariant()
    def counters_rise_by_one_per_committed_transaction(self) -> None:
        nvm = self.t.card.nvm
        assert int.from_bytes(nvm[epurse.atc_key(APP, "offline")], "big") == self.atc["offline"]
        assert int.from_bytes(nvm[epurse.atc_key(APP, "online")], "big") == self.atc["online"]

    @invariant()
    def log_holds_the_newest_committed_transactions(self) -> None:
        records = [log(r) for r in self.t.records(0x18)]
        assert [(r["atc"], r["type"], r["amount"]) for r in records] == self.log[:LOG_RECORDS]
        assert all(r["overdraft"] == self.overdraft for r in records)
        assert self.t.records(0x1E) == self.trips[:LOG_RECORDS]


TestPurseMachine = PurseMachine.TestCase
TestPurseMachine.settings = settings(max_examples=200, stateful_step_count=40, derandomize=True, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
