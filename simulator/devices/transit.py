"""Reference transit terminals over the T-Union purse: metro gate, bus validator, load kiosk.

The flow follows field code (transit-payment.md §1.5 `CPUDealCard_JTB`, §1.6): SELECT the purse,
read 0x15 (validity, serial), check the blacklist, read the card type (one byte of 0x16: data
minimisation), INITIALIZE (CAPP) PURCHASE, PSAM 8070 for MAC1, UPDATE CAPP DATA CACHE, DEBIT,
then MAC2 (8072) and TAC (801A/80FA) in the PSAM. A card torn away during the DEBIT leaves a
`Pending` record; when the same card comes back within the recovery window the terminal
compares the balance, and either proves the committed debit with GET TRANSACTION PROVE (no
second charge) or debits afresh. Every outcome is a journaled `Decision` whose `debited` and
`loaded` fields let a test check that money is conserved.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from simulator.apdu import SW
from simulator.backend import load_host
from simulator.backend.ports import LoadHostPort, LoadRequest
from simulator.devices.code_flow import CodeReader
from simulator.devices.decision import Decision
from simulator.devices.purse_client import (
    TXN_COMPOSITE,
    TXN_LOAD,
    TXN_PURCHASE,
    CardRefused,
    Psam,
    PurseCard,
    PurseInfo,
    bcd_datetime,
)
from simulator.devices.steps import Flow, Phase, Step
from simulator.devices.terminal import Terminal
from simulator.divisions import within_any
from simulator.transport.base import Transport
from simulator.transport.errors import CardRemovedError

#: the decision's `concession` evidence for a card of a concession type from outside the region
NON_RESIDENT = "non_resident"
METRO_RECORD = 2  # 0x1A record number of the rail record (ID 2703; modelled, after JT/T 1356.2 EP_JBGN_007)
ENTERED, EXITED = 0x01, 0x02


@dataclass
class Pending:
    """A value transaction whose answer never came back: what recovery needs to resolve it."""

    serial: bytes
    pre_balance: int
    amount: int
    fare: int
    txn_type: int
    atc: bytes
    terminal_serial: bytes
    moment: datetime
    evidence: dict = field(default_factory=dict)


@dataclass
class Plan:
    """What a purchase terminal will charge and write: fare before concession, composite records
    as (SFI, record number or 0 for a new cyclic record, 48/128-byte body builder)."""

    fare: int
    records: list[tuple[int, int, bytes]] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)


def open_purse(terminal: Terminal, card: Transport) -> tuple[PurseCard, PurseInfo] | Decision:
    """SELECT the purse and read 0x15; a rejection when the card has no usable purse."""
    purse = PurseCard(card)
    try:
        purse.select()
    except CardRefused as refused:
        reason = "APP_LOCKED" if refused.sw == SW.APPLICATION_LOCKED else "NO_APPLICATION"
        return terminal.decide(reason, detail=str(refused))
    return purse, PurseInfo(purse.read_binary(0x15, 30))


def _effective_balance(purse: PurseCard) -> int:
    """Primary purse minus the negative (overdraft) purse (805C 00 02 and 01 02)."""
    negative = purse.t.send(0x80, 0x5C, 0x01, 0x02, le=4)
    used = int.from_bytes(negative.data, "big") if negative.sw == SW.OK else 0
    return purse.balance() - used


class PurseTerminal(Terminal):
    """A terminal that charges the T-Union purse with its PSAM."""

    txn_type: ClassVar[int] = TXN_COMPOSITE

    def __init__(self, *, psam: Transport, **kw) -> None:
        super().__init__(**kw)
        self.psam_link = psam
        if not psam.connected:
            psam.connect()
        self.psam = Psam(psam)
        self.purse_profile = self.profile["epurse"]
        self.pending: Pending | None = None

    def links(self) -> dict[str, Transport]:
        return {"contact": self.psam_link}

    # -- the flow ---------------------------------------------------------------------------
    #: admission checks in the order they run; `cardholder_bytes` of 0x16 give the concession type
    checks: ClassVar[tuple[str, ...]] = ("blacklist", "start", "expiry")
    cardholder_bytes: ClassVar[int] = 1

    def open(self, card: Transport) -> tuple[PurseCard, PurseInfo] | Decision:
        return open_purse(self, card)

    def admit(self, info: PurseInfo) -> Generator[Step, Any, Decision | None]:
        """The blacklist (card status) and validity checks; a rejection, or None to go on."""
        card_id, today = info.serial.hex().upper(), self.clock().strftime("%Y%m%d")
        for check in self.checks:
            if check == "blacklist" and (yield from self.status.check([card_id])).listed:
                return self.decide("BLACKLISTED", card=card_id)
            if check == "start" and today < info.start_date:
                return self.decide("NOT_YET_VALID", card=card_id, detail=f"start {info.start_date}")
            if check == "expiry" and today > info.expiry_date:
                return self.decide("EXPIRED", card=card_id, detail=f"expiry {info.expiry_date}")
        return None

    def flow(self, card: Transport) -> Flow:
        opened = self.open(card)
        yield Phase("select the purse, read 0x15")
        if isinstance(opened, Decision):
            return opened
        purse, info = opened
        if self.pending is not None:
            resolved = self._resolve(purse, info)
            yield Phase("resolve the torn debit")
            if resolved is not None:
                return resolved
        refused = yield from self.admit(info)
        if refused is not None:
            return refused
        card_type = purse.read_binary(0x16, self.cardholder_bytes)[0]  # the concession type, not the holder
        yield Phase("read the card type from 0x16")
        plan = self.plan(purse, info)
        yield Phase("plan the fare and records")
        if isinstance(plan, Decision):
            return plan
        decision = self._charge(purse, info, card_type, plan)
        yield Phase("purchase: INITIALIZE, PSAM MAC1, UPDATE CAPP DATA CACHE, DEBIT, MAC2 and TAC")
        return decision

    @abstractmethod
    def plan(self, purse: PurseCard, info: PurseInfo) -> Plan | Decision:
        """The fare and composite records for this card, or a rejection."""

    def concession(self, fare: int, card_type: int, info: PurseInfo) -> tuple[int, str]:
        """What the card pays for `fare`, and the concession's name: its card type's percentage of the
        concession table for a card the concessions are for (`resident`), the full fare otherwise."""
        if not self.resident(info):
            return fare, NON_RESIDENT
        percent = self.terminals["concessions"]["by_card_type"].get(f"{card_type:02X}", 100)
        name = self.purse_profile["card_types"].get(f"{card_type:02X}", {}).get("name", "unknown")
        return fare * percent // 100, name

    def resident(self, info: PurseInfo) -> bool:
        """Whether the card's holder gets the concessions (terminals.yaml `residency`): every card where
        they are not for residents only; else a card whose issuer (0x15) lies within `local_areas`."""
        if not self.terminals["residency"]["local_concessions"]:
            return True
        return within_any(info.issuer_division(self.purse_profile["identity"]), self.local_areas())

    def local_areas(self) -> list[str]:
        """The divisions whose cards count as local: the run's region (region.yaml `division_codes`)
        and the divisions its residency rule recognises (Chongqing's, in Sichuan)."""
        home = (self.profile.region_document or {}).get("division_codes", [])
        return [*home, *self.terminals["residency"]["recognised"]]

    def _charge(self, purse: PurseCard, info: PurseInfo, card_type: int, plan: Plan) -> Decision:
        card_id = info.serial.hex().upper()
        amount, concession = self.concession(plan.fare, card_type, info)
        evidence = {**plan.evidence, "concession": concession}
        composite = self.txn_type == TXN_COMPOSITE
        try:
            init = purse.init_purchase(amount=amount, terminal_id=self.psam.terminal_id, composite=composite)
        except CardRefused as refused:
            reason = "INSUFFICIENT_FUNDS" if refused.sw == SW.INSUFFICIENT_FUNDS else "CARD_ERROR"
            return self.decide(reason, card=card_id, fare=plan.fare, amount=amount, detail=str(refused))
        pre_balance = _signed(init.balance, purse)
        moment = self.clock()
        terminal_serial, mac1 = self.psam.mac1(
            init=init,
            amount=amount,
            txn_type=self.txn_type,
            moment=moment,
            serial8=info.serial[-8:],
            issuer_id=info.issuer_id,
        )
        for sfi, number, body in plan.records:
            purse.update_capp(sfi=sfi, number=number, record=body)
        self.pending = Pending(
            info.serial, pre_balance, amount, plan.fare, self.txn_type, init.atc, terminal_serial, moment, evidence
        )
        try:
            tac, mac2 = purse.debit(terminal_serial=terminal_serial, moment=moment, mac1=mac1)
        except CardRefused as refused:
            self.pending = None
            reason = "MAC1_REFUSED" if refused.sw == SW.MAC_INVALID else "CARD_ERROR"
            return self.decide(reason, card=card_id, fare=plan.fare, amount=amount, detail=str(refused))
        self.pending = None
        return self._verified(
            info, amount, plan.fare, terminal_serial, moment, mac2, tac, init.atc, pre_balance, evidence, reason="OK"
        )

    def _verified(
        self,
        info: PurseInfo,
        amount: int,
        fare: int,
        terminal_serial: bytes,
        moment: datetime,
        mac2: bytes,
        tac: bytes,
        atc: bytes,
        pre_balance: int,
        evidence: dict,
        *,
        reason: str,
        check_mac2: bool = True,
    ) -> Decision:
        """Check MAC2 (PSAM 8072) and TAC (801A/80FA) of a committed debit; the money has moved."""
        expected_tac = self.psam.tac(
            serial8=info.serial[-8:],
            issuer_id=info.issuer_id,
            amount=amount,
            txn_type=self.txn_type,
            terminal_serial=terminal_serial,
            moment=moment,
        )
        if check_mac2 and not self.psam.verify_mac2(mac2):
            reason = "MAC2_INVALID"
        elif tac != expected_tac:
            reason = "TAC_INVALID"
        return self.decide(
            reason,
            card=info.serial.hex().upper(),
            fare=fare,
            amount=amount,
            debited=amount,
            balance_after=pre_balance - amount,
            evidence={
                **evidence,
                "atc": atc,
                "terminal_serial": terminal_serial,
                "mac2": mac2,
                "tac": tac,
                "time": moment.isoformat(),
            },
        )

    # -- torn debits ------------------------------------------------------------------------
    def torn(self, exc: CardRemovedError) -> Decision:
        if self.pending is None:
            return super().torn(exc)
        p = self.pending
        return self.decide(
            "RETAP",
            card=p.serial.hex().upper(),
            fare=p.fare,
            amount=p.amount,
            detail=f"card removed during DEBIT: {exc}",
        )

    def _resolve(self, purse: PurseCard, info: PurseInfo) -> Decision | None:
        """Settle the pending torn debit; a Decision when this presentation is its recovery."""
        p = self.pending
        window = timedelta(seconds=self.terminals["recovery"]["window_seconds"])
        if p.serial != info.serial or self.clock() - p.moment > window:
            self.pending = None
            why = "another card came first" if p.serial != info.serial else "the recovery window passed"
            self.journal.append(
                self.decide(
                    "INCOMPLETE",
                    card=p.serial.hex().upper(),
                    fare=p.fare,
                    amount=p.amount,
                    detail=f"torn debit not resolved: {why}",
                )
            )
            return None
        self.pending = None
        balance = _effective_balance(purse)
        atc = int.from_bytes(p.atc, "big") + (self.purse_profile["prove_atc"] == "next_offline_atc")
        try:  # the card's proof of this transaction says whether the DEBIT committed (a 0-fen entry moves no money)
            mac2, tac = purse.transaction_prove(atc=atc.to_bytes(2, "big"), txn_type=p.txn_type)
        except CardRefused as refused:
            if balance == p.pre_balance:  # no proof, no money moved: the DEBIT never committed, charge afresh
                return None
            return self.decide(
                "INCOMPLETE",
                card=p.serial.hex().upper(),
                fare=p.fare,
                amount=p.amount,
                detail=f"balance {balance} moved from {p.pre_balance} but the card proves nothing: {refused}",
            )
        if balance != p.pre_balance - p.amount:
            return self.decide(
                "INCOMPLETE",
                card=p.serial.hex().upper(),
                fare=p.fare,
                amount=p.amount,
                debited=p.amount,
                detail=f"debit proven but the balance is {balance}, not {p.pre_balance - p.amount}",
            )
        return self._verified(
            info,
            p.amount,
            p.fare,
            p.terminal_serial,
            p.moment,
            mac2,
            tac,
            p.atc,
            p.pre_balance,
            {**p.evidence, "recovered": True},
            reason="RECOVERED",
        )


def _signed(primary: int, purse: PurseCard) -> int:
    """INITIALIZE shows the primary purse (never below 0): add the overdraft already used."""
    return primary if primary > 0 else _effective_balance(purse)


def trip_record(
    *, kind: int, terminal_id: bytes, industry: int, place: bytes, amount: int, balance: int, moment: datetime
) -> bytes:
    """A 0x1E record (48 B): type 1 ‖ terminal 8 ‖ industry 1 ‖ line+station 7 ‖ amount 4 ‖
    balance 4 ‖ date+time 7 ‖ city 2 ‖ institution 8 ‖ max fare 4 ‖ max minutes 2
    (transit-payment.md §1.2 [V]); city, institution and the last two fields are zero here."""
    date4, time3 = bcd_datetime(moment)
    record = (
        bytes((kind,))
        + terminal_id.rjust(8, b"\x00")
        + bytes((industry,))
        + place.rjust(7, b"\x00")
        + amount.to_bytes(4, "big")
        + max(balance, 0).to_bytes(4, "big")
        + date4
        + time3
        + bytes(16)
    )
    if len(record) != 48:
        raise ValueError(f"a 0x1E record has 48 bytes, these fields give {len(record)}")
    return record


class BusValidator(CodeReader, PurseTerminal):
    """Flat fare, one composite purchase with a 0x1E trip record (type 06 single fare); or a ride
    code, whose flat fare it records for the back-end to charge (simulator/devices/code_flow.py)."""

    kind = "bus"

    def __init__(self, *, line: str = "0001", **kw) -> None:
        super().__init__(**kw)
        self.line = line

    def flat_fare(self) -> int:
        return min(self.terminals["bus"]["flat_fare"], self.terminals["max_single_fare"])

    def code_fare(self) -> int:
        return self.flat_fare()

    def plan(self, purse: PurseCard, info: PurseInfo) -> Plan:
        fare = self.flat_fare()
        record = trip_record(
            kind=0x06,
            terminal_id=self.psam.terminal_id,
            industry=self.terminals["bus"]["industry_code"],
            place=bytes.fromhex(self.line),
            amount=fare,
            balance=0,
            moment=self.clock(),
        )
        return Plan(fare, [(0x1E, 0, record)], {"line": self.line})


class MetroGate(PurseTerminal):
    """Entry writes the rail record of 0x1A at no charge; exit charges by distance from it."""

    kind = "gate"

    def __init__(self, *, station: str, direction: str, **kw) -> None:
        super().__init__(**kw)
        stations = self.terminals["metro"]["stations"]
        if station not in stations:
            raise ValueError(f"unknown station {station!r}; the profile has {sorted(stations)}")
        if direction not in ("entry", "exit"):
            raise ValueError(f"direction is entry or exit, got {direction!r}")
        self.station, self.direction = station, direction
        self.record_size = next(f["record_size"] for f in self.purse_profile["files"] if f["sfi"] == 0x1A)
        self.record_id = bytes.fromhex(
            next(f["record_ids"][METRO_RECORD - 1] for f in self.purse_profile["files"] if f["sfi"] == 0x1A)
        )

    @property
    def name(self) -> str:
        return f"gate:{self.station}:{self.direction}"

    def fare_between(self, a: str, b: str) -> int:
        metro = self.terminals["metro"]
        km = abs(metro["stations"][a] - metro["stations"][b])
        for band in metro["fare_table"]:
            if km <= band["km"]:
                return band["fare"]
        last = metro["fare_table"][-1]
        steps = -(-(km - last["km"]) // metro["beyond"]["step_km"])
        return min(last["fare"] + int(steps) * metro["beyond"]["fare"], self.terminals["max_single_fare"])

    def _rail_record(self, state: int, moment: datetime) -> bytes:
        date4, time3 = bcd_datetime(moment)
        body = (
            self.record_id
            + bytes((self.record_size - 3, state))
            + bytes.fromhex(self.station)
            + date4
            + time3
            + self.psam.terminal_id
        )
        return body.ljust(self.record_size, b"\x00")

    def _journey(self, state: int, kind: int, fare: int, evidence: dict) -> Plan:
        """The rail record of 0x1A in its new state and a new 0x1E trip record of `kind`."""
        moment = self.clock()
        trip = trip_record(
            kind=kind,
            terminal_id=self.psam.terminal_id,
            industry=self.terminals["metro"]["industry_code"],
            place=bytes.fromhex(self.station),
            amount=fare,
            balance=0,
            moment=moment,
        )
        records = [(0x1A, METRO_RECORD, self._rail_record(state, moment)), (0x1E, 0, trip)]
        return Plan(fare, records, {"station": self.station, "direction": self.direction, **evidence})

    def plan(self, purse: PurseCard, info: PurseInfo) -> Plan | Decision:
        if self.direction == "entry":
            return self._journey(ENTERED, 0x03, 0, {})
        answer = purse.read_record(0x1A, METRO_RECORD)
        rail = answer.data
        if answer.sw != SW.OK or rail[:2] != self.record_id or rail[3] != ENTERED:
            return self.decide("NO_ENTRY", card=info.serial.hex().upper(), detail="no open entry in 0x1A")
        entry = rail[4:6].hex()
        if entry not in self.terminals["metro"]["stations"]:
            return self.decide("NO_ENTRY", card=info.serial.hex().upper(), detail=f"unknown entry station {entry}")
        return self._journey(EXITED, 0x04, self.fare_between(entry, self.station), {"entry_station": entry})


class PurchaseTerminal(PurseTerminal):
    """A plain (non-composite) purchase of a set amount, e.g. a shop or a ticket machine."""

    kind = "purchase"
    txn_type = TXN_PURCHASE

    def __init__(self, *, fare: int, **kw) -> None:
        super().__init__(**kw)
        self.fare = fare

    def plan(self, purse: PurseCard, info: PurseInfo) -> Plan:
        return Plan(self.fare)


class LoadKiosk(Terminal):
    """Loads the purse (圈存) with the issuer's online authorisation through the load-host port (the
    issuer's host in-process by default); a CREDIT torn away is recovered like a DEBIT: the balance
    says whether it committed."""

    kind = "load"

    def __init__(self, *, terminal_id: str, host: LoadHostPort | None = None, amount: int = 1000, **kw) -> None:
        super().__init__(terminal_id=terminal_id, **kw)
        self.terminal_bytes = bytes.fromhex(terminal_id.rjust(12, "0"))
        self.host = host or load_host.LoadHost(self.profile)
        self.amount = amount
        self.algorithms = {int(spec["id"], 16): name for name, spec in self.profile["epurse"]["algorithms"].items()}
        self.pending: Pending | None = None

    def flow(self, card: Transport) -> Flow:
        opened = open_purse(self, card)
        yield Phase("select the purse, read 0x15")
        if isinstance(opened, Decision):
            return opened
        purse, info = opened
        card_id = info.serial.hex().upper()
        if self.pending is not None:
            p, self.pending = self.pending, None
            balance = _effective_balance(purse)
            if p.serial == info.serial and balance == p.pre_balance + p.amount:
                return self.decide(
                    "RECOVERED",
                    card=card_id,
                    amount=p.amount,
                    loaded=p.amount,
                    balance_after=balance,
                    evidence={**p.evidence, "recovered": True},
                )
            if p.serial != info.serial or balance != p.pre_balance:
                self.journal.append(
                    self.decide(
                        "INCOMPLETE", card=p.serial.hex().upper(), amount=p.amount, detail="torn load not resolved"
                    )
                )
        if card_id in self.status:
            return self.decide("BLACKLISTED", card=card_id)
        data = bytes((1,)) + self.amount.to_bytes(4, "big") + self.terminal_bytes
        answer = card.send(0x80, 0x50, 0x00, 0x02, data, le=0x10)
        yield Phase("INITIALIZE FOR LOAD")
        if answer.sw != SW.OK or len(answer.data) != 16:
            return self.decide(
                "CARD_ERROR", card=card_id, amount=self.amount, detail=f"INITIALIZE FOR LOAD {answer.sw:04X}"
            )
        d = answer.data
        old, atc, algorithm_id, random4, mac1 = int.from_bytes(d[0:4], "big"), d[4:6], d[7], d[8:12], d[12:16]
        moment = self.clock()
        date4, time3 = bcd_datetime(moment)
        algorithm = self.algorithms.get(algorithm_id)
        if algorithm is None:
            return self.decide(
                "CARD_ERROR", card=card_id, amount=self.amount, detail=f"algorithm ID {algorithm_id:02X}"
            )
        # the request id: the card's serial and online ATC, which the card never repeats for a load
        request = LoadRequest(
            request_id=f"load:{info.serial.hex().upper()}:{atc.hex().upper()}",
            card_serial10=info.serial,
            issuer_id8=info.issuer_id,
            old_balance=old,
            amount=self.amount,
            terminal_id6=self.terminal_bytes,
            card_random4=random4,
            online_atc2=atc,
            mac1=mac1,
            date4=date4,
            time3=time3,
            algorithm=algorithm,
        )
        authorise = partial(self.host.authorise, request)
        answer = yield Step("backend", "the issuer authorises the load (MAC2)", call=authorise)
        if not answer.approved:
            return self.decide("DECLINED", card=card_id, amount=self.amount, detail=answer.detail)
        mac2 = answer.mac2
        pre = _signed(old, purse)
        self.pending = Pending(info.serial, pre, self.amount, 0, TXN_LOAD, atc, b"", moment, {"atc": atc.hex()})
        credit = card.send(0x80, 0x52, 0x00, 0x00, date4 + time3 + mac2, le=4)
        yield Phase("CREDIT FOR LOAD")
        self.pending = None
        if credit.sw != SW.OK:
            return self.decide(
                "CARD_ERROR", card=card_id, amount=self.amount, detail=f"CREDIT FOR LOAD {credit.sw:04X}"
            )
        return self.decide(
            "OK",
            card=card_id,
            amount=self.amount,
            loaded=self.amount,
            balance_after=pre + self.amount,
            evidence={"atc": atc, "tac": credit.data, "time": moment.isoformat()},
        )

    def torn(self, exc: CardRemovedError) -> Decision:
        if self.pending is None:
            return super().torn(exc)
        return self.decide(
            "RETAP",
            card=self.pending.serial.hex().upper(),
            amount=self.pending.amount,
            detail=f"card removed during CREDIT FOR LOAD: {exc}",
        )
