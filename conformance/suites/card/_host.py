"""The certification host's side of the card suite: APDUs by name, and the issuer's keys.

`Host` is what a test talks to: one connected link to the card under test, with the commands a
certification terminal sends (SELECT, READ RECORD, VERIFY, EXTERNAL AUTHENTICATE, the purse's
INITIALIZE / DEBIT and load) and the issuer-side computations that go with them (EXTERNAL
AUTHENTICATE cryptograms from `simulator.backend.issuer.IssuerKeys`, a load's MAC2 from the load
host `simulator.backend.load_host.LoadHost`, purse keys from `simulator.card.apps.epurse.card_key`),
each with the issuer's master keys the link was given (`_issuer.Issuer`: the profiles' synthetic
ones for a simulated card, the ICS's for any other). Assertions here name what the card answered
and what the profile requires, so that a failed check reads as a finding about the card; link
errors propagate (verdict *broken*).

`_lab.CardLab` wraps the DUT's card role and opens these links.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included. For the same
reason the helpers hide their frames from tracebacks (`__tracebackhide__`: a frame shows its
arguments, such as a record of EF06 or a PIN APDU), and a PIN travels as a `Pin`, whose repr is
masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conformance.suites.card._malformed import Malformed
from conformance.verdicts import not_tested
from simulator.apdu import SW, CommandAPDU, ResponseAPDU, describe
from simulator.backend.issuer import IssuerKeys
from simulator.backend.load_host import LoadHost
from simulator.backend.ports import LoadRequest
from simulator.card.apps import epurse, ssse
from simulator.card.commands_security import encode_pin
from simulator.crypto import purse
from simulator.privacy import TraceMasker
from simulator.profile import Profile
from simulator.tlv import parse_tlv
from simulator.transport.base import TraceRecorder, Transport

if TYPE_CHECKING:
    from conformance.suites.card._issuer import Issuer

PPSE_NAME = b"2PAY.SYS.DDF01"
READ_KEY, WRITE_KEY = 0x0A, 0x04

#: the terminal the purse tests pretend to be, and its transaction date and time
TERMINAL = bytes.fromhex("300089000340")
DATE, TIME = bytes.fromhex("20261123"), bytes.fromhex("081530")


@dataclass(frozen=True, eq=False)
class CardLayout:
    """The run's profile as the card suite reads it: the card, SSSE, purse and qPBOC documents and what
    the tests look up in them (made once per run, `of(profile)`; the `layout` fixture, `Host.layout`)."""

    card_profile: dict
    ssse_profile: dict
    purse_profile: dict
    qpboc_profile: dict
    #: the SSSE's data elements by name, and its files' SFIs by file name
    elements: dict[str, ssse.Element]
    sfi: dict[str, int]
    ssse_aid: bytes
    purse_aid: bytes
    qpboc_aid: bytes
    #: 9F0C algorithm indicator -> algorithm, and the purse's algorithm ID -> algorithm
    algorithm_of_indicator: dict[int, str]
    purse_algorithm_of_id: dict[int, str]
    generation_of_version: dict[str, int]
    #: the purse's transaction type codes
    purchase: int
    composite: int
    load: int
    #: masks personal data in the APDUs assertion messages name
    masker: TraceMasker
    #: what may answer a malformed command (card.yaml `malformed`)
    malformed: Malformed

    @classmethod
    def of(cls, profile: Profile) -> CardLayout:
        ssse_profile, purse_profile, qpboc_profile = profile["ssse"], profile["epurse"], profile["qpboc"]
        types = purse_profile["transaction_types"]
        return cls(
            profile["card"], ssse_profile, purse_profile, qpboc_profile,
            elements=ssse.elements(ssse_profile),
            sfi={spec["name"]: spec["sfi"] for spec in ssse_profile["files"] if "sfi" in spec},
            ssse_aid=bytes.fromhex(ssse_profile["application"]["aid"]),
            purse_aid=bytes.fromhex(purse_profile["application"]["aid"]),
            qpboc_aid=bytes.fromhex(qpboc_profile["aids"][qpboc_profile["application"]["aid"]]),
            algorithm_of_indicator={v: k for k, v in ssse_profile["application"]["algorithm_indicator"].items()},
            purse_algorithm_of_id={int(spec["id"], 16): name for name, spec in purse_profile["algorithms"].items()},
            generation_of_version={g["spec_version"]: int(n) for n, g in ssse_profile["generations"].items()},
            purchase=int(types["purchase"]["code"], 16), composite=int(types["composite"]["code"], 16),
            load=int(types["load"]["code"], 16),
            masker=TraceMasker.from_profiles(profile),
            malformed=Malformed.of(profile["card"]["malformed"],
                                   ssse_aid=bytes.fromhex(ssse_profile["application"]["aid"])),
        )


class Pin(str):
    """A PIN whose repr (in a traceback's arguments, a report) is masked."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<PIN, masked>'"


def sw_text(sw: int) -> str:
    return f"{sw:04X} ({describe(sw)})"


def expect(response: ResponseAPDU, sw: int, what: str) -> ResponseAPDU:
    """Assert the status word of `what`, naming the one the profile requires."""
    __tracebackhide__ = True
    assert response.sw == sw, f"{what} answered {sw_text(response.sw)}; the profile requires {sw_text(sw)}"
    return response


def tlv_find(data: bytes, *path: int) -> bytes | None:
    """The value at a path of nested BER-TLV tags (first match at each level), or None."""
    for tag in path:
        try:
            items = parse_tlv(data)
        except ValueError:
            return None
        found = [value for t, value in items if t == tag]
        if not found:
            return None
        data = found[0]
    return data


class Host:
    """One connected, traced link to the card under test."""

    def __init__(self, transport: Transport, *, persona: str, issuer: Issuer, layout: CardLayout,
                 pin: str | None = None, sample: object = None, declared_generation: int | None = None) -> None:
        self.transport = transport
        self.layout = layout
        self.persona = persona
        #: the generation the card must report: its persona's, or the one its declaration states
        self.declared_generation = declared_generation
        #: the card's PIN when the harness knows it (a `Pin`), and the ICS sample behind the link
        self.pin = None if pin is None else Pin(pin)
        self.sample = sample
        self.recorder = TraceRecorder()
        transport.add_tracer(self.recorder)
        self.atr = transport.connect()
        self.issuer = issuer
        self._ef05: dict[int, bytes] = {}
        self.algorithm: str | None = None
        self._purse: tuple[bytes, bytes] | None = None
        #: what the issuer expects of the last DEBIT sent (see `debit`)
        self.last_debit: dict | None = None

    # -- the wire ---------------------------------------------------------------------------
    def send(self, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> ResponseAPDU:
        __tracebackhide__ = True
        return self.raw(CommandAPDU(cla, ins, p1, p2, bytes(data), le).to_bytes())

    def raw(self, apdu: bytes) -> ResponseAPDU:
        """Any byte string; the answer must at least carry a status word (CARD-APDU-001)."""
        __tracebackhide__ = True
        response = self.transport.transmit(apdu)
        assert len(response) >= 2, (f"{self.layout.masker.command(apdu).hex().upper()} got {len(response)} bytes back, "
                                    f"without a status word")
        return ResponseAPDU.parse(response)

    def ok(self, what: str, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
        __tracebackhide__ = True
        return expect(self.send(cla, ins, p1, p2, data, le), SW.OK, what).data

    def reconnect(self) -> bytes:
        """Power the card down and up again (a cold reset): volatile state must be gone."""
        self.atr = self.transport.connect()
        return self.atr

    def close(self) -> None:
        self.transport.disconnect()

    # -- selection --------------------------------------------------------------------------
    def select(self, aid: bytes) -> ResponseAPDU:
        __tracebackhide__ = True
        return self.send(0x00, 0xA4, 0x04, 0x00, aid, le=0)

    def select_ssse(self) -> bytes:
        """SELECT the social-security application; notes its algorithm from 9F0C."""
        __tracebackhide__ = True
        fci = expect(self.select(self.layout.ssse_aid), SW.OK, "SELECT of the SSSE AID").data
        indicator = tlv_find(fci, 0x6F, 0xA5, 0x9F0C)
        if indicator is not None and len(indicator) == 3:
            self.algorithm = self.layout.algorithm_of_indicator.get(indicator[2])
        return fci

    # -- records ----------------------------------------------------------------------------
    def read_record(self, sfi: int, p1: int, *, by_tag: bool = False, le: int | None = 0) -> ResponseAPDU:
        __tracebackhide__ = True
        return self.send(0x00, 0xB2, p1, sfi << 3 | (0b000 if by_tag else 0b100), le=le)

    def ef05(self, number: int) -> bytes:
        """EF05 record `number` (free read; the SSSE must be selected), read once."""
        __tracebackhide__ = True
        if number not in self._ef05:
            self._ef05[number] = expect(self.read_record(self.layout.sfi["EF05"], number), SW.OK,
                                        f"READ RECORD EF05 record {number}").data
        return self._ef05[number]

    def element(self, name: str, *, by_tag: bool = True) -> object:
        """A data element decoded by the profile's codec; a malformed record fails the test."""
        __tracebackhide__ = True
        element = self.layout.elements[name]
        if element.file == "EF05":
            record = self.ef05(element.record)
        else:
            p1 = element.tag if by_tag else element.record
            record = expect(self.read_record(self.layout.sfi[element.file], p1, by_tag=by_tag), SW.OK,
                            f"READ RECORD {element.file} {element.zh}").data
        try:
            return element.parse_record(record)
        except ValueError as exc:
            raise AssertionError(f"the card's {exc}") from exc

    @property
    def card_identifier(self) -> bytes:
        __tracebackhide__ = True
        element = self.layout.elements["card_identifier"]
        return element.parse_record(self.ef05(element.record))

    @property
    def generation(self) -> int:
        __tracebackhide__ = True
        version = self.element("spec_version")
        generations = self.layout.generation_of_version
        assert version in generations, (
            f"规范版本 {version!r} is none of the profile's generations {sorted(generations)}")
        generation = generations[version]
        assert self.declared_generation in (None, generation), (
            f"规范版本 {version!r} names generation {generation}; the card is declared generation "
            f"{self.declared_generation}")
        return generation

    # -- security ---------------------------------------------------------------------------
    def challenge(self, length: int = 8) -> bytes:
        __tracebackhide__ = True
        data = self.ok("GET CHALLENGE", 0x00, 0x84, 0x00, 0x00, le=length)
        assert len(data) == length, f"GET CHALLENGE with Le={length} answered {len(data)} bytes"
        return data

    def cryptogram(self, kid: int, challenge: bytes) -> bytes:
        """The issuer's EXTERNAL AUTHENTICATE cryptogram for this card's key `kid`."""
        __tracebackhide__ = True
        assert self.algorithm is not None, "SELECT SSSE gave no algorithm indicator (9F0C)"
        keys = IssuerKeys(ssse_profile=self.issuer.document("ssse", f"{kid:02X}"))
        return keys.external_auth(kid, self.card_identifier, self.algorithm, challenge)

    def external_authenticate(self, kid: int, *, wrong: bool = False) -> ResponseAPDU:
        """GET CHALLENGE, then EXTERNAL AUTHENTICATE with the issuer's cryptogram (or a corrupted one)."""
        __tracebackhide__ = True
        cryptogram = self.cryptogram(kid, self.challenge())
        if wrong:
            cryptogram = bytes((cryptogram[0] ^ 0xFF,)) + cryptogram[1:]
        return self.send(0x00, 0x82, 0x00, kid, cryptogram)

    def authenticate(self, kid: int) -> None:
        __tracebackhide__ = True
        expect(self.external_authenticate(kid), SW.OK, f"EXTERNAL AUTHENTICATE with the issuer's key {kid:02X}")

    def verify(self, pin: str) -> ResponseAPDU:
        __tracebackhide__ = True
        return self.send(0x00, 0x20, 0x00, 0x00, encode_pin(pin))

    def pin_tries(self) -> int:
        """The PIN tries left, as VERIFY without data (ISO/IEC 7816-4) answers them: 63Cx, or 6983 for none."""
        __tracebackhide__ = True
        query = self.send(0x00, 0x20, 0x00, 0x00)
        if query.sw == SW.AUTH_METHOD_BLOCKED:
            return 0
        assert query.sw & 0xFFF0 == 0x63C0, (
            f"VERIFY without data (tries left) answered {sw_text(query.sw)}; ISO/IEC 7816-4 answers 63Cx")
        return query.sw & 0x0F

    def open_ef06(self, pin: str | None = None) -> None:
        """Meet EF06's read condition: key 0A on a 3rd-generation card, the PIN on a 2nd."""
        __tracebackhide__ = True
        if self.generation >= 3:
            self.authenticate(READ_KEY)
        else:
            if pin is None:
                not_tested("a 2nd-generation card opens EF06 with its PIN, which is not known",
                           need="the sample's PIN (ICS samples: pin, or --dut-info pin=...)")
            expect(self.verify(pin), SW.OK, "VERIFY with the card's PIN")

    # -- the purse --------------------------------------------------------------------------
    def select_purse(self) -> bytes:
        __tracebackhide__ = True
        fci = expect(self.select(self.layout.purse_aid), SW.OK, "SELECT of the purse AID").data
        ef15 = self.ok("READ BINARY of purse file 0x15", 0x00, 0xB0, 0x95, 0x00, le=0)
        assert len(ef15) == 30, f"purse file 0x15 has {len(ef15)} bytes; the profile says 30"
        self._purse = ef15[0:8], ef15[10:20]
        return fci

    def balance(self) -> int:
        __tracebackhide__ = True
        primary = self.ok("GET BALANCE (primary purse)", 0x80, 0x5C, 0x00, 0x02, le=4)
        negative = self.ok("GET BALANCE (negative purse)", 0x80, 0x5C, 0x01, 0x02, le=4)
        return int.from_bytes(primary, "big") - int.from_bytes(negative, "big")

    def init_purchase(self, amount: int, *, index: int = 1, composite: bool = False) -> ResponseAPDU:
        """INITIALIZE FOR PURCHASE (8050 01 02), or FOR CAPP PURCHASE (8050 03 02) when `composite`."""
        __tracebackhide__ = True
        return self.send(0x80, 0x50, 0x03 if composite else 0x01, 0x02,
                         bytes((index,)) + amount.to_bytes(4, "big") + TERMINAL, le=0x0F)

    def init_load(self, amount: int) -> ResponseAPDU:
        """INITIALIZE FOR LOAD (8050 00 02) with key index 1."""
        __tracebackhide__ = True
        return self.send(0x80, 0x50, 0x00, 0x02, bytes((1,)) + amount.to_bytes(4, "big") + TERMINAL, le=0x10)

    def load_mac2(self, init: bytes, amount: int) -> bytes:
        """The issuer's load host's MAC2 for INITIALIZE FOR LOAD's answer `init` (select_purse() first);
        a MAC1 it cannot verify fails the test."""
        __tracebackhide__ = True
        algorithm = self.purse_algorithm(init[7])
        issuer, serial = self.purse_identity
        answer = LoadHost(purse_profile=self.issuer.document("epurse", "DLK")).authorise(LoadRequest(
            request_id=f"card-suite:{init[4:6].hex()}", card_serial10=serial, issuer_id8=issuer,
            old_balance=int.from_bytes(init[0:4], "big"), amount=amount, terminal_id6=TERMINAL,
            card_random4=init[8:12], online_atc2=init[4:6], mac1=init[12:16], date4=DATE, time3=TIME,
            algorithm=algorithm))
        if not answer.approved:
            raise AssertionError("MAC1 of INITIALIZE FOR LOAD does not verify under the issuer's load key (DLK) over "
                                 "old balance, amount, type 02 and terminal")
        return answer.mac2

    @property
    def purse_identity(self) -> tuple[bytes, bytes]:
        """(issuer ID 8, application serial 10) from file 0x15 (select_purse() first)."""
        assert self._purse is not None, "select_purse() first"
        return self._purse

    def purse_algorithm(self, algorithm_id: int) -> str:
        """The algorithm an INITIALIZE answer names by its algorithm ID."""
        __tracebackhide__ = True
        known = self.layout.purse_algorithm_of_id
        assert algorithm_id in known, (
            f"INITIALIZE named algorithm ID {algorithm_id:02X}; the profile knows {sorted(known)}")
        return known[algorithm_id]

    def purse_keys(self, algorithm_id: int, *names: str) -> tuple[str, dict[str, bytes]]:
        """(algorithm, the card's purse keys `names`: DPK, DTK...) from the issuer's masters and
        file 0x15's identity (select_purse() first)."""
        __tracebackhide__ = True
        assert self._purse is not None, "select_purse() first"
        algorithm = self.purse_algorithm(algorithm_id)
        issuer, serial = self._purse
        purse_profile = self.issuer.document("epurse", *names)
        return algorithm, {n: epurse.card_key(purse_profile, n, issuer, serial, algorithm) for n in names}

    def debit(self, init: bytes, amount: int, *, serial: int = 1, wrong_mac: bool = False,
              txn_type: int | None = None) -> tuple[ResponseAPDU, dict]:
        """DEBIT FOR PURCHASE after INITIALIZE answered `init`; returns the answer and what the
        issuer expects of it (TAC, MAC2, the 0x18 record). `txn_type`: the purchase's (the
        default), or `layout.composite` after INITIALIZE FOR CAPP PURCHASE."""
        __tracebackhide__ = True
        txn_type = self.layout.purchase if txn_type is None else txn_type
        algorithm, keys = self.purse_keys(init[10], "DPK", "DTK")
        random4, atc = init[11:15], init[4:6]
        serial4 = serial.to_bytes(4, "big")
        session = purse.purchase_session_key(keys["DPK"], random4, atc, serial4, algorithm=algorithm)
        mac1 = purse.purchase_mac1(session, amount, txn_type, TERMINAL, DATE, TIME, algorithm=algorithm)
        if wrong_mac:
            mac1 = bytes((mac1[0] ^ 0x01,)) + mac1[1:]
        expected = {
            "mac2": purse.purchase_mac2(session, amount, algorithm=algorithm),
            "tac": purse.tac(keys["DTK"], amount, txn_type, TERMINAL, serial4, DATE, TIME, algorithm=algorithm),
            "record": epurse.log_record(int.from_bytes(atc, "big"), int.from_bytes(init[6:9], "big"), amount,
                                        txn_type, TERMINAL, DATE, TIME),
        }
        self.last_debit = expected  # kept also when the power is cut before the answer
        return self.send(0x80, 0x54, 0x01, 0x00, serial4 + DATE + TIME + mac1, le=0x08), expected

    def purchase(self, amount: int) -> tuple[bytes, dict]:
        """A committed purchase of `amount` fen: (INITIALIZE's answer, what the issuer expects of it)."""
        __tracebackhide__ = True
        init = expect(self.init_purchase(amount), SW.OK, f"INITIALIZE FOR PURCHASE of {amount} fen").data
        answer, expected = self.debit(init, amount)
        expect(answer, SW.OK, "DEBIT FOR PURCHASE with the right MAC1")
        return init, expected

    def credit(self, init: bytes, amount: int) -> bytes:
        """CREDIT FOR LOAD with the load host's MAC2 after INITIALIZE FOR LOAD answered `init`: the TAC."""
        __tracebackhide__ = True
        return expect(self.send(0x80, 0x52, 0x00, 0x00, DATE + TIME + self.load_mac2(init, amount), le=4), SW.OK,
                      "CREDIT FOR LOAD with the issuer's MAC2").data

    def load(self, amount: int) -> None:
        """A committed load of `amount` fen."""
        __tracebackhide__ = True
        self.credit(expect(self.init_load(amount), SW.OK, f"INITIALIZE FOR LOAD of {amount} fen").data, amount)

    def records(self, sfi: int) -> list[bytes]:
        """Every record of a record file, by number until 6A83 (record 1 first)."""
        __tracebackhide__ = True
        out = []
        for n in range(1, 255):
            answer = self.read_record(sfi, n)
            if answer.sw != SW.OK:
                expect(answer, SW.RECORD_NOT_FOUND, f"READ RECORD 0x{sfi:02X} record {n} after the last")
                break
            out.append(answer.data)
        return out

    def purse_log(self) -> list[bytes]:
        """The 0x18 records, newest first."""
        __tracebackhide__ = True
        return self.records(0x18)
