"""Answer to reset and application selection: the SSSE's FCI, the PPSE, unknown names, locked applications.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import PPSE_NAME, READ_KEY, expect, sw_text, tlv_find
from simulator.apdu import SW
from simulator.tlv import parse_tlv

clause = pytest.mark.clause
requires = pytest.mark.requires
#: one command of each kind the SSSE takes, well formed (the answer must be 6985 all the same)
LOCKED_SSSE_COMMANDS = [
    ("READ RECORD", "00B2012C00"),
    ("UPDATE RECORD", "00DC022C0302013F"),
    ("GET CHALLENGE", "0084000008"),
    ("VERIFY", "0020000003123456"),
    ("CHANGE PIN", "805E010007123456FF654321"),
    ("EXTERNAL AUTHENTICATE", "0082000A10" + "00" * 16),
    ("INTERNAL AUTHENTICATE", "0088000110" + "00" * 16),
]


@clause("CARD-ATR-001")
def test_the_atr_is_the_profiles_for_the_cards_region_and_serial(host):
    host.select_ssse()
    spec = host.layout.card_profile["atr"]
    card_id = host.card_identifier
    expected = bytes.fromhex(spec["prefix"] + spec["historical_template"].format(
        region=card_id[:3].hex().upper(), serial_tail=card_id[-5:].hex().upper()))
    assert host.atr == expected, (f"the card answers reset with {host.atr.hex().upper()}; the profile's ATR for its "
                                  f"卡识别码 is {expected.hex().upper()}")


@clause("CARD-SEL-001")
def test_select_ssse_answers_its_fci_with_the_algorithm_indicator(host):
    fci = host.select_ssse()
    assert tlv_find(fci, 0x6F, 0x84) == host.layout.ssse_aid, "the FCI (6F) does not carry the SSSE AID as DF name (84)"
    indicator = tlv_find(fci, 0x6F, 0xA5, 0x9F0C)
    assert indicator is not None, "the FCI has no algorithm indicator 9F0C in its proprietary template A5"
    valid = host.layout.ssse_profile["application"]["algorithm_indicator"]
    assert len(indicator) == 3 and indicator[:2] == b"\x86\x01" and indicator[2] in valid.values(), (
        f"9F0C is {indicator.hex().upper()}; the profile requires 86 01 xx with xx in "
        f"{sorted(valid.values())} ({', '.join(valid)})")
    generation = host.generation
    algorithm = host.layout.ssse_profile["generations"][str(generation)]["algorithm"]
    assert host.algorithm == algorithm, (
        f"a generation-{generation} card (规范版本) uses {algorithm}; its 9F0C announces {host.algorithm}")


@clause("CARD-SEL-002")
def test_unknown_names_answer_6a82(host):
    expect(host.select(bytes.fromhex("D156000005FFFF")), SW.FILE_NOT_FOUND, "SELECT of an unknown DF name")
    host.select_ssse()
    expect(host.send(0x00, 0xA4, 0x00, 0x00, bytes.fromhex("EF7F")), SW.FILE_NOT_FOUND, "SELECT of an unknown FID")


@clause("CARD-SEL-002")
def test_selecting_another_application_forgets_the_security_state(card, host, known_pin):
    host.select_ssse()
    host.open_ef06(known_pin)
    expect(host.read_record(host.layout.sfi["EF06"], 1), SW.OK, "READ RECORD EF06 once its read condition holds")
    challenge = host.challenge()
    card.select_another_application(host)
    host.select_ssse()
    expect(host.read_record(host.layout.sfi["EF06"], 1), SW.SECURITY_NOT_SATISFIED,
           "READ RECORD EF06 after selecting another application and the SSSE again")
    expect(host.send(0x00, 0x82, 0x00, READ_KEY, host.cryptogram(READ_KEY, challenge)), SW.CONDITIONS_NOT_SATISFIED,
           "EXTERNAL AUTHENTICATE over the challenge of before selecting another application")


@clause("CARD-SEL-003")
def test_a_locked_ssse_answers_6283_with_its_fci_and_refuses_commands(card):
    host = card.open("app_locked")
    answer = host.select(host.layout.ssse_aid)
    expect(answer, int(host.layout.ssse_profile["application"]["locked_select_sw"], 16), "SELECT of the locked SSSE")
    assert tlv_find(answer.data, 0x6F, 0x84) == host.layout.ssse_aid, (
        "SELECT of the locked SSSE returned no FCI with its AID")
    for what, apdu in LOCKED_SSSE_COMMANDS:
        expect(host.raw(bytes.fromhex(apdu)), SW.CONDITIONS_NOT_SATISFIED, f"{what} in the locked SSSE")


def _ppse_entries(host) -> list[dict[int, bytes]]:
    __tracebackhide__ = True
    fci = expect(host.select(PPSE_NAME), SW.OK, "SELECT of the PPSE 2PAY.SYS.DDF01").data
    directory = tlv_find(fci, 0x6F, 0xA5, 0xBF0C)
    assert directory is not None, "the PPSE's FCI has no directory BF0C in A5"
    entries = []
    for tag, value in parse_tlv(directory):
        assert tag == 0x61, f"the PPSE directory holds tag {tag:X}; only directory entries 61 belong there"
        entries.append(dict(parse_tlv(value)))
    return entries


def _listed(entries: list[dict[int, bytes]], aid: bytes, label: bytes | None) -> None:
    __tracebackhide__ = True
    found = [e for e in entries if e.get(0x4F) == aid]
    listed = ", ".join(e.get(0x4F, b"").hex().upper() for e in entries) or "nothing"
    assert found, f"the PPSE does not list {aid.hex().upper()} (it lists {listed})"
    entry = found[0]
    if label is not None:
        assert entry.get(0x50) == label, f"the PPSE entry of {aid.hex().upper()} has label {entry.get(0x50)!r}, " \
                                         f"the profile requires {label!r}"
    assert entry.get(0x87) is not None and len(entry[0x87]) == 1, \
        f"the PPSE entry of {aid.hex().upper()} has no 1-byte priority (87)"


@clause("PURSE-SEL-001")
@requires("purse")
def test_the_ppse_lists_the_purse(host):
    label = host.layout.purse_profile["application"]["label"].encode("ascii")
    _listed(_ppse_entries(host), host.layout.purse_aid, label)


@clause("PURSE-SEL-001")
@requires("purse")
def test_select_purse_answers_the_fci_of_file_0x15(host):
    fci = expect(host.select(host.layout.purse_aid), SW.OK, "SELECT of the purse AID").data
    assert tlv_find(fci, 0x6F, 0x84) == host.layout.purse_aid, "the purse FCI does not carry its AID (84)"
    version = tlv_find(fci, 0x6F, 0xA5, 0x9F08)
    assert version == bytes.fromhex(host.layout.purse_profile["application"]["app_version"]), (
        f"9F08 (application version) is {version.hex().upper() if version else 'absent'}; the profile requires "
        f"{host.layout.purse_profile['application']['app_version']}")
    ef15 = host.ok("READ BINARY of purse file 0x15", 0x00, 0xB0, 0x95, 0x00, le=0)
    assert tlv_find(fci, 0x6F, 0xA5, 0x9F0C) == ef15, "9F0C of the purse FCI is not the content of file 0x15"


@clause("QP-SEL-001")
@requires("qpboc")
def test_the_ppse_lists_the_financial_application(host):
    label = host.layout.qpboc_profile["application"]["label"].encode("ascii")
    _listed(_ppse_entries(host), host.layout.qpboc_aid, label)
    answer = host.select(host.layout.qpboc_aid)
    assert answer.sw in (SW.OK, SW.FILE_DEACTIVATED), f"SELECT of the listed qPBOC AID answered {sw_text(answer.sw)}"
