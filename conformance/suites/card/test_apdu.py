"""The command interface: defined status words for malformed APDUs (never silence or an exception)
and the Le rule (6Cxx).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import random

import pytest

from conformance.suites.card._host import SFI, expect, sw_text
from simulator.apdu import SW

clause = pytest.mark.clause

#: (what, APDU, status word the profile requires)
MALFORMED = [
    ("Lc announcing more data than sent", "00A404000F7378312E", SW.WRONG_LENGTH),
    ("Lc announcing less data than sent", "00B2012C0201020304", SW.WRONG_LENGTH),
    ("an unknown INS", "00FE0000", SW.INS_NOT_SUPPORTED),
    ("another unknown INS", "0010000000", SW.INS_NOT_SUPPORTED),
    ("READ RECORD under a proprietary CLA", "80B2012C00", SW.CLA_NOT_SUPPORTED),
    ("SELECT under CLA A0", "A0A4000002EF05", SW.CLA_NOT_SUPPORTED),
    ("SELECT with P2 08", "00A4040800", SW.INCORRECT_P1P2),
    ("READ RECORD with P2 addressing mode 101", "00B2012D00", SW.INCORRECT_P1P2),
    ("GET CHALLENGE with P1 01", "0084010008", SW.INCORRECT_P1P2),
]
#: INS the fuzzer sends: commands that read, and INS no card application assigns. Nothing that
#: writes, spends a try, moves money or blocks: the card may be a real one.
FUZZ_INS = (0xA4, 0xB0, 0xB2, 0x84, 0x88, 0xCA, 0xC0, 0x5C, 0x5A, 0x00, 0x02, 0x06, 0xFE)
#: CLA bytes the fuzzer sends (not FF: PC/SC readers take FF-class APDUs for themselves)
FUZZ_CLA = (0x00, 0x80, 0x84, 0x0C, 0x40, 0x03, 0xA0, 0xE0)


def _defined(sw: int) -> bool:
    return sw >> 12 in (0x6, 0x9) and sw >> 8 not in (0x60,)


@clause("CARD-APDU-001")
@pytest.mark.parametrize(("what", "apdu", "sw"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_commands_answer_their_status_word(host, what, apdu, sw):
    host.select_ssse()
    expect(host.raw(bytes.fromhex(apdu)), sw, f"{apdu} ({what})")
    host.select_ssse()  # the card is still alive


@clause("CARD-APDU-001")
def test_any_byte_string_gets_a_defined_status_word(host):
    rng = random.Random(20261123)
    host.select_ssse()
    for _ in range(200):
        apdu = bytes((rng.choice(FUZZ_CLA), rng.choice(FUZZ_INS))) + rng.randbytes(rng.randrange(2, 24))
        answer = host.raw(apdu)
        assert _defined(answer.sw), f"{apdu.hex().upper()} answered {sw_text(answer.sw)}: not an ISO/IEC 7816-4 status"
    host.select_ssse()


@clause("CARD-APDU-002")
def test_a_wrong_le_answers_6cxx_with_the_exact_length(host):
    host.select_ssse()
    record = host.ef05(1)
    exact = len(record)
    for le in (exact - 1, exact + 1, 1):
        expect(host.read_record(SFI["EF05"], 1, le=le), 0x6C00 | exact, f"READ RECORD EF05 record 1 with Le={le}")
    again = expect(host.read_record(SFI["EF05"], 1, le=exact), SW.OK, f"READ RECORD EF05 record 1 with Le={exact}")
    assert again.data == record, "READ RECORD with the exact Le answered other data than with Le=00"
