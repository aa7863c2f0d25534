"""File layout: EF05 records 1-7, EF06 by tag, record addressing by number, identifier and SFI.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import expect
from simulator.apdu import SW

clause = pytest.mark.clause


def _shape(record: bytes, element) -> None:
    __tracebackhide__ = True
    assert record[:1] == bytes((element.tag,)), (
        f"{element.file} record {element.record} should be {element.zh} (tag {element.tag:02X}); "
        f"it starts with {record[:1].hex().upper() or 'nothing'}")
    assert len(record) == element.length + 2 and record[1] == element.length, (
        f"{element.zh} is {element.length} bytes (tag, length {element.length:02X}, value); the card's record has "
        f"{len(record)} bytes with length byte {record[1:2].hex().upper()}")


@clause("CARD-FILE-001")
def test_ef05_holds_records_1_to_7_as_the_profile_lays_them_out(host):
    host.select_ssse()
    for element in host.layout.elements.values():
        if element.file == "EF05":
            _shape(host.ef05(element.record), element)


@clause("CARD-FILE-002")
def test_ef06_holds_the_holders_elements_readable_by_tag(opened):
    host = opened
    for element in host.layout.elements.values():
        if element.file == "EF06":
            record = expect(host.read_record(host.layout.sfi["EF06"], element.tag, by_tag=True), SW.OK,
                            f"READ RECORD EF06 by tag {element.tag:02X} ({element.zh})").data
            _shape(record, element)


@clause("CARD-FILE-003")
def test_a_record_reads_the_same_by_number_identifier_sfi_and_current_ef(host):
    host.select_ssse()
    by_number = {n: host.ef05(n) for n in range(1, 8)}
    host.ok("SELECT EF05 by FID", 0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("EF05"))
    for sfi, where in ((host.layout.sfi["EF05"], "by SFI 5"), (0, "in the current EF (EF05)")):
        for n, record in by_number.items():
            for by_tag, p1, how in ((False, n, f"number {n}"), (True, record[0], f"identifier {record[0]:02X}")):
                got = expect(host.read_record(sfi, p1, by_tag=by_tag), SW.OK, f"READ RECORD by {how} {where}").data
                assert got == record, f"EF05 record {n} read by {how} {where} differs from it by number and SFI"


@clause("CARD-FILE-004")
def test_missing_records_answer_6a83_and_missing_files_6a82(host):
    host.select_ssse()
    count, ef05 = sum(1 for e in host.layout.elements.values() if e.file == "EF05"), host.layout.sfi["EF05"]
    expect(host.read_record(ef05, count + 1), SW.RECORD_NOT_FOUND, f"READ RECORD EF05 record {count + 1}")
    expect(host.read_record(ef05, 0x7E, by_tag=True), SW.RECORD_NOT_FOUND,
           "READ RECORD EF05 by identifier 7E (no such record)")
    expect(host.read_record(0x0F, 1), SW.FILE_NOT_FOUND, "READ RECORD by SFI 0F (no such EF in the SSSE)")
