"""The card OS command by command, one clause of profiles/national/clauses.yaml per test.

Each test boots a persona's card (`Terminal`), sends hex APDUs as field code does
(ssc-card.md §1-2) and checks status words and data; issuer-side keys come from the profile's
synthetic test keys, so cryptograms are computed independently of the card.
"""

from __future__ import annotations

import functools
import random
from datetime import date

import pytest

from simulator.apdu import SW, ResponseAPDU, describe
from simulator.card import personas
from simulator.card.apps import ssse
from simulator.card.cardos import CardOS
from simulator.card.image import pin_tries_key
from simulator.crypto import cipher, diversify
from simulator.crypto.auth import (
    external_auth_cryptogram,
    internal_auth_result,
    pin_reload_mac,
    pin_unblock_data,
)
from simulator.faults import FaultPlan
from simulator.profile import load

AS_OF = date(2026, 11, 23)
SSSE_AID = "7378312E73682EC9E7BBE1B1A3D5CF"
DF04_AID = "D15600000503"
SELECT_SSSE = "00A404000F" + SSSE_AID
PROFILE = load("national/ssse", "ssse")
ELEMENTS = ssse.elements(PROFILE)
SFI = {"EF05": 5, "EF06": 6}
ALGORITHM = {2: "3des", 3: "sm4"}
clause = pytest.mark.clause


@functools.cache
def _image(persona: str):
    return personas.image(persona, as_of=AS_OF)


def bcd(digits: str) -> str:
    """A PIN as VERIFY carries it: BCD, an odd last digit padded with F."""
    return digits + "F" * (len(digits) % 2)


def lc(data_hex: str) -> str:
    return f"{len(data_hex) // 2:02X}" + data_hex


class Terminal:
    """A powered card of one persona and the issuer side that knows its keys."""

    def __init__(self, persona: str = "normal", *, seed: int = 7) -> None:
        self.persona = personas.resolve(persona, as_of=AS_OF)
        self.algorithm = ALGORITHM[self.persona.generation]
        self.card = CardOS(_image(persona), faults=FaultPlan(), rng=random.Random(seed))
        self.atr = self.card.power_up()

    def send(self, apdu: str) -> ResponseAPDU:
        return ResponseAPDU.parse(self.card.transmit(bytes.fromhex(apdu.replace(" ", ""))))

    def sw(self, apdu: str) -> int:
        return self.send(apdu).sw

    def ok(self, apdu: str) -> bytes:
        resp = self.send(apdu)
        assert resp.sw == SW.OK, f"{apdu} answered {resp}"
        return resp.data

    def key(self, kid: int) -> bytes:
        return ssse.card_key(PROFILE, kid, self.persona.values["card_identifier"], self.algorithm)

    def power_cycle(self) -> None:
        self.card.power_down()
        self.card.power_up()

    def select_ssse(self) -> ResponseAPDU:
        return self.send(SELECT_SSSE + "00")

    def challenge(self) -> bytes:
        return self.ok("0084000008")

    def external_auth(self, kid: int, *, right: bool = True) -> int:
        cryptogram = external_auth_cryptogram(self.algorithm, self.key(kid), self.challenge())
        if not right:
            cryptogram = bytes((cryptogram[0] ^ 0x01,)) + cryptogram[1:]
        return self.sw(f"008200{kid:02X}" + lc(cryptogram.hex()))

    def verify(self, digits: str) -> int:
        return self.sw("00200000" + lc(bcd(digits)))

    def pin_tries(self) -> int:
        return self.card.nvm[pin_tries_key("3F00/DDF1")][0]


@pytest.fixture
def t() -> Terminal:
    term = Terminal("normal")
    assert term.select_ssse().sw == SW.OK
    return term


# -- answer to reset ------------------------------------------------------------------------
@clause("CARD-ATR-001")
def test_atr_carries_region_and_serial_in_its_historical_bytes():
    term = Terminal("normal")
    assert term.atr == bytes.fromhex("3B6D0000" "0081594B54" "410200" "0000000001")


# -- SELECT -----------------------------------------------------------------------------------
def fci(aid: str, algorithm_indicator: int) -> bytes:
    inner = "84" + lc(aid) + "A506" + f"9F0C038601{algorithm_indicator:02X}"
    return bytes.fromhex("6F" + lc(inner))


@clause("CARD-SEL-001")
def test_select_ssse_by_aid_gen3_fci_names_sm4():
    resp = Terminal("normal").select_ssse()
    assert resp.sw == SW.OK
    assert resp.data == fci(SSSE_AID, 0x03)


@clause("CARD-SEL-001")
def test_select_ssse_by_aid_gen2_fci_names_des():
    resp = Terminal("second_generation").select_ssse()
    assert resp.sw == SW.OK
    assert resp.data == fci(SSSE_AID, 0x01)


@clause("CARD-SEL-001")
def test_select_ssse_without_le_and_with_p2_0c():
    term = Terminal("normal")
    assert term.send(SELECT_SSSE).data == fci(SSSE_AID, 0x03)
    assert term.send("00A4040C0F" + SSSE_AID) == ResponseAPDU(b"", SW.OK)


@clause("CARD-SEL-001")
@pytest.mark.parametrize("p1", ["00", "02"])
def test_select_ef05_by_fid_returns_its_fcp(t, p1):
    fcp = t.ok(f"00A4{p1}0002EF05")
    # 62 { 80 size, 82 linear variable (04) 00 255 7, 83 EF05, 88 SFI 5 in b8..b4 }
    assert fcp == bytes.fromhex("6211" "800206F9" "82040400FF07" "8302EF05" "880128")
    assert t.ok("00B2010400")[:1] == b"\x01"  # the selected EF is now the current EF


@clause("CARD-SEL-001")
def test_select_ef_with_p2_0c_returns_no_data(t):
    assert t.send("00A4020C02EF05") == ResponseAPDU(b"", SW.OK)


@clause("CARD-SEL-001")
@pytest.mark.parametrize("apdu", ["00A40000", "00A4000000", "00A40000023F00"])
def test_select_mf(t, apdu):
    assert t.ok(apdu) == bytes.fromhex("6F04 83023F00".replace(" ", ""))
    assert t.sw("00B2012C00") == SW.FILE_NOT_FOUND  # no SFI 5 under the MF


@clause("CARD-SEL-001")
def test_select_df04_by_aid_and_by_fid(t):
    expected = bytes.fromhex("6F08 8406" + DF04_AID)
    assert t.ok("00A4000002DF04") == expected
    assert t.ok("00A4040006" + DF04_AID) == expected


@clause("CARD-SEL-002")
@pytest.mark.parametrize(
    "apdu",
    [
        "00A404000F7378312E73682EC9E7BBE1B1A3D5CE",  # SSSE AID, last byte changed
        "00A4040006D15600000599",  # an area this card does not have
        "00A4000002EF99",  # unknown FID
        "00A4020002EF99",
        "00A4020002DF04",  # P1=02 selects EFs only
    ],
)
def test_select_unknown_is_6a82(t, apdu):
    assert t.sw(apdu) == SW.FILE_NOT_FOUND


@clause("CARD-APDU-001")
@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00A4080002EF05", SW.INCORRECT_P1P2),  # select by path: not supported
        ("00A4000802EF05", SW.INCORRECT_P1P2),
        ("00A4000003EF0501", SW.WRONG_LENGTH),  # a FID has 2 bytes
        ("00A4040011" + "00" * 17, SW.WRONG_LENGTH),  # a DF name has at most 16 bytes
        ("00A5000000", SW.INS_NOT_SUPPORTED),
        ("80A4040000", SW.CLA_NOT_SUPPORTED),  # known INS, wrong class
        ("FFA4000000", SW.CLA_NOT_SUPPORTED),
        ("01A4000000", SW.LOGICAL_CHANNEL_NOT_SUPPORTED),
        ("00A40400", SW.WRONG_LENGTH),  # P1=04 needs a DF name
    ],
)
def test_command_interface_status_words(t, apdu, sw):
    assert t.sw(apdu) == sw


# -- READ RECORD ------------------------------------------------------------------------------
@clause("CARD-FILE-003")
def test_read_record_by_number_in_current_ef(t):
    t.ok("00A4020002EF05")
    assert t.ok("00B2010400") == b"\x01\x10" + t.persona.values["card_identifier"]
    assert t.ok("00B2030400") == b"\x03\x04" + b"3.00"


@clause("CARD-FILE-003")
def test_read_record_by_identifier_in_current_ef(t):
    t.ok("00A4020002EF05")
    assert t.ok("00B2070000")[:2] == b"\x07\x09"


@clause("CARD-FILE-003")
def test_read_record_by_sfi_2c_34_30(t):
    assert t.ok("00B2012C00") == b"\x01\x10" + t.persona.values["card_identifier"]
    assert t.external_auth(0x0A) == SW.OK
    assert t.ok("00B2013400")[:2] == b"\x08\x12"  # 社会保障号码, by number
    assert t.ok("00B24E3016") == b"\x4E\x14" + bytes(20)  # 姓名扩展 by tag (field code's APDU)
    assert t.ok("00B20D3000") == t.ok("00B2073400")  # 出生日期: tag 0D is record 7


@clause("CARD-FILE-003")
@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00B2082C00", SW.RECORD_NOT_FOUND),  # EF05 has 7 records
        ("00B2FF2C00", SW.RECORD_NOT_FOUND),
        ("00B2002C00", SW.INCORRECT_P1P2),  # record number 0
        ("00B2082800", SW.RECORD_NOT_FOUND),  # no record with tag 08 in EF05
        ("00B2012D00", SW.INCORRECT_P1P2),  # P2 b3..b1 = 101: not supported
        ("00B201F800", SW.INCORRECT_P1P2),  # SFI 31 is reserved
        ("00B2013C00", SW.FILE_NOT_FOUND),  # SFI 7: no such EF
        ("00B2010400", SW.COMMAND_NOT_ALLOWED),  # no current EF yet
        ("00B201040100", SW.WRONG_LENGTH),  # READ RECORD takes no data
    ],
)
def test_read_record_errors(t, apdu, sw):
    assert t.sw(apdu) == sw


@clause("CARD-APDU-002")
def test_read_record_le_rule(t):
    whole = t.ok("00B2012C00")
    assert len(whole) == 0x12
    assert t.send("00B2012C12") == ResponseAPDU(whole, SW.OK)  # exact Le
    assert t.send("00B2012C") == ResponseAPDU(whole, SW.OK)  # no Le
    assert t.send("00B2012C11") == ResponseAPDU(b"", 0x6C12)  # too short: 6Cxx, exact length
    assert t.send("00B2012C13") == ResponseAPDU(b"", 0x6C12)  # too long
    assert t.send("00B2012C0000") == ResponseAPDU(b"", SW.WRONG_LENGTH)  # malformed


@clause("CARD-FILE-001")
@clause("CARD-FILE-002")
@clause("CARD-DATA-001")
@clause("CARD-DATA-002")
@clause("CARD-DATA-003")
@pytest.mark.parametrize("name", sorted(ELEMENTS))
def test_every_element_of_normal_decodes_to_the_persona_value(t, name):
    element = ELEMENTS[name]
    assert t.external_auth(0x0A) == SW.OK
    sfi = SFI[element.file]
    by_number = t.ok(f"00B2{element.record:02X}{sfi << 3 | 4:02X}00")
    by_tag = t.ok(f"00B2{element.tag:02X}{sfi << 3:02X}00")
    assert by_number == by_tag
    assert len(by_number) == 2 + element.length
    assert element.parse_record(by_number) == t.persona.values[name]


@clause("CARD-DATA-001")
@clause("CARD-DATA-002")
def test_normal_dates_and_check_characters(t):
    values = t.persona.values
    assert values["issue_date"] < values["expiry_date"]
    assert values["citizen_id"][6:14] == values["birth_date"].strftime("%Y%m%d")
    assert values["citizen_id"][-1] == ssse.citizen_id_check(values["citizen_id"][:17])
    assert values["card_identifier"].hex().upper().startswith("410200D156000005")


# -- access to EF06 ---------------------------------------------------------------------------
@clause("CARD-ACC-001")
def test_ef06_needs_key_0a_on_generation_3(t):
    assert t.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED
    assert t.sw("00B2083000") == SW.SECURITY_NOT_SATISFIED  # by tag too
    assert t.verify("123456") == SW.OK
    assert t.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED  # the PIN does not open it on 3.0
    assert t.external_auth(0x04) == SW.OK
    assert t.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED  # nor does the update key
    assert t.external_auth(0x0A) == SW.OK
    assert t.ok("00B2013414")[2:] == t.persona.values["citizen_id"].encode()
    assert t.ok("00B2012C00")  # EF05 stays free


@clause("CARD-ACC-001")
def test_ef06_needs_the_pin_on_generation_2():
    term = Terminal("second_generation")
    term.select_ssse()
    assert term.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED
    assert term.external_auth(0x0A) == SW.OK
    assert term.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED  # key 0A is the 3.0 rule
    assert term.verify("888888") == SW.OK
    assert ELEMENTS["name"].parse_record(term.ok("00B2093000")) == term.persona.values["name"]
    assert ELEMENTS["spec_version"].parse_record(term.ok("00B2032C00")) == "2.00"


# -- PIN --------------------------------------------------------------------------------------
@clause("CARD-PIN-001")
def test_three_wrong_pins_block_even_the_right_one(t):
    assert t.sw("00200000") == 0x63C3  # case 1 asks for the tries left
    assert [t.verify("654321") for _ in range(3)] == [0x63C2, 0x63C1, SW.AUTH_METHOD_BLOCKED]
    assert t.verify("123456") == SW.AUTH_METHOD_BLOCKED
    assert t.sw("00200000") == SW.AUTH_METHOD_BLOCKED
    t.power_cycle()
    t.select_ssse()
    assert t.verify("123456") == SW.AUTH_METHOD_BLOCKED
    assert t.pin_tries() == 0


@clause("CARD-PIN-002")
def test_right_pin_restores_the_counter(t):
    assert t.verify("1234") == 0x63C2
    assert t.verify("123456") == SW.OK
    assert t.pin_tries() == 3
    assert t.sw("00200000") == 0x63C3
    assert t.card.security.pin_verified


@clause("CARD-PIN-001")
@pytest.mark.parametrize(
    ("data", "sw"),
    [("03ABCDEF", SW.WRONG_DATA), ("02123F", SW.WRONG_DATA), ("0112", SW.WRONG_DATA),
     ("09" + "12" * 9, SW.WRONG_DATA)],
)
def test_malformed_pin_spends_no_try(t, data, sw):
    assert t.sw("00200000" + data) == sw
    assert t.pin_tries() == 3


@clause("CARD-PIN-001")
def test_verify_outside_an_application_is_6985():
    term = Terminal("normal")
    assert term.verify("123456") == SW.CONDITIONS_NOT_SATISFIED


@clause("CARD-PIN-001")
def test_pin_last_try_persona():
    term = Terminal("pin_last_try")
    term.select_ssse()
    assert term.sw("00200000") == 0x63C1
    assert term.verify("123456") == SW.AUTH_METHOD_BLOCKED
    assert term.verify("246810") == SW.AUTH_METHOD_BLOCKED

    lucky = Terminal("pin_last_try")
    lucky.select_ssse()
    assert lucky.verify("246810") == SW.OK
    assert lucky.sw("00200000") == 0x63C3


@clause("CARD-PIN-003")
def test_change_pin(t):
    assert t.sw("805E0100" + lc("123456" "FF" "135790")) == SW.OK
    assert t.verify("123456") == 0x63C2
    assert t.verify("135790") == SW.OK
    t.power_cycle()
    t.select_ssse()
    assert t.verify("135790") == SW.OK


@clause("CARD-PIN-003")
@pytest.mark.parametrize(
    ("data", "sw", "tries"),
    [
        ("111111" "FF" "135790", 0x63C2, 2),  # wrong old PIN spends a try
        ("123456" "FF" "123F", SW.WRONG_DATA, 3),  # new PIN of 3 digits
        ("123456" "FF" + "12" * 9, SW.WRONG_DATA, 3),  # new PIN of 18 digits
        ("123456" "135790", SW.WRONG_DATA, 3),  # no FF separator
    ],
)
def test_change_pin_refused(t, data, sw, tries):
    assert t.sw("805E0100" + lc(data)) == sw
    assert t.pin_tries() == tries
    assert t.verify("123456") == SW.OK  # the PIN is unchanged


@pytest.fixture
def blocked() -> Terminal:
    term = Terminal("pin_blocked")
    term.select_ssse()
    assert term.verify("123456") == SW.AUTH_METHOD_BLOCKED
    return term


@clause("CARD-PIN-004")
def test_reload_pin_unblocks_with_the_issuers_mac(blocked):
    new = bytes.fromhex(bcd("2468"))
    mac = pin_reload_mac(blocked.algorithm, blocked.key(0x06), new, blocked.challenge())
    assert blocked.sw("805E0000" + lc((new + mac).hex())) == SW.OK
    assert blocked.pin_tries() == 3
    assert blocked.verify("123456") == 0x63C2
    assert blocked.verify("2468") == SW.OK


@clause("CARD-PIN-004")
def test_reload_pin_wrong_mac_is_6988_and_uses_up_the_challenge(blocked):
    new = bytes.fromhex(bcd("2468"))
    mac = pin_reload_mac(blocked.algorithm, blocked.key(0x06), new, blocked.challenge())
    bad = bytes((mac[0] ^ 0x80,)) + mac[1:]
    assert blocked.sw("805E0000" + lc((new + bad).hex())) == SW.SM_DATA_INCORRECT
    assert blocked.sw("805E0000" + lc((new + mac).hex())) == SW.CONDITIONS_NOT_SATISFIED
    assert blocked.verify("2468") == SW.AUTH_METHOD_BLOCKED
    # a MAC under another key (the unblock key) is no better
    other = pin_reload_mac(blocked.algorithm, blocked.key(0x07), new, blocked.challenge())
    assert blocked.sw("805E0000" + lc((new + other).hex())) == SW.SM_DATA_INCORRECT


@clause("CARD-PIN-004")
def test_reload_pin_without_challenge_is_6985(blocked):
    new = bytes.fromhex(bcd("2468"))
    mac = pin_reload_mac(blocked.algorithm, blocked.key(0x06), new, bytes(8))
    assert blocked.sw("805E0000" + lc((new + mac).hex())) == SW.CONDITIONS_NOT_SATISFIED


@clause("CARD-PIN-004")
def test_unblock_pin_with_the_issuers_cryptogram(blocked):
    data = pin_unblock_data(blocked.algorithm, blocked.key(0x07), bytes.fromhex(bcd("97531")),
                            blocked.challenge())
    assert blocked.sw("84240000" + lc(data.hex())) == SW.OK
    assert blocked.verify("97531") == SW.OK
    assert blocked.pin_tries() == 3


@clause("CARD-PIN-004")
def test_unblock_pin_wrong_mac_or_key_is_6988(blocked):
    new = bytes.fromhex(bcd("97531"))
    data = pin_unblock_data(blocked.algorithm, blocked.key(0x07), new, blocked.challenge())
    assert blocked.sw("84240000" + lc((data[:-1] + bytes((data[-1] ^ 1,))).hex())) == SW.SM_DATA_INCORRECT
    wrong_key = pin_unblock_data(blocked.algorithm, blocked.key(0x06), new, blocked.challenge())
    assert blocked.sw("84240000" + lc(wrong_key.hex())) == SW.SM_DATA_INCORRECT
    assert blocked.sw("84240000" + lc(data.hex())) == SW.CONDITIONS_NOT_SATISFIED  # no challenge
    assert blocked.verify("97531") == SW.AUTH_METHOD_BLOCKED


# -- EXTERNAL / INTERNAL AUTHENTICATE ---------------------------------------------------------
@clause("CARD-AUTH-001")
def test_external_auth_without_challenge_is_6985(t):
    cryptogram = external_auth_cryptogram("sm4", t.key(0x0A), bytes(8))
    assert t.sw("0082000A" + lc(cryptogram.hex())) == SW.CONDITIONS_NOT_SATISFIED


@clause("CARD-AUTH-001")
def test_external_auth_challenge_is_used_once(t):
    challenge = t.challenge()
    cryptogram = external_auth_cryptogram("sm4", t.key(0x0A), challenge).hex()
    assert t.sw("0082000A" + lc(cryptogram)) == SW.OK
    assert t.sw("0082000A" + lc(cryptogram)) == SW.CONDITIONS_NOT_SATISFIED


@clause("CARD-AUTH-001")
def test_external_auth_wrong_cryptograms_then_blocked(t):
    assert [t.external_auth(0x04, right=False) for _ in range(3)] == [
        0x63C2, 0x63C1, SW.AUTH_METHOD_BLOCKED]
    assert t.sw("0082000410" + "00" * 16) == SW.AUTH_METHOD_BLOCKED  # blocked before a challenge
    assert t.external_auth(0x04) == SW.AUTH_METHOD_BLOCKED
    t.power_cycle()
    t.select_ssse()
    assert t.external_auth(0x04) == SW.AUTH_METHOD_BLOCKED
    assert t.external_auth(0x0A) == SW.OK  # each key has its own counter


@clause("CARD-AUTH-001")
def test_external_auth_right_restores_its_counter(t):
    assert t.external_auth(0x0A, right=False) == 0x63C2
    assert t.external_auth(0x0A) == SW.OK
    assert t.external_auth(0x0A, right=False) == 0x63C2


@clause("CARD-AUTH-001")
@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("0082000610" + "00" * 16, SW.REFERENCE_NOT_FOUND),  # key 06 reloads PINs
        ("0082000910" + "00" * 16, SW.REFERENCE_NOT_FOUND),  # no key 09
        ("0082010A10" + "00" * 16, SW.INCORRECT_P1P2),
        ("0082000A08" + "00" * 8, SW.WRONG_LENGTH),  # SM4 cryptograms have 16 bytes
    ],
)
def test_external_auth_refused(t, apdu, sw):
    t.challenge()
    assert t.sw(apdu) == sw


@clause("CARD-AUTH-002")
@pytest.mark.parametrize(("persona", "algorithm"), [("normal", "sm4"), ("second_generation", "3des")])
def test_internal_auth_matches_the_issuer(persona, algorithm):
    term = Terminal(persona)
    term.select_ssse()
    factor, original = bytes.fromhex("1122334455667788"), bytes.fromhex("0102030405060708")
    result = term.ok("0088000010" + (factor + original).hex() + "08")
    assert result == internal_auth_result(algorithm, term.key(0x01), factor, original)
    assert len(result) == 8
    other = "3des" if algorithm == "sm4" else "sm4"
    assert result != internal_auth_result(other, term.key(0x01), factor, original)


@clause("CARD-AUTH-002")
def test_internal_auth_result_is_the_first_8_bytes_of_a_session_key_encryption(t):
    factor, original = bytes(8), b"ABCDEFGH"
    session = diversify("sm4", t.key(0x01), factor)
    expected = cipher("sm4", session).encrypt(original + bytes(8))[:8]
    assert t.ok("0088000010" + (factor + original).hex()) == expected
    assert t.sw("008800000F" + "00" * 15) == SW.WRONG_LENGTH


# -- updates and the security state -----------------------------------------------------------
NEW_EXPIRY = "0604" "20361123"


@clause("CARD-ACC-002")
def test_update_record_needs_key_04_and_persists(t):
    apdu = "00DC062C" + lc(NEW_EXPIRY)
    assert t.sw(apdu) == SW.SECURITY_NOT_SATISFIED
    assert t.verify("123456") == SW.OK
    assert t.external_auth(0x0A) == SW.OK
    assert t.sw(apdu) == SW.SECURITY_NOT_SATISFIED  # neither the PIN nor the read key
    assert t.external_auth(0x04) == SW.OK
    assert t.sw(apdu) == SW.OK
    t.power_cycle()
    t.select_ssse()
    assert ELEMENTS["expiry_date"].parse_record(t.ok("00B2062C00")) == date(2036, 11, 23)
    assert t.sw(apdu) == SW.SECURITY_NOT_SATISFIED  # power-down forgot key 04


@clause("CARD-ACC-002")
def test_update_ef06_name_by_tag(t):
    record = ELEMENTS["name"].to_record("测试更")
    assert t.external_auth(0x04) == SW.OK
    assert t.sw("00DC0930" + lc(record.hex())) == SW.OK
    assert t.sw("00DC0930" + lc(ELEMENTS["sex"].to_record("2").hex())) == SW.WRONG_DATA  # tag 0A != 09
    assert t.external_auth(0x0A) == SW.OK
    assert ELEMENTS["name"].parse_record(t.ok("00B2093000")) == "测试更"


@clause("CARD-ACC-002")
def test_update_record_refused(t):
    assert t.external_auth(0x04) == SW.OK
    assert t.sw("00DC082C" + lc(NEW_EXPIRY)) == SW.RECORD_NOT_FOUND
    assert t.sw("00DC062C" + lc(NEW_EXPIRY) + "00") == SW.WRONG_LENGTH  # no Le
    assert t.sw("00E20028" + lc(NEW_EXPIRY)) == SW.NOT_ENOUGH_MEMORY  # EF05 is full
    assert t.sw("00E2002C" + lc(NEW_EXPIRY)) == SW.INCORRECT_P1P2  # APPEND has no record number


@clause("CARD-ACC-002")
def test_security_state_is_cleared_by_power_down(t):
    assert t.external_auth(0x0A) == SW.OK
    assert t.verify("123456") == SW.OK
    assert t.sw("00B2013400") == SW.OK
    t.card.power_down()
    assert t.send("00B2013400").sw == SW.NO_PRECISE_DIAGNOSIS  # an unpowered card
    t.card.power_up()
    t.select_ssse()
    assert t.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED
    assert not t.card.security.pin_verified


@clause("CARD-SEL-002")
@clause("CARD-ACC-002")
def test_security_state_is_cleared_by_selecting_the_mf(t):
    assert t.external_auth(0x0A) == SW.OK
    challenge_before = t.challenge()
    t.ok("00A40000")
    t.select_ssse()
    assert t.sw("00B2013400") == SW.SECURITY_NOT_SATISFIED
    cryptogram = external_auth_cryptogram("sm4", t.key(0x0A), challenge_before)
    assert t.sw("0082000A" + lc(cryptogram.hex())) == SW.CONDITIONS_NOT_SATISFIED  # challenge gone


# -- locked application, garbled records ------------------------------------------------------
@clause("CARD-SEL-003")
def test_locked_application_select_6283_with_fci_then_6985():
    term = Terminal("app_locked")
    resp = term.select_ssse()
    assert resp == ResponseAPDU(fci(SSSE_AID, 0x03), 0x6283)
    for apdu in ["00B2012C00", "00A4020002EF05", "0084000008", "00200000" + lc("123456"),
                 "0088000010" + "00" * 16, "00B2010400"]:
        if apdu.startswith("00A4"):
            assert term.sw(apdu) == SW.OK  # SELECT still works inside the locked DF
        else:
            assert term.sw(apdu) == SW.CONDITIONS_NOT_SATISFIED, apdu
    assert term.ok("00A40000")  # the MF is not locked
    assert term.sw("0084000008") == SW.OK


@clause("CARD-SEL-003")
def test_locked_application_status_word_is_a_named_status_word():
    """Traces and reports name 6283 (ISO 7816-4: selected file deactivated); see the report."""
    sw = Terminal("app_locked").select_ssse().sw
    assert describe(sw) != "unknown status word"


@clause("CARD-DATA-001")
@clause("CARD-DATA-003")
def test_garbled_records_fail_to_decode_naming_the_element():
    term = Terminal("garbled")
    term.select_ssse()
    assert term.external_auth(0x0A) == SW.OK
    with pytest.raises(ValueError, match=r"birth_date \(出生日期\)"):
        ELEMENTS["birth_date"].parse_record(term.ok("00B20D3000"))
    with pytest.raises(ValueError, match=r"name \(姓名\)"):
        ELEMENTS["name"].parse_record(term.ok("00B2093000"))
    for name in ("citizen_id", "sex", "birthplace"):  # the other records are fine
        element = ELEMENTS[name]
        assert element.parse_record(term.ok(f"00B2{element.tag:02X}3000")) == term.persona.values[name]


# -- DF04: transparent EF15, cyclic EF16 ------------------------------------------------------
@pytest.fixture
def df04(t) -> Terminal:
    t.ok("00A4000002DF04")
    return t


@clause("CARD-APDU-001")
@clause("CARD-ACC-002")
def test_ef15_read_update_binary_with_offsets(df04):
    t = df04
    assert t.sw("00B0950000") == SW.SECURITY_NOT_SATISFIED  # read needs the PIN
    assert t.verify("123456") == SW.OK
    assert t.ok("00B0950000") == bytes(48)  # by SFI 21, whole file
    assert t.sw("00D6000A05" + "1122334455") == SW.SECURITY_NOT_SATISFIED  # update needs key 04
    assert t.external_auth(0x04) == SW.OK
    assert t.sw("00D6000A05" + "1122334455") == SW.OK
    assert t.ok("00B0000A05").hex() == "1122334455"
    assert t.ok("00B0000800") == bytes(2) + bytes.fromhex("1122334455") + bytes(33)
    assert t.sw("00D6950005" + "AABBCCDDEE") == SW.OK  # by SFI, offset in P2
    assert t.ok("00B0000007") == bytes.fromhex("AABBCCDDEE0000")
    assert t.ok("00B0002C04") == bytes(4)  # the last four bytes
    assert t.sw("00B0002C08") == 0x6C04  # Le beyond the end: 6Cxx with what is left
    assert t.sw("00B0003100") == SW.WRONG_P1P2  # offset beyond the EF
    assert t.sw("00D6002C08" + "00" * 8) == SW.WRONG_LENGTH  # 44 + 8 > 48
    assert t.sw("00D6003101" + "00") == SW.WRONG_P1P2
    assert t.sw("00D60000" + "31" + "00" * 49) == SW.WRONG_LENGTH
    assert t.sw("00B0E00000") == SW.INCORRECT_P1P2  # SFI form with b7-b6 set
    assert t.sw("00B2019C00") == SW.FILE_NOT_FOUND  # no SFI 19
    assert t.sw("00B201AC00") == SW.COMMAND_INCOMPATIBLE  # SFI 21 is transparent


@clause("CARD-APDU-001")
def test_read_binary_at_end_of_file_answers_6b00(df04):
    """Offset 48 of a 48-byte EF is outside it (ISO 7816-4 §7.2.3); the card answers 9000 empty."""
    t = df04
    assert t.verify("123456") == SW.OK
    t.ok("00A4020002EF15")
    assert t.sw("00B0003001") == SW.WRONG_P1P2
    assert t.sw("00B0003000") == SW.WRONG_P1P2


def visit(n: int) -> str:
    return f"{n:02X}" * 16


@clause("CARD-FILE-003")
def test_ef16_cyclic_append_keeps_the_five_newest(df04):
    t = df04
    assert t.sw("00E200B010" + visit(1)) == SW.SECURITY_NOT_SATISFIED
    assert t.verify("123456") == SW.OK
    assert t.sw("00B201B400") == SW.RECORD_NOT_FOUND  # empty
    for n in range(1, 7):
        assert t.sw("00E200B010" + visit(n)) == SW.OK
    assert [t.ok(f"00B2{r:02X}B400").hex().upper() for r in range(1, 6)] == [
        visit(n) for n in (6, 5, 4, 3, 2)]  # record 1 is the newest; visit 1 was dropped
    assert t.sw("00B206B400") == SW.RECORD_NOT_FOUND
    assert t.sw("00E200B00F" + visit(7)[:30]) == SW.WRONG_LENGTH  # records are 16 bytes
    assert t.sw("00DC02B410" + visit(9)) == SW.OK  # UPDATE RECORD by number works too
    assert t.ok("00B202B400").hex().upper() == visit(9)
    assert t.sw("00E201B010" + visit(1)) == SW.INCORRECT_P1P2  # APPEND takes P1 00
    t.power_cycle()
    t.select_ssse()
    t.ok("00A4000002DF04")
    assert t.verify("123456") == SW.OK
    assert t.ok("00B201B400").hex().upper() == visit(6)


# -- ISO 7816-4 §7.1.1 selection around DF04 (see the report) ---------------------------------
@clause("CARD-SEL-002")
def test_select_by_fid_finds_the_parent_df(df04):
    """P1=00 searches the children of the current DF, the parent DF and its children."""
    assert df04.ok("00A4000002DDF1") == fci(SSSE_AID, 0x03)


@clause("CARD-FILE-003")
def test_selecting_an_ef_of_the_parent_df_makes_the_parent_current(df04):
    """After SELECT EF05 (found in the parent DDF1) the current DF is DDF1, so SFI 5 works."""
    df04.ok("00A4000002EF05")
    assert df04.ok("00B2012C00")[:2] == b"\x01\x10"


@clause("CARD-APDU-001")
def test_extended_unblock_pin_is_a_length_error_not_a_card_fault(blocked, caplog):
    """256 + 4 bytes of UNBLOCK PIN data cannot carry a short Lc: 6700, never 6F00."""
    blocked.challenge()
    data = "00" * 260
    assert blocked.sw("84240000" + "000104" + data) == SW.WRONG_LENGTH
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
