"""The qPBOC (银联闪付) application: selection, GPO, AFL records, the cryptogram, risk rules, tearing.

The terminal here works as the bus-terminal kernel of transit-payment.md §2 does: PPSE, SELECT AID,
GPO with the PDOL data of the real trace, READ RECORD per AFL. The issuer side checks 9F26 with
`qpboc.verify_cryptogram` from the profile's synthetic master key and the PAN read from the card,
as a bank back-end would with field 55.
"""

from __future__ import annotations

import functools
import random
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from card_faults import CardFaults
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.apdu import SW, CommandAPDU, ResponseAPDU
from simulator.card import personas
from simulator.card.apps import qpboc
from simulator.card.cardos import CardOS
from simulator.card.nvm import NVM
from simulator.faults import FaultPlan, PowerLost
from simulator.privacy import mask_pan
from simulator.profile import PROFILE_ROOT, national
from simulator.tlv import parse_dol, parse_tlv, tlv

clause = pytest.mark.clause
AS_OF = date(2026, 11, 23)
PROFILE = national()["qpboc"]
AID = bytes.fromhex("A000000333010101")
APP = f"3F00/{PROFILE['application']['fid']}"
PPSE = b"2PAY.SYS.DDF01"
#: the real GPO of transit-payment.md §2, sent as captured (case 3, no Le)
TRACE_GPO = "80A8000023 8321 28000000 000000000001 000000000000 0156 0000000000 0156 101001 00 AE9BF3C8"
TRACE_ORDER = [(0x9F66, 4), (0x9F02, 6), (0x9F03, 6), (0x9F1A, 2), (0x95, 5), (0x5F2A, 2), (0x9A, 3), (0x9C, 1),
               (0x9F37, 4)]
TEMPLATE_77 = {0x82, 0x94, 0x9F36, 0x9F26, 0x9F27, 0x9F10, 0x57, 0x9F5D, 0x9F6C}
CID = {"TC": 0x40, "ARQC": 0x80, "AAC": 0x00}
ONLINE_ODA_TTQ = "21800080"  # the online-ODA transit flow (§2 TTQ values)
EC_FIRST_TTQ = "28000000"  # the EC-first bus terminal


def pdol_data(*, ttq: str = EC_FIRST_TTQ, amount: int = 1, currency: str = "0156", day: date = AS_OF,
              un: str = "AE9BF3C8", amount_raw: bytes | None = None) -> bytes:
    """PDOL data in the trace's order (TTQ, amount, other amount, country, TVR, currency, date, type, UN)."""
    amount_bytes = amount_raw if amount_raw is not None else qpboc.amount_n12(amount)
    return (bytes.fromhex(ttq) + amount_bytes + bytes(6) + bytes.fromhex("0156") + bytes(5)
            + bytes.fromhex(currency) + qpboc.yymmdd(day) + b"\x00" + bytes.fromhex(un))


def inner(template: bytes, tag: int) -> dict[int, bytes]:
    """The tags inside the one `tag` template of a response."""
    (found, value), = parse_tlv(template)
    assert found == tag, f"expected template {tag:X}, got {found:X}"
    return dict(parse_tlv(value))


@functools.cache
def _image(persona: str):
    return personas.image(persona, as_of=AS_OF)


class Terminal:
    """A powered card of one persona, a qPBOC reader in front of it and the issuer behind it."""

    def __init__(self, persona: str = "bank", *, nvm: type[NVM] = NVM) -> None:
        image = _image(persona)
        self.card = CardOS(image, faults=FaultPlan(), rng=random.Random(3))
        self.card.nvm = nvm(image.contents, page_size=image.page_size, faults=self.card.faults)
        self.card.power_up()
        self.algorithm = image.applications[APP].algorithm

    def send(self, apdu: str | bytes) -> ResponseAPDU:
        raw = bytes.fromhex(apdu.replace(" ", "")) if isinstance(apdu, str) else apdu
        return ResponseAPDU.parse(self.card.transmit(raw))

    def ok(self, apdu: str | bytes) -> bytes:
        resp = self.send(apdu)
        assert resp.sw == SW.OK, f"{apdu!r} answered {resp}"
        return resp.data

    def select(self, name: bytes = AID) -> ResponseAPDU:
        return self.send(CommandAPDU(0x00, 0xA4, 0x04, 0x00, name, le=0).to_bytes())

    def gpo(self, data: bytes) -> ResponseAPDU:
        return self.send(CommandAPDU(0x80, 0xA8, 0x00, 0x00, tlv(0x83, data), le=0).to_bytes())

    def pay(self, data: bytes | None = None, **kw) -> dict[int, bytes]:
        """SELECT + GPO answering 9000; the tags of template 77."""
        assert self.select().sw == SW.OK
        resp = self.gpo(data if data is not None else pdol_data(**kw))
        assert resp.sw == SW.OK, resp
        return inner(resp.data, 0x77)

    def get_data(self, tag: int) -> bytes:
        (found, value), = parse_tlv(self.ok(CommandAPDU(0x80, 0xCA, tag >> 8, tag & 0xFF, le=0).to_bytes()))
        assert found == tag
        return value

    def atc(self) -> int:
        return int.from_bytes(self.get_data(0x9F36), "big")

    def balance(self) -> int:
        """The EC balance (9F79, n12) in fen."""
        return int(self.get_data(0x9F79).hex())

    def records(self, afl: bytes) -> dict[int, bytes]:
        """READ RECORD of every record the AFL names; the tags of all their 70 templates."""
        tags: dict[int, bytes] = {}
        for i in range(0, len(afl), 4):
            sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
            for number in range(first, last + 1):
                tags |= inner(self.ok(CommandAPDU(0x00, 0xB2, number, sfi << 3 | 4, le=0).to_bytes()), 0x70)
        return tags

    def issuer_verifies(self, data: bytes, answer: dict[int, bytes], *, pan: str, psn: int = 1) -> bool:
        """What the bank does with field 55: the terminal's PDOL data plus 82, 9F36, 9F10 from the card."""
        tags = dict(zip((t for t, _ in TRACE_ORDER), _split(data), strict=True))
        tags |= {t: answer[t] for t in (0x82, 0x9F36, 0x9F10)}
        return qpboc.verify_cryptogram(answer[0x9F26], algorithm=self.algorithm, pan=pan, pan_sequence=psn,
                                       master_key=bytes.fromhex(PROFILE["test_keys"]["ac"][self.algorithm]),
                                       tags=tags)


def _split(data: bytes) -> list[bytes]:
    out, i = [], 0
    for _, n in TRACE_ORDER:
        out.append(data[i : i + n])
        i += n
    return out


def pan_of(term: Terminal) -> str:
    assert term.select().sw == SW.OK
    return _read_pan(term)


def _read_pan(term: Terminal) -> str:
    afl = b"".join(bytes((sfi << 3, 1, 1, 0)) for sfi in (f["sfi"] for f in PROFILE["files"]))
    return term.records(afl)[0x5A].hex().upper().rstrip("F")


# -- the profile ----------------------------------------------------------------------------
def test_every_qpboc_fact_says_where_it_comes_from():
    for section, value in PROFILE.items():
        if section in ("id", "version", "test_keys"):
            continue
        items = value.values() if section == "elements" else value if isinstance(value, list) else [value]
        for item in items:
            assert item["source"].strip(), section
    assert PROFILE["cryptogram"]["source"].startswith("modelled")
    assert "SYNTHETIC" in (PROFILE_ROOT / "national" / "qpboc.yaml").read_text(encoding="utf-8")


def test_every_qpboc_clause_has_a_test():
    tested = set(re.findall(r'clause\("(QP-[A-Z]+-\d{3})"\)', Path(__file__).read_text(encoding="utf-8")))
    assert {c for c in national().clauses if c.startswith("QP-")} == tested


# -- selection ------------------------------------------------------------------------------
@clause("QP-SEL-001")
def test_ppse_lists_the_application():
    term = Terminal()
    fci = inner(term.ok(CommandAPDU(0x00, 0xA4, 0x04, 0x00, PPSE, le=0).to_bytes()), 0x6F)
    assert fci[0x84] == PPSE
    directory = dict(parse_tlv(dict(parse_tlv(fci[0xA5]))[0xBF0C]))
    entry = dict(parse_tlv(directory[0x61]))
    assert entry == {0x4F: AID, 0x50: b"PBOC DEBIT", 0x87: b"\x01"}


@clause("QP-SEL-002")
def test_select_answers_the_fci_with_the_pdol_of_the_trace():
    term = Terminal()
    resp = term.select()
    assert resp.sw == SW.OK
    fci = inner(resp.data, 0x6F)
    assert fci[0x84] == AID
    prop = dict(parse_tlv(fci[0xA5]))
    assert prop[0x50] == b"PBOC DEBIT" and prop[0x87] == b"\x01"
    assert parse_dol(prop[0x9F38]) == TRACE_ORDER
    assert sum(n for _, n in TRACE_ORDER) == 0x21  # "8321" in the trace
    assert dict(parse_tlv(prop[0xBF0C]))[0xDF61][0] & 0x40  # online ODA supported


# -- GPO ------------------------------------------------------------------------------------
@clause("QP-GPO-001")
def test_gpo_of_the_real_trace_answers_template_77_with_every_tag():
    term = Terminal()
    assert term.select().sw == SW.OK
    resp = term.send(TRACE_GPO)
    assert resp.sw == SW.OK, resp
    tags = inner(resp.data, 0x77)
    assert set(tags) == TEMPLATE_77
    assert tags[0x82] == bytes.fromhex("7C00")
    assert tags[0x9F27][0] == CID["TC"]  # 0.01 CNY on an EC-first reader, within balance and limit
    assert len(tags[0x9F26]) == 8 and len(tags[0x9F10]) == 19 and tags[0x9F36] == b"\x00\x01"
    assert tags[0x9F5D] == qpboc.amount_n12(10000 - 1)
    assert tags[0x9F6C] == bytes.fromhex("2000")
    assert tags[0x57].hex().upper().startswith(pan_of(term) + "D")


@clause("QP-GPO-001")
@pytest.mark.parametrize("length", [0, 1, 32, 34, 66])
def test_gpo_with_pdol_data_of_the_wrong_length_answers_6700(length):
    term = Terminal()
    assert term.select().sw == SW.OK
    assert term.gpo(bytes(length)).sw == SW.WRONG_LENGTH
    assert term.atc() == 0  # nothing counted
    assert term.gpo(pdol_data()).sw == SW.OK  # and the transaction can still go on


@clause("QP-GPO-001")
def test_gpo_data_outside_template_83_is_refused():
    term = Terminal()
    assert term.select().sw == SW.OK
    assert term.send("80A8000023" + "8421" + pdol_data().hex()).sw == SW.WRONG_DATA
    assert term.send("80A8000023" + "8322" + pdol_data().hex()).sw == SW.WRONG_LENGTH  # 83 overruns the data
    assert term.send("80A8010023" + "8321" + pdol_data().hex()).sw == SW.INCORRECT_P1P2


@clause("QP-GPO-001")
def test_second_gpo_in_one_transaction_answers_6985_until_selected_again():
    term = Terminal()
    term.pay()
    assert term.gpo(pdol_data()).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.atc() == 1
    assert term.pay()[0x9F36] == b"\x00\x02"


@clause("QP-GPO-002")
def test_an_exhausted_atc_refuses_gpo():
    term = Terminal()
    term.card.nvm.write({qpboc.atc_key(APP): b"\xFF\xFE"})
    assert term.pay()[0x9F36] == b"\xFF\xFF"
    assert term.select().sw == SW.OK
    assert term.gpo(pdol_data()).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.ok("80CA9F3600") == bytes.fromhex("9F3602FFFF")


@clause("QP-GPO-002")
def test_atc_strictly_increases_across_decisions_errors_and_power_cycles():
    term = Terminal()
    seen = []
    for i, kw in enumerate([{}, {"ttq": ONLINE_ODA_TTQ}, {"amount": 999999}, {"amount": 100}, {"currency": "0840"},
                            {}, {"amount_raw": b"\xAA" * 6}, {"ttq": ONLINE_ODA_TTQ}]):
        if i == 4:
            term.card.power_down()
            term.card.power_up()
        assert term.select().sw == SW.OK
        assert term.gpo(b"\x00" * 5).sw == SW.WRONG_LENGTH  # refused GPOs do not count
        seen.append(int.from_bytes(term.pay(**kw)[0x9F36], "big"))
    assert seen == list(range(1, len(seen) + 1))
    assert term.atc() == seen[-1]


# -- records --------------------------------------------------------------------------------
@clause("QP-AFL-001")
@pytest.mark.parametrize("persona", ["bank", "bank_sm4"])
def test_afl_records_hold_pan_expiry_track2(persona):
    term = Terminal(persona)
    afl = term.pay()[0x94]
    assert afl == bytes.fromhex("0801010010010101")
    tags = term.records(afl)
    assert {0x57, 0x5A, 0x5F24, 0x5F34, 0x9F07} <= set(tags)
    pan = tags[0x5A].hex().upper().rstrip("F")
    assert qpboc.luhn_valid(pan) and 16 <= len(pan) <= 19
    track2 = tags[0x57].hex().upper().rstrip("F")
    assert track2.split("D")[0] == pan
    expiry = personas.resolve(persona, as_of=AS_OF).values["expiry_date"]
    assert tags[0x5F24] == qpboc.yymmdd(expiry)
    assert track2.split("D")[1][:4] == f"{expiry:%y%m}"
    assert tags[0x5F34] == b"\x01"


def test_luhn_and_masking():
    assert qpboc.luhn_check_digit("7992739871") == "3"  # the ISO/IEC 7812 worked example
    assert qpboc.luhn_valid("6299990000000017") and not qpboc.luhn_valid("6299990000000018")
    assert mask_pan("6299990000000017") == "629999******0017"
    assert qpboc.luhn_valid(qpboc.synthetic_pan(bytes(range(16))))
    spec = next(e for e in PROFILE["elements"].values() if e["tag"] == "5A")
    assert spec["personal"] and PROFILE["elements"]["track2"]["personal"]


# -- the application cryptogram -------------------------------------------------------------
@clause("QP-AC-001")
@pytest.mark.parametrize(("persona", "decision"), [("bank", "TC"), ("bank_sm4", "TC"), ("bank_expired_app", "AAC")])
def test_cryptogram_verifies_and_any_changed_input_byte_breaks_it(persona, decision):
    term = Terminal(persona)
    pan = pan_of(term)
    data = pdol_data(amount=123, un="01020304")
    answer = term.pay(data)
    assert answer[0x9F27][0] == CID[decision]
    assert term.issuer_verifies(data, answer, pan=pan)
    # every byte the AC covers: the terminal data after the TTQ (9F66 is no AC input, and field 55 of
    # transit-payment.md §2 does not carry it), AIP, ATC and the CVR inside 9F10 (bytes 3..6)
    for i in range(4, len(data)):
        changed = data[:i] + bytes((data[i] ^ 0x01,)) + data[i + 1 :]
        assert not term.issuer_verifies(changed, answer, pan=pan), f"PDOL byte {i}"
    for tag, positions in ((0x82, range(2)), (0x9F36, range(2)), (0x9F10, range(3, 7))):
        for i in positions:
            value = answer[tag]
            changed = value[:i] + bytes((value[i] ^ 0x80,)) + value[i + 1 :]
            assert not term.issuer_verifies(data, answer | {tag: changed}, pan=pan), f"{tag:X} byte {i}"
    assert not term.issuer_verifies(data, answer, pan=pan, psn=2)
    other_pan = pan[:-2] + str((int(pan[-2]) + 1) % 10) + pan[-1]
    assert not term.issuer_verifies(data, answer, pan=other_pan)
    assert not term.issuer_verifies(data, answer | {0x9F26: bytes(8)}, pan=pan)


def test_issuer_side_refuses_incomplete_field_55():
    with pytest.raises(ValueError, match="9F37 missing"):
        qpboc.compute_cryptogram(algorithm="3des", master_key=bytes(16), pan="6299990000000017", pan_sequence=1,
                                 tags={0x9F02: bytes(6), 0x9F36: b"\x00\x01"} | {t: bytes(n) for t, n in TRACE_ORDER
                                                                                 if t != 0x9F37})


# -- risk rules -----------------------------------------------------------------------------
@clause("QP-RISK-001")
def test_ttq_online_cryptogram_required_gives_arqc_without_debit():
    term = Terminal()
    answer = term.pay(ttq=ONLINE_ODA_TTQ, amount=200)
    assert answer[0x9F27][0] == CID["ARQC"]
    assert answer[0x9F10][4] == 0xA0  # CVR: ARQC, as in the field-55 sample
    assert answer[0x9F5D] == qpboc.amount_n12(10000)
    assert term.balance() == 10000


@clause("QP-RISK-002")
def test_amount_over_the_offline_limit_gives_arqc_without_debit():
    term = Terminal()  # limit 50.00, balance 100.00
    assert term.pay(amount=5001)[0x9F27][0] == CID["ARQC"]
    assert term.balance() == 10000
    assert term.pay(amount=5000)[0x9F27][0] == CID["TC"]  # the limit itself is allowed
    assert term.balance() == 5000


@clause("QP-RISK-002")
def test_amount_over_the_ec_balance_gives_arqc_without_debit():
    term = Terminal("bank_sm4")  # balance 20.00, limit 100.00 (profile default)
    assert term.pay(amount=2001)[0x9F27][0] == CID["ARQC"]
    assert term.balance() == 2000
    answer = term.pay(amount=2000)
    assert answer[0x9F27][0] == CID["TC"] and answer[0x9F5D] == qpboc.amount_n12(0)
    assert term.pay(amount=1)[0x9F27][0] == CID["ARQC"]
    assert term.balance() == 0


def test_foreign_currency_goes_online():
    term = Terminal()
    assert term.pay(currency="0840")[0x9F27][0] == CID["ARQC"]
    assert term.balance() == 10000


@clause("QP-RISK-003")
def test_within_limit_and_balance_gives_tc_and_debits_exactly_the_amount():
    term = Terminal()
    balance = 10000
    for amount in (1234, 1, 4000):
        answer = term.pay(amount=amount)
        balance -= amount
        assert answer[0x9F27][0] == CID["TC"]
        assert answer[0x9F5D] == qpboc.amount_n12(balance)
        assert term.balance() == balance
    assert balance == 10000 - 5235


@clause("QP-RISK-004")
def test_expired_application_gives_aac_without_debit():
    term = Terminal("bank_expired_app")
    answer = term.pay(amount=100)
    assert answer[0x9F27][0] == CID["AAC"]
    assert answer[0x9F10][5] & 0x80  # CVR reason: application expired
    assert term.balance() == 10000


@clause("QP-RISK-004")
def test_expiry_is_judged_on_the_transaction_date():
    term = Terminal()
    expiry = personas.resolve("bank", as_of=AS_OF).values["expiry_date"]
    assert term.pay(day=expiry)[0x9F27][0] == CID["TC"]
    assert term.pay(day=expiry + timedelta(days=1))[0x9F27][0] == CID["AAC"]


def test_malformed_terminal_data_is_declined_not_faulted():
    term = Terminal()
    assert term.pay(amount_raw=b"\x00\x00\x00\x00\x00\x1A")[0x9F27][0] == CID["AAC"]
    data = pdol_data()
    bad_date = data[:25] + b"\x26\x13\x45" + data[28:]
    assert term.pay(bad_date)[0x9F27][0] == CID["AAC"]
    assert term.balance() == 10000


def test_rules_in_order_locked_first():
    """The rule GPO cannot reach on the wire (the card OS refuses a locked application first)."""
    conditions = dict.fromkeys(qpboc.CONDITIONS, False)
    rules = PROFILE["risk"]["rules"]
    assert qpboc.decide(conditions, rules) == "TC"
    assert qpboc.decide(conditions | {"application_locked": True, "online_cryptogram_required": True}, rules) == "AAC"
    assert qpboc.decide(conditions | {"amount_over_ec_balance": True}, rules) == "ARQC"


@clause("QP-LOCK-001")
def test_locked_application_selects_with_6283_and_refuses_gpo():
    term = Terminal("bank_locked")
    before = dict(term.card.nvm.data)
    resp = term.select()
    assert resp.sw == int(PROFILE["application"]["locked_select_sw"], 16) == 0x6283
    assert inner(resp.data, 0x6F)[0x84] == AID
    assert term.gpo(pdol_data()).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.send("80CA9F3600").sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.card.nvm.data == before


# -- tearing --------------------------------------------------------------------------------
class SplitNVM(NVM):
    """A mutant: each value of a write is committed on its own, so a tear can split ATC from balance."""

    def write(self, updates: dict[str, bytes]) -> None:
        for key, value in updates.items():
            super().write({key: value})


def _state(term: Terminal) -> tuple[bytes, bytes]:
    nvm = term.card.nvm
    return nvm[qpboc.atc_key(APP)], nvm[qpboc.ec_balance_key(APP)]


def tear_gpo(data: bytes, nvm: type[NVM] = NVM) -> tuple[int, list[str]]:
    """Cut the power at each fault point GPO passes; (cases, problems)."""
    term = Terminal(nvm=nvm)
    assert term.select().sw == SW.OK
    old, start = _state(term), term.card.faults.total
    assert term.gpo(data).sw == SW.OK
    new, n = _state(term), term.card.faults.total - start
    assert old[0] != new[0]
    problems = []
    for i in range(n):
        term = Terminal(nvm=nvm)
        assert term.select().sw == SW.OK
        term.card.faults.arm(at=term.card.faults.total + i)
        with pytest.raises(PowerLost):
            term.gpo(data)
        term.card.power_up()
        state = _state(term)
        if state not in (old, new):
            problems.append(f"tear {i}/{n} at {term.card.faults.trail[-1]}: ATC/balance {state} "
                            f"neither {old} nor {new}")
        atc = int.from_bytes(term.pay(data)[0x9F36], "big")  # the card works on, and counts on
        if atc != int.from_bytes(state[0], "big") + 1:
            problems.append(f"tear {i}/{n}: the next GPO gave ATC {atc} after {state[0].hex()}")
    return n, problems


@clause("QP-GPO-003")
@pytest.mark.parametrize(("name", "data", "debits"), [
    ("TC (ATC and balance)", pdol_data(amount=1500), True),
    ("ARQC (ATC only)", pdol_data(ttq=ONLINE_ODA_TTQ, amount=1500), False),
])
def test_tear_at_every_fault_point_of_gpo_leaves_old_or_new(name, data, debits):
    n, problems = tear_gpo(data)
    print(f"GPO {name}: {n} tear cases")
    assert n >= (7 if debits else 5)
    assert problems == []


@clause("QP-GPO-003")
def test_split_commit_is_caught():
    n, problems = tear_gpo(pdol_data(amount=1500), SplitNVM)
    assert any("neither" in p for p in problems), problems


# -- any PDOL data --------------------------------------------------------------------------
FUZZ = Terminal()
FUZZ_PAN = pan_of(FUZZ)


@clause("QP-GPO-001")
@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.binary(min_size=33, max_size=33), twice=st.booleans())
def test_any_pdol_data_of_the_right_length_is_answered(data, twice):
    with CardFaults() as faults:
        assert FUZZ.select().sw == SW.OK
        resp = FUZZ.gpo(data)
        again = FUZZ.gpo(data) if twice else None
    assert resp.sw in (SW.OK, SW.CONDITIONS_NOT_SATISFIED, SW.WRONG_LENGTH)
    assert resp.sw == SW.OK  # a fresh transaction with 33 bytes is always served
    assert FUZZ.issuer_verifies(data, inner(resp.data, 0x77), pan=FUZZ_PAN)
    assert again is None or again.sw == SW.CONDITIONS_NOT_SATISFIED
    assert faults.records == []


@clause("QP-GPO-001")
@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.binary(max_size=64))
def test_pdol_data_of_any_length_is_served_or_6700(data):
    with CardFaults() as faults:
        assert FUZZ.select().sw == SW.OK
        resp = FUZZ.gpo(data)
    assert resp.sw == (SW.OK if len(data) == 33 else SW.WRONG_LENGTH)
    assert faults.records == []
