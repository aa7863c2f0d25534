"""The command interface: the status words ISO/IEC 7816-4 and the profile allow for malformed
APDUs (never 9000, silence or an exception), and the Le rule (6Cxx).

What is malformed, and what may answer it, comes from `_malformed` (ISO/IEC 7816-4 rules, the
status words of national.card `malformed`), never from the card's answers.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conformance.suites.card._host import expect, sw_text
from conformance.suites.card._malformed import Malformed
from simulator.apdu import SW

clause = pytest.mark.clause
requires = pytest.mark.requires

#: (what, APDU, its fault): the examples CARD-APDU-001 names
MALFORMED = [
    ("Lc announcing more data than sent", "00A404000F7378312E", "length"),
    ("Lc announcing less data than sent", "00B2012C0201020304", "length"),
    ("an unknown INS", "00FE0000", "instruction"),
    ("another unknown INS", "0010000000", "instruction"),
    ("READ RECORD under a proprietary CLA", "80B2012C00", "class"),
    ("SELECT under CLA A0", "A0A4000002EF05", "class"),
    ("an unknown INS under the reserved CLA 20", "20FE0000", "reserved_class"),
    ("READ RECORD under the reserved CLA 23", "23B2012C00", "reserved_class"),
    ("SELECT under the reserved CLA 3F", "3FA4000002EF05", "reserved_class"),
    ("SELECT with P2 08", "00A4040800", "parameters"),
    ("READ RECORD with P2 addressing mode 101", "00B2012D00", "parameters"),
    ("GET CHALLENGE with P1 01", "0084010008", "parameters"),
]
#: INS the fuzzer sends: commands that read, and INS no card application assigns. Nothing that
#: writes, spends a try, moves money or blocks: the card may be a real one.
FUZZ_INS = (0xA4, 0xB0, 0xB2, 0x84, 0x88, 0xCA, 0xC0, 0x5C, 0x5A, 0x00, 0x02, 0x06, 0xFE)
#: CLA bytes the fuzzer sends (not FF: PC/SC readers take FF-class APDUs for themselves)
FUZZ_CLA = (0x00, 0x80, 0x84, 0x0C, 0x40, 0x03, 0x23, 0xA0, 0xE0)
#: 200 APDUs, the same every run: they come from a fixed seed (`seed` below), not from a digest of
#: this file's code as `derandomize` alone would take
FUZZ = settings(max_examples=200, derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _defined(sw: int) -> bool:
    return sw >> 12 in (0x6, 0x9) and sw >> 8 not in (0x60,)


def _shown(malformed: Malformed, found: frozenset[str]) -> str:
    return ", ".join(sw_text(sw) for sw in sorted(malformed.allowed(found)))


@st.composite
def _byte_strings(draw, malformed: Malformed) -> tuple[str, frozenset[str], bytes]:
    """Any bytes behind a CLA and INS the fuzzer may send, with the faults ISO/IEC 7816-4 finds in them."""
    head = bytes((draw(st.sampled_from(FUZZ_CLA)), draw(st.sampled_from(FUZZ_INS))))
    apdu = head + draw(st.binary(min_size=2, max_size=24))
    return "a byte string", malformed.faults(apdu), apdu


@clause("CARD-APDU-001")
@pytest.mark.parametrize(("what", "apdu", "fault"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_commands_answer_their_status_word(host, what, apdu, fault):
    host.select_ssse()
    answer = host.raw(bytes.fromhex(apdu))
    found, malformed = frozenset({fault}), host.layout.malformed
    assert answer.sw in malformed.allowed(found), (f"{apdu} ({what}) answered {sw_text(answer.sw)}; the profile "
                                                   f"allows {_shown(malformed, found)} for a {fault} fault")
    host.select_ssse()  # the card is still alive


@clause("CARD-APDU-001")
@seed(20261123)
@FUZZ
@given(data=st.data())
def test_any_byte_string_gets_a_defined_status_word_and_a_malformed_one_its_own(host, data):
    malformed = host.layout.malformed
    what, found, apdu = data.draw(st.one_of(malformed.spoiled(), _byte_strings(malformed)), label="probe")
    host.select_ssse()
    answer = host.raw(apdu)
    shown = apdu.hex().upper()
    if found:
        assert answer.sw in malformed.allowed(found), (f"{shown} ({what}: {', '.join(sorted(found))}) answered "
                                                       f"{sw_text(answer.sw)}; the profile allows "
                                                       f"{_shown(malformed, found)}")
    else:
        assert _defined(answer.sw), f"{shown} answered {sw_text(answer.sw)}: not an ISO/IEC 7816-4 status"


@clause("CARD-APDU-002")
def test_a_wrong_le_of_read_record_answers_6cxx_with_the_exact_length(host):
    host.select_ssse()
    record = host.ef05(1)
    exact, sfi = len(record), host.layout.sfi["EF05"]
    for le in (exact - 1, exact + 1, 1):
        expect(host.read_record(sfi, 1, le=le), 0x6C00 | exact, f"READ RECORD EF05 record 1 with Le={le}")
    again = expect(host.read_record(sfi, 1, le=exact), SW.OK, f"READ RECORD EF05 record 1 with Le={exact}")
    assert again.data == record, "READ RECORD with the exact Le answered other data than with Le=00"


@clause("CARD-APDU-002")
@requires("purse")
def test_read_binary_reads_le_bytes_and_answers_6cxx_beyond_the_end(host):
    host.select_purse()
    whole = host.ok("READ BINARY of purse file 0x15 with Le=00", 0x00, 0xB0, 0x95, 0x00, le=0)
    for le in (1, len(whole) - 1):
        part = host.ok(f"READ BINARY of purse file 0x15 with Le={le}", 0x00, 0xB0, 0x95, 0x00, le=le)
        assert part == whole[:le], f"READ BINARY with Le={le} did not answer the first {le} bytes of the file"
    expect(host.send(0x00, 0xB0, 0x95, 0x00, le=len(whole) + 1), 0x6C00 | len(whole),
           f"READ BINARY of purse file 0x15 ({len(whole)} bytes) with Le={len(whole) + 1}")
