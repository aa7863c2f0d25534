"""File commands beyond READ RECORD, judged by ISO/IEC 7816-4 and the profile's file layout
(national.ssse and national.epurse `files`: identifiers, SFIs, structures, sizes): the FCP an EF's
SELECT answers, READ and UPDATE BINARY of DF04's transparent EF15, APPEND RECORD to its cyclic EF16.

UPDATE BINARY puts EF15's bytes back, so a real sample keeps its contents; APPEND RECORD cannot be
undone (EF16 keeps the newest records), so it needs a card the harness may change for good: a fresh
simulated card, or a sample the ICS declares destructive.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.plugin import run_profile
from conformance.suites.card._host import WRITE_KEY, Host, expect, sw_text, tlv_find
from simulator.apdu import SW

clause = pytest.mark.clause
requires = pytest.mark.requires

#: ISO/IEC 7816-4 file descriptor byte b3..b1 of each EF structure of the profile (b6..b4 000: a
#: working EF; b7, shareable, either way; b8 0)
STRUCTURE_CODE = {"transparent": 0b001, "linear_fixed": 0b010, "linear_variable": 0b100, "cyclic": 0b110}


def _efs(files: list[dict], dfs: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(FIDs of the DFs between the application and the EF, the EF's spec) for a profile's files."""
    for spec in files:
        if "files" in spec:
            yield from _efs(spec["files"], (*dfs, spec["fid"]))
        else:
            yield dfs, spec


def pytest_generate_tests(metafunc) -> None:
    """Every EF of the run's profile (the SSSE's and the purse's), one test each, named by its path."""
    if "spec" not in metafunc.fixturenames:
        return
    profile = run_profile(metafunc.config)
    efs = [pytest.param("ssse", dfs, spec, id=f"SSSE {'/'.join((*dfs, spec['name']))}")
           for dfs, spec in _efs(profile["ssse"]["files"])]
    efs += [pytest.param("purse", dfs, spec, id=f"purse {spec['name']}", marks=requires("purse"))
            for dfs, spec in _efs(profile["epurse"]["files"])]
    metafunc.parametrize(("application", "dfs", "spec"), efs)


def _df04(host: Host) -> dict:
    return next(spec for spec in host.layout.ssse_profile["files"] if spec["name"] == "DF04")


def _in_df04_spec(host: Host, name: str) -> dict:
    """The spec of DF04's EF `name` (EF15, EF16) in the run's profile."""
    return next(spec for spec in _df04(host)["files"] if spec["name"] == name)


def _select(host: Host, dfs: tuple[str, ...]) -> None:
    """SELECT each DF below the current one by its file identifier (P1 00), answering no data."""
    __tracebackhide__ = True
    for fid in dfs:
        host.ok(f"SELECT DF {fid} by FID", 0x00, 0xA4, 0x00, 0x0C, bytes.fromhex(fid))


def _field(fcp: bytes, tag: int, what: str) -> bytes:
    __tracebackhide__ = True
    value = tlv_find(fcp, 0x62, tag)
    assert value is not None, f"the FCP of {what} has no data object {tag:02X}"
    return value


@clause("CARD-FILE-005")
def test_an_efs_fcp_gives_its_structure_identifier_sfi_and_size(host, application, dfs, spec):
    if application == "purse":
        host.select_purse()
    else:
        host.select_ssse()
    _select(host, dfs)
    what = f"{spec['name']} ({spec['structure']})"
    fcp = host.ok(f"SELECT {spec['name']} by FID, FCP (P1 02, P2 04)", 0x00, 0xA4, 0x02, 0x04,
                  bytes.fromhex(spec["fid"]), le=0)
    assert fcp[:1] == b"\x62", f"SELECT {what} with P2 04 answered no FCP template (62)"
    descriptor = _field(fcp, 0x82, what)
    want = STRUCTURE_CODE[spec["structure"]]
    assert descriptor and descriptor[0] & 0xBF == want, (
        f"the file descriptor byte of {what} is {descriptor[:1].hex().upper() or 'missing'}; ISO/IEC 7816-4 codes "
        f"a working EF of that structure {want:02X} (or {want | 0x40:02X}, shareable)")
    fid = _field(fcp, 0x83, what)
    assert fid == bytes.fromhex(spec["fid"]), f"the FCP of {what} names file identifier {fid.hex().upper()}"
    sfi = _field(fcp, 0x88, what)
    assert sfi == bytes((spec["sfi"] << 3,)), (
        f"88 of {what} is {sfi.hex().upper()}; SFI {spec['sfi']:02X} is coded in b8..b4, "
        f"{spec['sfi'] << 3:02X}")
    if spec["structure"] == "transparent":
        size = int.from_bytes(_field(fcp, 0x80, what), "big")
        assert size == spec["size"], f"80 of {what} gives {size} bytes; the profile lays out {spec['size']}"


def _in_df04(host: Host, pin: str, *, write_key: bool = False) -> None:
    """The SSSE selected, the PIN verified (and key 04 authenticated), then DF04 selected."""
    __tracebackhide__ = True
    host.select_ssse()
    expect(host.verify(pin), SW.OK, "VERIFY with the card's PIN")
    if write_key:
        host.authenticate(WRITE_KEY)
    _select(host, (_df04(host)["fid"],))


def _read_ef15(host: Host) -> bytes:
    """EF15 by its SFI (READ BINARY P1 = 80 | SFI, offset 0)."""
    __tracebackhide__ = True
    ef15 = _in_df04_spec(host, "EF15")
    content = host.ok("READ BINARY of EF15 by SFI", 0x00, 0xB0, 0x80 | ef15["sfi"], 0x00, le=0)
    assert len(content) == ef15["size"], f"EF15 holds {len(content)} bytes; the profile lays out {ef15['size']}"
    return content


@clause("CARD-FILE-006")
def test_read_binary_reads_by_sfi_and_in_the_current_ef_alike(host, pin):
    _in_df04(host, pin)
    ef15 = _in_df04_spec(host, "EF15")
    content = _read_ef15(host)
    host.ok("SELECT EF15 by FID (P1 02, P2 0C)", 0x00, 0xA4, 0x02, 0x0C, bytes.fromhex(ef15["fid"]))
    for offset in (0, 8):
        read = host.ok(f"READ BINARY of the current EF (EF15) at offset {offset}", 0x00, 0xB0, offset >> 8,
                       offset & 0xFF, le=0)
        assert read == content[offset:], (
            f"READ BINARY of the current EF at offset {offset} differs from EF15 read by its SFI")
    beyond = host.send(0x00, 0xB0, 0x01, 0x00, le=0)  # offset 256, P1 b8 0: still the current EF
    allowed = host.layout.malformed.answers["parameters"]
    assert beyond.sw in allowed, (
        f"READ BINARY of the current EF (EF15, {ef15['size']} bytes) at offset 256 answered {sw_text(beyond.sw)}; "
        f"the profile allows {', '.join(sw_text(sw) for sw in sorted(allowed))} for an offset "
        f"beyond the end")


@clause("CARD-FILE-006")
def test_update_binary_writes_at_its_offset_and_nothing_else(host, pin):
    _in_df04(host, pin, write_key=True)
    ef15 = _in_df04_spec(host, "EF15")
    old = _read_ef15(host)
    at, length = 8, 4
    new = bytes(b ^ 0xFF for b in old[at:at + length])
    expect(host.send(0x00, 0xD6, 0x80 | ef15["sfi"], at, new), SW.OK,
           f"UPDATE BINARY of EF15 by SFI at offset {at} after key 04")
    written = _read_ef15(host)
    try:
        assert written == old[:at] + new + old[at + length:], (
            f"after UPDATE BINARY of {length} bytes at offset {at}, EF15 is not its old bytes with those {length} "
            f"replaced")
    finally:  # put the bytes back, through the current EF (P1 b8 0, P1-P2 the offset)
        expect(host.send(0x00, 0xD6, at >> 8, at, old[at:at + length]), SW.OK,
               f"UPDATE BINARY of the current EF (EF15) at offset {at}, putting its bytes back")
    assert _read_ef15(host) == old, "EF15 is not what it was after UPDATE BINARY put its bytes back"


def _record(host: Host, number: int):
    __tracebackhide__ = True
    return host.read_record(_in_df04_spec(host, "EF16")["sfi"], number)


@clause("CARD-FILE-007")
def test_append_record_to_the_cyclic_ef16_makes_the_new_record_record_1(card, pin):
    host = card.open_to_destroy()  # the oldest records a cyclic EF drops cannot be given back
    _in_df04(host, pin)
    ef16 = _in_df04_spec(host, "EF16")
    size, most = ef16["record_size"], ef16["max_records"]
    appended = [bytes((0xE0 | n,)) * size for n in range(most + 1)]
    for n, record in enumerate(appended, 1):
        expect(host.send(0x00, 0xE2, 0x00, ef16["sfi"] << 3, record), SW.OK, f"APPEND RECORD {n} to EF16")
        first = expect(_record(host, 1), SW.OK, f"READ RECORD EF16 record 1 after APPEND RECORD {n}").data
        assert first == record, f"after APPEND RECORD {n}, EF16 record 1 is not the record just appended"
    held = [expect(_record(host, k), SW.OK, f"READ RECORD EF16 record {k}").data for k in range(1, most + 1)]
    assert held == appended[::-1][:most], (
        f"after {most + 1} APPEND RECORDs to EF16 ({most} records), records 1 to {most} are not the newest "
        f"{most}, newest first")
    beyond = _record(host, most + 1)
    assert beyond.sw == SW.RECORD_NOT_FOUND, (
        f"READ RECORD EF16 record {most + 1}, beyond its {most} records, answered {sw_text(beyond.sw)}; "
        f"ISO/IEC 7816-4 answers {sw_text(SW.RECORD_NOT_FOUND)}")
