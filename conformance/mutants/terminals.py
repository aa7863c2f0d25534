"""Seeded-defect terminals: a reference terminal with one defect each, for the terminal suite.

Each `build(**kw)` takes what `conformance.adapters.sim.REFERENCE_TERMINALS` factories take
(`clock`, `blacklist`) and returns a `Terminal`, so `--dut sim:mutant=NAME` certifies it in place
of its reference terminal. A defect lives in a small subclass overriding one step, never in a flag
inside the reference code. The reference terminals expose their steps as
methods for this (the purse terminals' `open`/`admit`/`cardholder_bytes`, the POS's `choose`/`judge`).
"""

from __future__ import annotations

import dataclasses
import time

from conformance.adapters.sim import reference_pos, reference_psam
from simulator import ecode
from simulator.apdu import SW
from simulator.card.commands_security import encode_pin
from simulator.devices.decision import Decision
from simulator.devices.pos import QuickPassPOS
from simulator.devices.purse_client import PURSE_AID, CardRefused, PurseCard, PurseInfo
from simulator.devices.scenic import ScenicGate
from simulator.devices.transit import BusValidator, MetroGate, Plan
from simulator.transport.base import Transport

from . import Mutant

DEFAULT_PIN = "123456"  # the issuer's default (ssse.yaml pin.default): what a careless terminal tries


# -- admission ---------------------------------------------------------------------------------------
class SkipsExpiry(BusValidator):
    checks = ("blacklist", "start")


class ChargesNotYetValid(BusValidator):
    checks = ("blacklist", "expiry")


class IgnoresBlacklist(MetroGate):
    checks = ("start", "expiry")


class IgnoresLock(BusValidator):
    """Does not look at SELECT's status word: reads on after 9303 and calls the refusals a card error."""

    def open(self, card: Transport) -> tuple[PurseCard, PurseInfo] | Decision:
        purse = PurseCard(card)
        card.send(0x00, 0xA4, 0x04, 0x00, PURSE_AID, le=0)
        try:
            return purse, PurseInfo(purse.read_binary(0x15, 30))
        except CardRefused as refused:
            return self.decide("CARD_ERROR", detail=str(refused))


class LetsLowBalanceThrough(BusValidator):
    """Opens for a card whose purse cannot pay (INITIALIZE 9401): a free ride."""

    def _charge(self, purse, info, card_type, plan):
        decision = super()._charge(purse, info, card_type, plan)
        if decision.reason != "INSUFFICIENT_FUNDS":
            return decision
        return self.decide("OK", card=decision.card, fare=decision.fare, detail="let through: fare owed")


class FinesMissingEntry(MetroGate):
    """Charges the maximum fare to a card with no open journey, then refuses it (NO_ENTRY)."""

    def plan(self, purse, info):
        planned = super().plan(purse, info)
        if not (isinstance(planned, Decision) and planned.reason == "NO_ENTRY"):
            return planned
        fine = self._charge(purse, info, 0x01, Plan(self.terminals["max_single_fare"]))
        return dataclasses.replace(planned, amount=fine.amount, fare=fine.fare, debited=fine.debited,
                                   detail="no entry record: maximum fare charged")


# -- the debit's proof and its recovery ----------------------------------------------------------------
class AcceptsBadMac2(BusValidator):
    def _verified(self, *args, **kw):
        return super()._verified(*args, **{**kw, "check_mac2": False})


class IgnoresTac(MetroGate):
    """Computes the TAC but lets a mismatch through."""

    def _verified(self, *args, **kw):
        decision = super()._verified(*args, **kw)
        return dataclasses.replace(decision, reason="OK") if decision.reason == "TAC_INVALID" else decision


class ForgetsTornDebit(BusValidator):
    """Forgets the torn debit: the retap is charged afresh even when the card had committed it."""

    def _resolve(self, purse, info):
        self.pending = None
        return None


class _Misrecords:
    """Records `delta` fen more debited than the card paid (less, for a negative delta): amount,
    debited and balance after all agree with each other, not with the card."""

    delta: int

    def _verified(self, *args, **kw):
        decision = super()._verified(*args, **kw)
        if not decision.debited or decision.debited + self.delta < 0:
            return decision
        return dataclasses.replace(decision, amount=decision.amount + self.delta, debited=decision.debited + self.delta,
                                   balance_after=decision.balance_after - self.delta)


class RecordsLessThanDebited(_Misrecords, BusValidator):
    delta = -100


class RecordsMoreThanDebited(_Misrecords, MetroGate):
    delta = 100


class LosesPreBalance(BusValidator):
    """Remembers the balance after the fare as the balance before it, so on the retap a committed
    debit looks uncommitted (charged again) and an uncommitted one looks unresolvable (never charged)."""

    def _resolve(self, purse, info):
        if self.pending is not None and self.pending.serial == info.serial:
            self.pending.pre_balance -= self.pending.amount
        return super()._resolve(purse, info)


# -- fares and entitlement -----------------------------------------------------------------------------
class FullFareElderly(MetroGate):
    """Its concession table lacks card type 03 (elderly): they pay the full fare."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        concessions = self.terminals["concessions"]
        table = {k: v for k, v in concessions["by_card_type"].items() if k != "03"}
        self.terminals = {**self.terminals, "concessions": {**concessions, "by_card_type": table}}


class NextFareBand(MetroGate):
    """Off by one in the fare table: charges the band after the one the distance falls in."""

    def fare_between(self, a: str, b: str) -> int:
        fare = super().fare_between(a, b)
        bands = [band["fare"] for band in self.terminals["metro"]["fare_table"]]
        return bands[bands.index(fare) + 1] if fare in bands[:-1] else fare


class EntitlesEveryone(ScenicGate):
    """Free entry from age 0: every valid card is entitled."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.terminals = {**self.terminals, "scenic": {**self.terminals["scenic"], "free_from_age": 0}}


# -- data minimisation ---------------------------------------------------------------------------------
class ReadsCardholder(BusValidator):
    """Reads the whole cardholder file 0x16 (name, ID number) to get the card type."""

    cardholder_bytes = 55


class ScenicReadsName(ScenicGate):
    """Reads 姓名 as well, to greet the visitor by name."""

    def _read(self, card: Transport, name: str) -> bytes | None:
        if name == "birth_date":
            super()._read(card, "name")
        return super()._read(card, name)


class ScenicTriesPin(ScenicGate):
    """Tries the issuer's default PIN before reading 出生日期, as 2nd-generation readers do."""

    def _read(self, card: Transport, name: str) -> bytes | None:
        if name == "birth_date":
            card.send(0x00, 0x20, 0x00, 0x00, encode_pin(DEFAULT_PIN))
        return super()._read(card, name)


@dataclasses.dataclass
class _VisitorLog(Decision):
    visitor: dict = dataclasses.field(default_factory=dict)


class ScenicRecordsVisitor(ScenicGate):
    """Keeps a visitor log in its decision records: 姓名 and 社会保障号码 as a `visitor` field, 出生日期
    as evidence of the entitlement (it reads 姓名 and 社会保障号码 to do so)."""

    def transact(self, card: Transport) -> Decision:
        decision = super().transact(card)
        if "age" not in decision.evidence:
            return decision
        holder = {n: self.elements[n].parse_record(self._read(card, n) or b"")
                  for n in ("name", "citizen_id", "birth_date")}
        fields = {f.name: getattr(decision, f.name) for f in dataclasses.fields(decision)}
        fields["evidence"] = {**decision.evidence, "birth_date": holder["birth_date"].isoformat()}
        return _VisitorLog(**fields, visitor={"name": holder["name"], "citizen_id": holder["citizen_id"]})


# -- time and selection --------------------------------------------------------------------------------
class RereadsTripLog(BusValidator):
    """Reads the whole 0x1E trip log ten times over before the debit (a display refresh in the
    transaction path): the purchase takes far longer than the limit."""

    def plan(self, purse, info):
        planned = super().plan(purse, info)
        records = next(f["max_records"] for f in self.purse_profile["files"] if f["sfi"] == 0x1E)
        for _ in range(10):
            for number in range(1, records + 1):
                purse.read_record(0x1E, number)
        return planned


class StallsBeforeDebit(BusValidator):
    """Waits on the wall clock between planning the fare and the debit (a back-office lookup in the
    transaction path): the purchase takes longer than the limit, whatever its timing model says."""

    stall_seconds = 0.6

    def plan(self, purse, info):
        planned = super().plan(purse, info)
        time.sleep(self.stall_seconds)
        return planned


class SelectsPurseByFid(MetroGate):
    """Selects the purse by the file identifier it has on this issuer's cards (1001), not by its AID."""

    def open(self, card: Transport) -> tuple[PurseCard, PurseInfo] | Decision:
        selected = card.send(0x00, 0xA4, 0x00, 0x00, bytes.fromhex("1001"), le=0)
        if selected.sw != SW.OK:
            return self.decide("NO_APPLICATION", detail=f"SELECT 1001 {selected.sw:04X}")
        purse = PurseCard(card)
        return purse, PurseInfo(purse.read_binary(0x15, 30))


class FirstPpseEntry(QuickPassPOS):
    """Takes the first application the PPSE lists, whatever its RID."""

    def choose(self, entries: list[tuple[int, bytes]]) -> bytes | None:
        return entries[0][1] if entries else None


class TrustsGpo(QuickPassPOS):
    """Approves offline whenever GET PROCESSING OPTIONS answers, whatever the card decided."""

    def judge(self, cid, card_tags, terminal):
        return super().judge("TC", card_tags, terminal)


class SendsTcOnline(QuickPassPOS):
    """Sends an offline approval (TC) online as if it were an ARQC: the card has already debited."""

    def judge(self, cid, card_tags, terminal):
        return super().judge("ARQC" if cid == "TC" else cid, card_tags, terminal)


# -- admission by e-code ------------------------------------------------------------------------------
class _ForgetsCodes:
    """A duplicate log that never remembers a code."""

    def first_use(self, code_id: bytes, *, now: int, until: int) -> bool:
        return True


class ScenicAcceptsReplayedCode(ScenicGate):
    """Keeps no duplicate log: the same e-SSC code lets a whole queue in."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.code_log = _ForgetsCodes()


class _Overlooks:
    """Takes a code its verification refused for `overlooked` as if it were valid."""

    overlooked: ecode.Reason

    def verify_offline(self, payload: bytes) -> ecode.Verdict:
        verdict = super().verify_offline(payload)
        return dataclasses.replace(verdict, reason=ecode.Reason.VALID) if verdict.reason is self.overlooked else verdict


class BusIgnoresCodeWindow(_Overlooks, BusValidator):
    overlooked = ecode.Reason.EXPIRED


class ScenicSkipsCodeSignature(_Overlooks, ScenicGate):
    overlooked = ecode.Reason.WRONG_SIGNATURE


class BusTakesTestKeys(BusValidator):
    """Left in test mode: takes codes valid only under a test CA key."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.code_keys.accept_test_keys = True


class ScenicIgnoresCodeBlacklist(ScenicGate):
    """Checks its blacklist for cards, not for the card an e-code carries."""

    def code_revoked(self, card_number: str) -> bool:
        return False


# -- factories, as conformance.adapters.sim.REFERENCE_TERMINALS -----------------------------------------
def _bus(cls):
    return lambda profile=None, **kw: cls(terminal_id="B0001", psam=reference_psam("000000000201", profile),
                                          profile=profile, **kw)


def _entry(cls):
    return lambda profile=None, **kw: cls(terminal_id="G0101", station="0101", direction="entry",
                                          psam=reference_psam("000000000101", profile), profile=profile, **kw)


def _exit(cls):
    return lambda profile=None, **kw: cls(terminal_id="G0105", station="0105", direction="exit",
                                          psam=reference_psam("000000000105", profile), profile=profile, **kw)


def _scenic(cls):
    return lambda profile=None, **kw: cls(terminal_id="S0001", profile=profile, **kw)


def _pos(cls):
    return reference_pos(cls=cls)


_KINDS = {_bus: "bus", _entry: "gate_entry", _exit: "gate_exit", _scenic: "scenic", _pos: "pos"}


def _mutant(name: str, defect: str, factory, cls) -> Mutant:
    return Mutant(name=name, role="terminal", defect=defect, build=factory(cls), kind=_KINDS[factory])


MUTANTS = [
    _mutant("bus_skips_expiry", "does not check the purse's expiry date", _bus, SkipsExpiry),
    _mutant("bus_charges_not_yet_valid", "does not check the purse's start date", _bus, ChargesNotYetValid),
    _mutant("gate_ignores_blacklist", "does not check its blacklist", _entry, IgnoresBlacklist),
    _mutant("bus_ignores_9303", "reads on after SELECT answers 9303 (locked) and calls it a card error", _bus,
            IgnoresLock),
    _mutant("bus_lets_low_balance_through", "lets a card through when its purse cannot pay the fare", _bus,
            LetsLowBalanceThrough),
    _mutant("gate_fines_missing_entry", "charges the maximum fare to a card without an entry, then refuses it",
            _exit, FinesMissingEntry),
    _mutant("bus_accepts_bad_mac2", "does not verify the card's MAC2", _bus, AcceptsBadMac2),
    _mutant("gate_ignores_tac", "lets a TAC mismatch through", _exit, IgnoresTac),
    _mutant("bus_forgets_torn_debit", "forgets a torn debit and charges the retap afresh", _bus, ForgetsTornDebit),
    _mutant("bus_loses_pre_balance", "remembers the wrong pre-debit balance of a torn debit", _bus, LosesPreBalance),
    _mutant("bus_records_less_than_debited", "records 100 fen less debited than the card paid", _bus,
            RecordsLessThanDebited),
    _mutant("gate_records_more_than_debited", "records 100 fen more debited than the card paid", _exit,
            RecordsMoreThanDebited),
    _mutant("gate_full_fare_elderly", "charges the elderly (card type 03) the full fare", _exit, FullFareElderly),
    _mutant("gate_next_fare_band", "charges the next band of the distance fare table", _exit, NextFareBand),
    _mutant("scenic_entitles_everyone", "grants free entry to every valid card", _scenic, EntitlesEveryone),
    _mutant("bus_reads_cardholder", "reads all 55 bytes of the cardholder file 0x16", _bus, ReadsCardholder),
    _mutant("scenic_reads_name", "reads 姓名 besides 出生日期", _scenic, ScenicReadsName),
    _mutant("scenic_tries_pin", "tries the default PIN before reading 出生日期", _scenic, ScenicTriesPin),
    _mutant("scenic_records_visitor", "puts the holder's 姓名, 社会保障号码 and 出生日期 into its decision records",
            _scenic, ScenicRecordsVisitor),
    _mutant("bus_rereads_trip_log", "reads the 0x1E trip log ten times before the debit (too slow)", _bus,
            RereadsTripLog),
    _mutant("bus_stalls_before_debit", "waits 0.6 s (wall clock) before the debit", _bus, StallsBeforeDebit),
    _mutant("gate_selects_by_fid", "selects the purse by file identifier 1001, not by its AID", _entry,
            SelectsPurseByFid),
    _mutant("pos_first_ppse_entry", "selects the first application of the PPSE, UnionPay or not", _pos,
            FirstPpseEntry),
    _mutant("pos_trusts_gpo", "approves offline whatever the card decided (ARQC, AAC)", _pos, TrustsGpo),
    _mutant("pos_sends_tc_online", "sends the card's offline approval (TC) online", _pos, SendsTcOnline),
    _mutant("scenic_accepts_replayed_code", "keeps no duplicate log of the e-codes it admitted", _scenic,
            ScenicAcceptsReplayedCode),
    _mutant("bus_ignores_code_window", "admits a ride code past its display window", _bus, BusIgnoresCodeWindow),
    _mutant("scenic_skips_code_signature", "admits an e-code whose signatures do not verify", _scenic,
            ScenicSkipsCodeSignature),
    _mutant("bus_takes_test_keys", "admits ride codes valid only under a test CA key (left in test mode)", _bus,
            BusTakesTestKeys),
    _mutant("scenic_ignores_code_blacklist", "admits an e-code whose card is on its blacklist", _scenic,
            ScenicIgnoresCodeBlacklist),
]
