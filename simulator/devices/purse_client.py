"""The terminal's side of the T-Union purse and of its PSAM, as APDUs (transit-payment.md §1.3, §1.5).

Why separate from the terminals: every terminal (gate, bus validator, load kiosk) and the
conformance suites send the same commands; one place builds them and parses the answers, and
turns an unexpected status word into a `CardRefused` that carries it (the terminal maps it to a
reason code). Link failures stay `LinkError` (simulator.transport): they mean *broken*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simulator.apdu import SW, ResponseAPDU, describe
from simulator.transport.base import Transport

PURSE_AID = bytes.fromhex("A000000632010105")
PSAM_AID = bytes.fromhex("A000000632") + b"MOT.CPSAM01"
PPSE = b"2PAY.SYS.DDF01"

TXN_LOAD, TXN_PURCHASE, TXN_COMPOSITE = 0x02, 0x06, 0x09


class CardRefused(Exception):
    """The card or PSAM answered a status word the flow cannot continue with."""

    def __init__(self, step: str, sw: int) -> None:
        super().__init__(f"{step}: {sw:04X} {describe(sw)}")
        self.step = step
        self.sw = sw


def _ok(step: str, answer: ResponseAPDU, length: int | None = None) -> bytes:
    if answer.sw != SW.OK:
        raise CardRefused(step, answer.sw)
    if length is not None and len(answer.data) != length:
        raise CardRefused(step, SW.WRONG_LENGTH)
    return answer.data


def bcd_datetime(moment: datetime) -> tuple[bytes, bytes]:
    """(date 4 B, time 3 B) as the purse commands carry them: YYYYMMDD, hhmmss in BCD."""
    return bytes.fromhex(moment.strftime("%Y%m%d")), bytes.fromhex(moment.strftime("%H%M%S"))


@dataclass(frozen=True)
class PurseInfo:
    """File 0x15 (公共应用基本数据), 30 bytes (transit-payment.md §1.2)."""

    raw: bytes

    @property
    def issuer_id(self) -> bytes:
        return self.raw[0:8]

    @property
    def app_type(self) -> int:
        return self.raw[8]

    @property
    def serial(self) -> bytes:
        return self.raw[10:20]

    @property
    def start_date(self) -> str:
        return self.raw[20:24].hex()

    @property
    def expiry_date(self) -> str:
        return self.raw[24:28].hex()

    def issuer_division(self, identity: dict) -> str:
        """The administrative division that issued the card, read from its issuer ID: the city code
        (4 BCD digits) where the profile's issuer ID template (epurse.yaml `identity.issuer_id`) puts
        `{city}`, as a six-digit city code (xxxx00; a municipality's city is its own code, 500000)."""
        before, found, _ = identity["issuer_id"].partition("{city}")
        if not found or "{" in before:
            raise ValueError(f"the issuer ID template {identity['issuer_id']!r} does not place {{city}} after "
                             f"fixed digits")
        at = len(before) // 2
        return self.issuer_id[at:at + 2].hex() + "00"


@dataclass(frozen=True)
class PurchaseInit:
    """INITIALIZE FOR (CAPP) PURCHASE response: balance 4 ‖ offline ATC 2 ‖ overdraft 3 ‖
    key version 1 ‖ algorithm 1 ‖ random 4."""

    balance: int
    atc: bytes
    overdraft: int
    key_version: int
    algorithm_id: int
    random: bytes

    @classmethod
    def parse(cls, data: bytes) -> PurchaseInit:
        return cls(int.from_bytes(data[0:4], "big"), data[4:6], int.from_bytes(data[6:9], "big"),
                   data[9], data[10], data[11:15])


class PurseCard:
    """APDUs of the purse on the card, over a connected transport."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def select(self) -> bytes:
        """SELECT the purse by AID; returns the FCI (9303 and others raise CardRefused)."""
        return _ok("select purse", self.t.send(0x00, 0xA4, 0x04, 0x00, PURSE_AID, le=0))

    def read_binary(self, sfi: int, length: int) -> bytes:
        return _ok(f"read {sfi:02X}", self.t.send(0x00, 0xB0, 0x80 | sfi, 0x00, le=length), length)

    def read_record(self, sfi: int, number: int) -> ResponseAPDU:
        """READ RECORD by SFI; the answer as is (6A83 means no such record)."""
        return self.t.send(0x00, 0xB2, number, (sfi << 3) | 0x04, le=0)

    def balance(self) -> int:
        return int.from_bytes(_ok("get balance", self.t.send(0x80, 0x5C, 0x00, 0x02, le=4), 4), "big")

    def init_purchase(self, *, amount: int, terminal_id: bytes, key_index: int = 1,
                      composite: bool = False) -> PurchaseInit:
        data = bytes((key_index,)) + amount.to_bytes(4, "big") + terminal_id
        p1 = 0x03 if composite else 0x01
        answer = self.t.send(0x80, 0x50, p1, 0x02, data, le=0x0F)
        return PurchaseInit.parse(_ok("init purchase", answer, 15))

    def update_capp(self, *, sfi: int, record: bytes, number: int = 0) -> None:
        _ok("update capp data cache", self.t.send(0x80, 0xDC, number, sfi << 3, record))

    def debit(self, *, terminal_serial: bytes, moment: datetime, mac1: bytes) -> tuple[bytes, bytes]:
        """DEBIT FOR (CAPP) PURCHASE; returns (TAC, MAC2)."""
        date4, time3 = bcd_datetime(moment)
        answer = self.t.send(0x80, 0x54, 0x01, 0x00, terminal_serial + date4 + time3 + mac1, le=8)
        data = _ok("debit", answer, 8)
        return data[0:4], data[4:8]

    def transaction_prove(self, *, atc: bytes, txn_type: int) -> tuple[bytes, bytes]:
        """GET TRANSACTION PROVE; returns (MAC2, TAC) — the reverse order of DEBIT's answer."""
        data = _ok("get transaction prove", self.t.send(0x80, 0x5A, 0x00, txn_type, atc, le=8), 8)
        return data[0:4], data[4:8]


class Psam:
    """APDUs of the terminal's PSAM (T-Union PSAM application), over a connected transport."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport
        _ok("select psam MF", transport.send(0x00, 0xA4, 0x00, 0x00, bytes.fromhex("3F00"), le=0))
        self.terminal_id = _ok("psam terminal number", transport.send(0x00, 0xB0, 0x96, 0x00, le=6), 6)
        _ok("select psam", transport.send(0x00, 0xA4, 0x04, 0x00, PSAM_AID, le=0))
        self.key_index = _ok("psam public info", transport.send(0x00, 0xB0, 0x97, 0x00, le=0x19), 0x19)[0]

    def mac1(self, *, init: PurchaseInit, amount: int, txn_type: int, moment: datetime,
             serial8: bytes, issuer_id: bytes) -> tuple[bytes, bytes]:
        """8070: (terminal transaction serial, MAC1)."""
        date4, time3 = bcd_datetime(moment)
        data = (init.random + init.atc + amount.to_bytes(4, "big") + bytes((txn_type,)) + date4 + time3
                + bytes((init.key_version, init.algorithm_id)) + serial8 + issuer_id)
        answer = _ok("psam mac1", self.t.send(0x80, 0x70, 0x00, 0x00, data, le=8), 8)
        return answer[0:4], answer[4:8]

    def verify_mac2(self, mac2: bytes) -> bool:
        """8072: True when the PSAM accepts MAC2, False on 9302 (others raise)."""
        answer = self.t.send(0x80, 0x72, 0x00, 0x00, mac2)
        if answer.sw == SW.MAC_INVALID:
            return False
        _ok("psam mac2", answer)
        return True

    def tac(self, *, serial8: bytes, issuer_id: bytes, amount: int, txn_type: int,
            terminal_serial: bytes, moment: datetime) -> bytes:
        """801A + 80FA: the TAC the card should have computed, for comparison."""
        _ok("psam des init", self.t.send(0x80, 0x1A, 0x44, 0x01, serial8 + issuer_id))
        date4, time3 = bcd_datetime(moment)
        data = amount.to_bytes(4, "big") + bytes((txn_type,)) + self.terminal_id + terminal_serial + date4 + time3
        return _ok("psam des compute", self.t.send(0x80, 0xFA, 0x05, 0x00, data, le=4), 4)
