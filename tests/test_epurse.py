"""The T-Union e-purse (交通联合电子钱包) command by command, one PURSE clause per test or group.

`PurseTerminal` plays terminal and PSAM at once: it derives the card's keys from the profile's
synthetic master keys on its own (two-level diversification with the issuer ID and serial it
reads from file 0x15), computes MAC1 with `simulator.crypto.purse` and checks the card's MAC2
and TAC, so a card that computes anything differently fails here. The property and tearing
tests reuse it.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
from datetime import date
from pathlib import Path

import pytest

from simulator.apdu import SW, ResponseAPDU
from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.card.image import CardImage
from simulator.card.nvm import NVM
from simulator.crypto import diversify, pboc_mac, purse, tac_key
from simulator.faults import FaultPlan, PowerLost
from simulator.profile import PROFILE_ROOT, load, national

AS_OF = date(2026, 11, 23)
PROFILE = load("national/epurse", "epurse")
AID = "A000000632010105"
SELECT = "00A4040008" + AID
SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"
PPSE = "00A404000E" + b"2PAY.SYS.DDF01".hex().upper()
TERMINAL = bytes.fromhex("300089000340")  # the terminal number of the Beijing trace (notes §1.2)
DATE, TIME = bytes.fromhex("20261123"), bytes.fromhex("081530")
LOAD, PURCHASE, COMPOSITE = 0x02, 0x06, 0x09
TRIP = bytes.fromhex("04" "0000300089000340" "01" "08001900300000" "000001F4" "00000E01" "20241229141740"
                     "1000" "01011000FFFFFFFF" + "00" * 6)  # the 0x1E record of the Beijing trace, 48 B
clause = pytest.mark.clause


@functools.cache
def image(persona: str) -> CardImage:
    return personas.image(persona, as_of=AS_OF)


def with_params(img: CardImage, **params) -> CardImage:
    """The image with the purse's settings changed (e.g. prove_atc), as another profile would give."""
    path = next(p for p, a in img.applications.items() if a.kind == "epurse")
    app = img.applications[path]
    apps = {**img.applications, path: dataclasses.replace(app, params={**app.params, **params})}
    return dataclasses.replace(img, applications=apps)


def lc(data: bytes) -> str:
    return f"{len(data):02X}" + data.hex().upper()


class PurseTerminal:
    """A powered card with the purse selected, and the issuer-side keys that go with it."""

    def __init__(self, persona: str = "transit", *, seed: int = 7, img: CardImage | None = None,
                 nvm: type[NVM] = NVM) -> None:
        self.persona = personas.resolve(persona, as_of=AS_OF)
        img = img or image(persona)
        self.card = CardOS(img, faults=FaultPlan(), rng=random.Random(seed))
        self.card.nvm = nvm(img.contents, page_size=img.page_size, faults=self.card.faults)
        self.card.power_up()
        self.ok(SELECT)
        ef15 = self.ok("00B095001E")
        self.issuer, self.serial = ef15[0:8], ef15[10:20]
        self.algorithm = self.persona.sections.get("epurse", {}).get("algorithm", PROFILE["default_algorithm"])
        alg = self.algorithm
        self.keys = {name: diversify(alg, diversify(alg, bytes.fromhex(master), self.issuer), self.serial[2:])
                     for name, master in PROFILE["test_keys"].items()}
        self.terminal_serial = 0
        self.expected: dict = {}  # what the last value command must answer, computed here
        self.ledger: list[int] = []  # balance changes of the value transactions that answered 9000

    # -- the wire --
    def send(self, apdu: str | bytes) -> ResponseAPDU:
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        return ResponseAPDU.parse(self.card.transmit(raw))

    def ok(self, apdu: str | bytes) -> bytes:
        resp = self.send(apdu)
        assert resp.sw == SW.OK, f"{apdu if isinstance(apdu, str) else apdu.hex()} answered {resp}"
        return resp.data

    def power_cycle(self) -> None:
        self.card.power_down()
        self.card.power_up()
        self.ok(SELECT)

    # -- reads --
    def balance(self) -> int:
        return int.from_bytes(self.ok("805C000204"), "big") - int.from_bytes(self.ok("805C010204"), "big")

    def records(self, sfi: int) -> list[bytes]:
        out = []
        for n in range(1, 11):
            resp = self.send(f"00B2{n:02X}{sfi << 3 | 4:02X}00")
            if resp.sw == SW.RECORD_NOT_FOUND:
                break
            assert resp.sw == SW.OK
            out.append(resp.data)
        return out

    # -- purchase --
    def init_purchase(self, amount: int, *, composite: bool = False, index: int = 1) -> ResponseAPDU:
        p1 = 0x03 if composite else 0x01
        return self.send(f"8050{p1:02X}020B{index:02X}{amount:08X}{TERMINAL.hex()}0F")

    def debit_apdu(self, init: bytes, amount: int, *, composite: bool = False, wrong_mac: bool = False) -> str:
        """The DEBIT APDU for an INITIALIZE answer; notes the TAC and MAC2 the card must return."""
        random4, atc = init[11:15], init[4:6]
        assert init[10] == int(PROFILE["algorithms"][self.algorithm]["id"], 16)
        self.terminal_serial += 1
        serial4 = self.terminal_serial.to_bytes(4, "big")
        txn = COMPOSITE if composite else PURCHASE
        alg = self.algorithm
        session = purse.purchase_session_key(self.keys["DPK"], random4, atc, serial4, algorithm=alg)
        mac1 = purse.purchase_mac1(session, amount, txn, TERMINAL, DATE, TIME, algorithm=alg)
        if wrong_mac:
            mac1 = bytes((mac1[0] ^ 0x01,)) + mac1[1:]
        self.expected = {
            "atc": int.from_bytes(atc, "big"), "type": txn, "amount": amount,
            "mac2": purse.purchase_mac2(session, amount, algorithm=alg),
            "tac": purse.tac(self.keys["DTK"], amount, txn, TERMINAL, serial4, DATE, TIME, algorithm=alg),
        }
        return "805401000F" + (serial4 + DATE + TIME + mac1).hex() + "08"

    def purchase(self, amount: int, *, composite: bool = False, stage: tuple[tuple[int, int, bytes], ...] = (),
                 wrong_mac: bool = False) -> ResponseAPDU:
        """A whole purchase; `stage` = (P1, SFI, record) for each UPDATE CAPP DATA CACHE."""
        init = self.init_purchase(amount, composite=composite)
        if init.sw != SW.OK:
            return init
        for p1, sfi, record in stage:
            self.ok(f"80DC{p1:02X}{sfi << 3:02X}" + lc(record))
        resp = self.send(self.debit_apdu(init.data, amount, composite=composite, wrong_mac=wrong_mac))
        if resp.sw == SW.OK:
            self.ledger.append(-amount)
        return resp

    # -- load --
    def init_load(self, amount: int, *, index: int = 1) -> ResponseAPDU:
        return self.send(f"805000020B{index:02X}{amount:08X}{TERMINAL.hex()}10")

    def credit_apdu(self, init: bytes, amount: int, *, wrong_mac: bool = False) -> str:
        """Checks the card's MAC1 (host side) and builds CREDIT FOR LOAD; notes the TAC expected."""
        old, atc, random4, mac1 = int.from_bytes(init[0:4], "big"), init[4:6], init[8:12], init[12:16]
        alg = self.algorithm
        session = purse.load_session_key(self.keys["DLK"], random4, atc, algorithm=alg)
        assert mac1 == purse.load_mac1(session, old, amount, LOAD, TERMINAL, algorithm=alg), "load MAC1"
        mac2 = purse.load_mac2(session, amount, LOAD, TERMINAL, DATE, TIME, algorithm=alg)
        if wrong_mac:
            mac2 = bytes((mac2[0] ^ 0x80,)) + mac2[1:]
        new = max(old, 0) + amount - int.from_bytes(self.ok("805C010204"), "big")
        tac_data = (max(new, 0).to_bytes(4, "big") + atc + amount.to_bytes(4, "big") + bytes((LOAD,)) + TERMINAL
                    + DATE + TIME)
        key = tac_key(self.keys["DTK"]) if alg == "3des" else self.keys["DTK"]
        self.expected = {"atc": int.from_bytes(atc, "big"), "type": LOAD, "amount": amount, "mac2": mac2,
                         "tac": pboc_mac("des" if alg == "3des" else "sm4", key, tac_data)}
        return "805200000B" + (DATE + TIME + mac2).hex() + "04"

    def load(self, amount: int, *, wrong_mac: bool = False) -> ResponseAPDU:
        init = self.init_load(amount)
        if init.sw != SW.OK:
            return init
        resp = self.send(self.credit_apdu(init.data, amount, wrong_mac=wrong_mac))
        if resp.sw == SW.OK:
            self.ledger.append(amount)
        return resp

    def block_mac(self, challenge: bytes) -> bytes:
        size = 8 if self.algorithm == "3des" else 16
        header = bytes.fromhex("841E000004")
        return pboc_mac(self.algorithm, self.keys["DAMK"], header, icv=challenge.ljust(size, b"\0"))


def log(record: bytes) -> dict:
    return epurse.parse_log_record(record)


# -- selection and files --------------------------------------------------------------------
@clause("PURSE-SEL-001")
def test_ppse_lists_the_purse():
    t = PurseTerminal()
    fci = t.ok(PPSE)
    entry = bytes.fromhex("61174F08" + AID + "5008") + b"MOT_T_EP" + bytes.fromhex("870101")
    assert fci.endswith(b"\xBF\x0C" + bytes((len(entry),)) + entry)  # the only contactless entry


@clause("PURSE-SEL-001")
def test_select_answers_the_fci_of_the_trace_layout():
    t = PurseTerminal()
    fci = t.ok(SELECT)
    ef15 = t.ok("00B095001E")
    assert fci == bytes.fromhex("6F318408" + AID + "A5259F0801029F0C1E") + ef15
    assert ef15[8:10] == b"\x02\x01"  # app type normal, enabled
    assert ef15[20:24] == bytes.fromhex(f"{t.persona.values['issue_date']:%Y%m%d}")
    assert ef15[24:28] == bytes.fromhex(f"{t.persona.values['expiry_date']:%Y%m%d}")


@clause("PURSE-SEL-001")
def test_the_purse_is_not_on_a_card_without_it():
    card = CardOS(image("second_generation"))  # a 2nd-generation card carries no transport application
    card.power_up()
    assert ResponseAPDU.parse(card.transmit(bytes.fromhex(SELECT))).sw == SW.FILE_NOT_FOUND


@clause("PURSE-SEL-002")
def test_files_have_the_profile_sizes_and_are_read_only():
    t = PurseTerminal("transit_elderly")
    assert [len(t.ok(f"00B0{0x80 | sfi:02X}0000")) for sfi in (0x15, 0x16, 0x17)] == [30, 55, 60]
    assert t.records(0x18) == [] and t.records(0x1E) == []
    comp = t.records(0x1A)
    assert len(comp) == 4 and all(len(r) == 128 for r in comp) and comp[0][:3] == bytes.fromhex("27027D")
    ef16, ef17 = t.ok("00B0960037"), t.ok("00B097003C")
    assert ef16[0] == 0x03 and ef17[10] == 0x03  # elderly concession
    assert ef17[4:8] == bytes.fromhex("41004102")  # province, city of the Kaifeng region code
    assert ef16[22:40] == t.persona.values["citizen_id"].encode()
    assert t.send("00D69500" + lc(b"\x00")).sw == SW.CONDITIONS_NOT_SATISFIED
    assert t.send("00DC01D4" + lc(bytes(128))).sw == SW.CONDITIONS_NOT_SATISFIED
    assert t.send("00E200F0" + lc(bytes(48))).sw == SW.CONDITIONS_NOT_SATISFIED


def test_card_keys_are_two_level_diversified():
    t = PurseTerminal("transit_sm4")
    assert epurse.card_keys(PROFILE, t.issuer, t.serial, "sm4") == t.keys
    assert epurse.identity("410200", bytes.fromhex("5A3C7E0000000105")) == (t.issuer, t.serial)


def test_bad_persona_settings_are_refused_naming_the_value():
    values = personas.resolve("transit", as_of=AS_OF).values
    common = {"region": "410200", "card_serial": bytes(8), "holder_name": "测试", "citizen_id": values["citizen_id"],
              "start": AS_OF, "expiry": AS_OF}
    with pytest.raises(ValueError, match="card_type '09'"):
        epurse.build(card_type="09", **common)
    with pytest.raises(ValueError, match="balance 100001"):
        epurse.build(balance=100001, **common)


def test_every_epurse_fact_says_where_it_comes_from():
    for spec in PROFILE["files"]:
        assert spec["source"], spec["name"]
    for name, spec in PROFILE["keys"].items():
        assert spec["source"], name
    for name, spec in {**PROFILE["algorithms"], **PROFILE["transaction_types"]}.items():
        assert spec["source"], name
    facts = [k for k in PROFILE if not k.endswith("_source") and isinstance(PROFILE[k], (str, int))]
    for key in set(facts) - {"id", "version"}:
        assert f"{key}_source" in PROFILE, key
    assert "SYNTHETIC" in (PROFILE_ROOT / "national" / "epurse.yaml").read_text(encoding="utf-8")


def test_every_purse_clause_has_a_test():
    here = Path(__file__).parent
    text = "".join((here / f).read_text(encoding="utf-8")
                   for f in ("test_epurse.py", "test_epurse_properties.py", "test_epurse_tearing.py"))
    tested = set(re.findall(r'"(PURSE-[A-Z]+-\d{3})"', text))
    assert {c for c in national().clauses if c.startswith("PURSE-")} <= tested


# -- balance --------------------------------------------------------------------------------
@clause("PURSE-BAL-001")
def test_get_balance_and_its_status_words():
    t = PurseTerminal()
    assert t.ok("805C000204") == (5000).to_bytes(4, "big")
    assert t.ok("805C010204") == bytes(4)
    assert t.send("805C000104").sw == SW.INCORRECT_P1P2  # ED (passbook): not on this card
    assert t.send("805C020204").sw == SW.INCORRECT_P1P2
    assert t.send("805C00020100").sw == SW.WRONG_LENGTH
    assert t.send("805C000202").sw == 0x6C04


@clause("PURSE-BAL-001")
@clause("PURSE-PUR-001")
def test_overdraft_is_the_negative_purse():
    t = PurseTerminal()  # 50.00 CNY and a 10.00 CNY overdraft
    assert t.purchase(6001).sw == SW.INSUFFICIENT_FUNDS
    assert t.purchase(6000).sw == SW.OK
    assert (t.ok("805C000204"), t.ok("805C010204")) == (bytes(4), (1000).to_bytes(4, "big"))
    assert t.balance() == -1000
    assert t.init_purchase(1).sw == SW.INSUFFICIENT_FUNDS
    assert t.init_purchase(0).sw == SW.OK  # a zero fare (an entry tap) needs no money
    assert t.load(1500).sw == SW.OK
    assert (t.ok("805C000204"), t.ok("805C010204")) == ((500).to_bytes(4, "big"), bytes(4))


# -- purchase -------------------------------------------------------------------------------
@clause("PURSE-PUR-001")
def test_initialize_for_purchase_answers_the_documented_fields():
    t = PurseTerminal()
    init = t.init_purchase(300)
    assert init.sw == SW.OK and len(init.data) == 15
    d = init.data
    assert int.from_bytes(d[0:4], "big") == 5000 and d[4:6] == b"\x00\x00"
    assert int.from_bytes(d[6:9], "big") == 1000 and d[9] == 0x01 and d[10] == 0x00
    assert PurseTerminal("transit_sm4").init_purchase(1).data[10] == 0x04


@clause("PURSE-PUR-001")
def test_initialize_status_words():
    t = PurseTerminal("transit_low_balance")
    assert t.init_purchase(151).sw == SW.INSUFFICIENT_FUNDS
    assert t.init_purchase(151, composite=True).sw == SW.INSUFFICIENT_FUNDS
    assert t.init_purchase(100, index=2).sw == SW.KEY_INDEX_NOT_SUPPORTED
    assert t.init_load(100, index=2).sw == SW.KEY_INDEX_NOT_SUPPORTED
    assert t.send("805001010B01" + "00000001" + TERMINAL.hex()).sw == SW.INCORRECT_P1P2
    assert t.send("805002020B01" + "00000001" + TERMINAL.hex()).sw == SW.INCORRECT_P1P2
    assert t.send("805001020A01" + "00000001" + TERMINAL.hex()[:-2]).sw == SW.WRONG_LENGTH
    assert t.send(f"805001020B0100000001{TERMINAL.hex()}0E").sw == 0x6C0F


@clause("PURSE-PUR-002")
@clause("PURSE-ATC-001")
@clause("PURSE-LOG-001")
@pytest.mark.parametrize("persona", ["transit", "transit_sm4"])
def test_purchase_answers_the_tac_and_mac2_the_issuer_computes(persona):
    t = PurseTerminal(persona)
    before = t.balance()
    resp = t.purchase(250)
    assert resp.sw == SW.OK
    assert resp.data == t.expected["tac"] + t.expected["mac2"]
    assert t.balance() == before - 250
    assert t.init_purchase(1).data[4:6] == b"\x00\x01"  # offline ATC 0 used, now 1
    (record,) = t.records(0x18)
    assert log(record) == {"atc": 0, "overdraft": 1000 if persona == "transit" else 500, "amount": 250,
                           "type": PURCHASE, "terminal": TERMINAL, "date": DATE, "time": TIME}


@clause("PURSE-PUR-002")
def test_debit_needs_a_preceding_initialize():
    t = PurseTerminal()
    init = t.init_purchase(100).data
    debit = t.debit_apdu(init, 100)
    assert t.send(debit).sw == SW.OK
    assert t.send(debit).sw == SW.CONDITIONS_NOT_SATISFIED  # one DEBIT per INITIALIZE
    assert t.send(t.debit_apdu(t.init_purchase(100).data, 100)[:10] + "00" * 15).sw == SW.MAC_INVALID
    fresh = PurseTerminal()
    assert fresh.send(debit).sw == SW.CONDITIONS_NOT_SATISFIED
    # power or another application in between forgets the transaction (card.session is volatile)
    debit = fresh.debit_apdu(fresh.init_purchase(100).data, 100)
    fresh.power_cycle()
    assert fresh.send(debit).sw == SW.CONDITIONS_NOT_SATISFIED
    debit = fresh.debit_apdu(fresh.init_purchase(100).data, 100)
    fresh.ok(SELECT_SSSE)
    fresh.ok(SELECT)
    assert fresh.send(debit).sw == SW.CONDITIONS_NOT_SATISFIED
    assert fresh.balance() == 5000
    assert fresh.send("805402000F" + "00" * 15).sw == SW.INCORRECT_P1P2
    assert fresh.send("805401000E" + "00" * 14).sw == SW.WRONG_LENGTH


@clause("PURSE-MAC-001")
@pytest.mark.parametrize("composite", [False, True])
def test_wrong_mac1_moves_no_money_and_ends_the_transaction(composite):
    t = PurseTerminal()
    before = dict(t.card.nvm.data)
    init = t.init_purchase(400, composite=composite).data
    if composite:
        t.ok("80DC00F0" + lc(TRIP))
    assert t.send(t.debit_apdu(init, 400, composite=composite, wrong_mac=True)).sw == SW.MAC_INVALID
    assert t.card.nvm.data == before
    assert t.send(t.debit_apdu(init, 400, composite=composite)).sw == SW.CONDITIONS_NOT_SATISFIED
    assert t.card.nvm.data == before
    assert t.records(0x1E) == []


def test_counter_at_its_maximum_refuses_new_transactions():
    t = PurseTerminal()
    t.card.nvm.data[epurse.atc_key("3F00/1001", "offline")] = b"\xFF\xFF"
    t.card.nvm.data[epurse.atc_key("3F00/1001", "online")] = b"\xFF\xFF"
    assert t.init_purchase(1).sw == SW.COUNTER_EXHAUSTED
    assert t.init_load(1).sw == SW.COUNTER_EXHAUSTED


@clause("PURSE-LOG-001")
def test_the_log_keeps_the_ten_newest_records():
    t = PurseTerminal()
    for amount in range(1, 13):
        assert t.purchase(amount).sw == SW.OK
    records = [log(r) for r in t.records(0x18)]
    assert [r["amount"] for r in records] == list(range(12, 2, -1))
    assert [r["atc"] for r in records] == list(range(11, 1, -1))
    assert t.balance() == 5000 - sum(range(1, 13))


# -- composite purchase ---------------------------------------------------------------------
@clause("PURSE-CPUR-001")
def test_staged_trip_record_appears_only_after_debit():
    t = PurseTerminal()
    init = t.init_purchase(500, composite=True)
    assert init.sw == SW.OK
    t.ok("80DC00F0" + lc(TRIP))
    t.ok("80DC01D0" + lc(bytes.fromhex("27027D01") + bytes(124)))
    assert t.records(0x1E) == []  # staged, not written
    assert t.records(0x1A)[0][3] == 0x00
    resp = t.send(t.debit_apdu(init.data, 500, composite=True))
    assert resp.data == t.expected["tac"] + t.expected["mac2"]
    assert t.records(0x1E) == [TRIP]
    assert t.records(0x1A)[0][:4] == bytes.fromhex("27027D01")
    assert log(t.records(0x18)[0])["type"] == COMPOSITE
    assert t.balance() == 4500
    # the next composite purchase adds a newer trip record in front
    later = bytes((0x03,)) + TRIP[1:]
    assert t.purchase(0, composite=True, stage=((0, 0x1E, later),)).sw == SW.OK
    assert t.records(0x1E) == [later, TRIP]


@clause("PURSE-CPUR-001")
def test_update_capp_data_cache_status_words():
    t = PurseTerminal()
    assert t.send("80DC00F0" + lc(TRIP)).sw == SW.CONDITIONS_NOT_SATISFIED  # nothing initialised
    assert t.init_purchase(100).sw == SW.OK
    assert t.send("80DC00F0" + lc(TRIP)).sw == SW.CONDITIONS_NOT_SATISFIED  # a plain purchase
    assert t.init_purchase(100, composite=True).sw == SW.OK
    assert t.send("80DC00F0" + lc(TRIP[:47])).sw == SW.WRONG_LENGTH
    assert t.send("80DC01F0" + lc(TRIP)).sw == SW.INCORRECT_P1P2  # cyclic: P1 00 only
    assert t.send("80DC00F4" + lc(TRIP)).sw == SW.INCORRECT_P1P2
    assert t.send("80DC05D0" + lc(bytes(128))).sw == SW.RECORD_NOT_FOUND
    assert t.send("80DC00C0" + lc(bytes(23))).sw == SW.COMMAND_INCOMPATIBLE  # the 0x18 log
    assert t.send("80DC00E8" + lc(bytes(23))).sw == SW.FILE_NOT_FOUND  # SFI 1D
    assert t.send("80DC00F0" + lc(TRIP) + "00").sw == SW.WRONG_LENGTH
    assert t.send("80DC00F0" + lc(TRIP)).sw == SW.OK  # the transaction survived the refusals


# -- load -----------------------------------------------------------------------------------
@clause("PURSE-LOAD-001")
@clause("PURSE-LOAD-002")
@clause("PURSE-ATC-001")
@pytest.mark.parametrize("persona", ["transit", "transit_sm4"])
def test_load_mac1_mac2_and_tac(persona):
    t = PurseTerminal(persona)
    before = t.balance()
    init = t.init_load(2000)
    assert init.sw == SW.OK and len(init.data) == 16
    assert init.data[4:6] == b"\x00\x00" and init.data[6] == 0x01
    resp = t.send(t.credit_apdu(init.data, 2000))  # checks MAC1 on the way
    assert resp.sw == SW.OK and resp.data == t.expected["tac"]
    assert resp.data == epurse.load_tac(t.keys["DTK"], before + 2000, b"\x00\x00", 2000, LOAD, TERMINAL, DATE, TIME,
                                        algorithm=t.algorithm)
    assert t.balance() == before + 2000
    assert t.init_load(1).data[4:6] == b"\x00\x01"
    assert log(t.records(0x18)[0])["type"] == LOAD


@clause("PURSE-MAC-001")
@clause("PURSE-LOAD-002")
def test_load_refusals():
    t = PurseTerminal()
    before = dict(t.card.nvm.data)
    assert t.load(1000, wrong_mac=True).sw == SW.MAC_INVALID
    assert t.card.nvm.data == before
    assert t.send("805200000B" + "00" * 11).sw == SW.CONDITIONS_NOT_SATISFIED
    assert t.init_load(95001).sw == SW.WRONG_DATA  # above the 1000.00 CNY maximum balance
    assert t.init_load(0).sw == SW.WRONG_DATA
    assert t.load(95000).sw == SW.OK
    assert t.send("805201000B" + "00" * 11).sw == SW.INCORRECT_P1P2
    assert t.send("805200000A" + "00" * 10).sw == SW.WRONG_LENGTH


# -- GET TRANSACTION PROVE ------------------------------------------------------------------
@clause("PURSE-PROVE-001")
def test_prove_returns_mac2_and_tac_of_the_last_transaction():
    t = PurseTerminal()
    assert t.send("805A000602000108").sw == SW.MAC_UNAVAILABLE  # nothing yet
    assert t.purchase(100).sw == SW.OK
    want = t.expected["mac2"] + t.expected["tac"]
    assert t.ok("805A0006020001" + "08") == want  # next_offline_atc: INIT ATC 0 + 1
    assert t.send("805A0006020000").sw == SW.MAC_UNAVAILABLE
    assert t.send("805A0009020001").sw == SW.MAC_UNAVAILABLE  # another transaction type
    assert t.send("805A0106020001").sw == SW.INCORRECT_P1P2
    assert t.send("805A000603000100").sw == SW.WRONG_LENGTH
    assert t.load(100).sw == SW.OK
    assert t.ok("805A0002020001") == t.expected["mac2"] + t.expected["tac"]  # loads count on the online ATC
    assert t.send("805A0006020001").sw == SW.MAC_UNAVAILABLE  # only the last transaction is kept


@clause("PURSE-PROVE-001")
def test_prove_with_the_log_atc_convention():
    t = PurseTerminal(img=with_params(image("transit"), prove_atc="log_atc"))
    assert t.purchase(100, composite=True).sw == SW.OK
    atc = log(t.records(0x18)[0])["atc"]
    assert atc == 0
    assert t.ok("805A0009020000") == t.expected["mac2"] + t.expected["tac"]
    assert t.send("805A0009020001").sw == SW.MAC_UNAVAILABLE


@clause("PURSE-PROVE-001")
@clause("PURSE-NVM-001")
@pytest.mark.parametrize("point", ["nvm.apply", "nvm.clear", "nvm.done"])
def test_prove_after_power_lost_once_the_debit_committed(point):
    """The terminal saw no answer (闪卡): on re-tap the balance shows the debit and 805A gives the
    MAC2 and TAC the terminal would have received (transit-payment.md §1.6)."""
    t = PurseTerminal()
    assert t.purchase(100).sw == SW.OK
    init = t.init_purchase(700).data
    debit = t.debit_apdu(init, 700)
    t.card.faults.arm(at=t.card.faults.hits[point], point=point)  # its next hit
    with pytest.raises(PowerLost):
        t.card.transmit(bytes.fromhex(debit))
    t.card.power_up()
    t.ok(SELECT)
    assert t.balance() == 5000 - 100 - 700
    assert t.ok("805A0006020002") == t.expected["mac2"] + t.expected["tac"]


@clause("PURSE-PROVE-001")
def test_prove_after_power_lost_before_the_commit_names_the_previous_transaction():
    t = PurseTerminal()
    assert t.purchase(100).sw == SW.OK
    previous = t.expected["mac2"] + t.expected["tac"]
    debit = t.debit_apdu(t.init_purchase(700).data, 700)
    t.card.faults.arm(at=t.card.faults.hits["nvm.commit"], point="nvm.commit")
    with pytest.raises(PowerLost):
        t.card.transmit(bytes.fromhex(debit))
    t.card.power_up()
    t.ok(SELECT)
    assert t.balance() == 4900
    assert t.send("805A0006020002").sw == SW.MAC_UNAVAILABLE
    assert t.ok("805A0006020001") == previous


# -- APPLICATION BLOCK ----------------------------------------------------------------------
@clause("PURSE-LOCK-001")
@pytest.mark.parametrize("persona", ["transit", "transit_sm4"])
def test_application_block_locks_the_purse_for_good(persona):
    t = PurseTerminal(persona)
    assert t.send("841E00000400000000").sw == SW.CONDITIONS_NOT_SATISFIED  # no challenge
    mac = t.block_mac(t.ok("0084000004"))
    assert t.send("841E000004" + bytes((mac[0] ^ 1,)).hex() + mac[1:].hex()).sw == SW.SM_DATA_INCORRECT
    assert t.send("841E000004" + mac.hex()).sw == SW.CONDITIONS_NOT_SATISFIED  # the challenge was used
    assert t.balance() == t.persona.sections["epurse"]["balance"]
    challenge = t.ok("0084000008")
    assert t.send("841E000104" + t.block_mac(challenge).hex()).sw == SW.INCORRECT_P1P2
    assert t.send("841E000003" + "000000").sw == SW.WRONG_LENGTH
    t.ok("841E000004" + t.block_mac(challenge).hex())  # malformed commands did not use up the challenge
    t.card.power_down()
    t.card.power_up()
    resp = t.send(SELECT)
    assert resp.sw == SW.APPLICATION_LOCKED
    for apdu in ("805C000204", "00B095001E", f"805001020B0100000001{TERMINAL.hex()}"):
        assert t.send(apdu).sw == SW.CONDITIONS_NOT_SATISFIED
    assert t.send(SELECT_SSSE).sw == SW.OK  # only the purse is locked
    assert t.send(SELECT).sw == SW.APPLICATION_LOCKED


@clause("PURSE-LOCK-001")
def test_a_locked_persona_selects_with_9303():
    card = CardOS(image("transit_locked"))
    card.power_up()
    assert ResponseAPDU.parse(card.transmit(bytes.fromhex(SELECT))).sw == 0x9303
    assert ResponseAPDU.parse(card.transmit(bytes.fromhex("805C000204"))).sw == SW.CONDITIONS_NOT_SATISFIED
