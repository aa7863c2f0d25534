"""Command and response APDUs (simulator.apdu): the ISO/IEC 7816-4 §5.1 cases, status words.

The one rule every layer relies on (CARD-APDU-001): `CommandAPDU.parse` decodes exactly the
seven encodings of §5.1 (case 1, cases 2-4 short and extended) and answers everything else with
CardError(6700). `iso_fields` below is an independent reading of that table, used as the oracle.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.apdu import SW, CardError, CommandAPDU, ResponseAPDU, counter_sw, describe, wrong_le_sw

h = bytes.fromhex


def iso_fields(raw: bytes) -> tuple[bytes, int | None, bool] | None:
    """(data, Le field, extended) if `raw` is one of the §5.1 encodings, else None.

    The body after the 4-byte header is one of: empty; Le(1); Lc(1, not 0) data; Lc(1, not 0)
    data Le(1); 00 Le(2); 00 Lc(2, not 0) data; 00 Lc(2, not 0) data Le(2).
    """
    if len(raw) < 4:
        return None
    body = raw[4:]
    candidates: list[tuple[bytes, int | None, bool]] = []
    if not body:
        candidates.append((b"", None, False))
    if len(body) == 1:
        candidates.append((b"", body[0], False))
    if body and body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            candidates.append((body[1:], None, False))
        if len(body) == 2 + lc:
            candidates.append((body[1:-1], body[-1], False))
    if len(body) == 3 and body[0] == 0:
        candidates.append((b"", int.from_bytes(body[1:], "big"), True))
    if len(body) > 3 and body[0] == 0:
        lc = int.from_bytes(body[1:3], "big")
        if lc and len(body) == 3 + lc:
            candidates.append((body[3:], None, True))
        if lc and len(body) == 5 + lc:
            candidates.append((body[3:-2], int.from_bytes(body[-2:], "big"), True))
    assert len(candidates) <= 1, f"{raw.hex()} is ambiguous: {candidates}"
    return candidates[0] if candidates else None


# -- parse: the seven encodings -------------------------------------------------------------
@pytest.mark.clause("CARD-APDU-001")
@pytest.mark.parametrize(
    ("raw", "data", "le", "ne", "extended"),
    [
        ("00A40000", "", None, None, False),  # case 1
        ("00B0000010", "", 0x10, 16, False),  # case 2 short
        ("00B0000000", "", 0, 256, False),  # case 2 short, Le 00 = 256
        ("00A4020002EF05", "EF05", None, None, False),  # case 3 short
        ("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
         "7378312E73682EC9E7BBE1B1A3D5CF", 0, 256, False),  # case 4 short (select SSSE)
        ("00B2012C12", "", 0x12, 18, False),  # case 2 short (READ RECORD by SFI)
        ("00B00000000100", "", 0x100, 256, True),  # case 2 extended
        ("00B00000000000", "", 0, 65536, True),  # case 2 extended, Le 0000 = 65536
        ("00D60000000003AABBCC", "AABBCC", None, None, True),  # case 3 extended
        ("00D60000000003AABBCC0102", "AABBCC", 0x0102, 0x0102, True),  # case 4 extended
    ],
)
def test_parse_cases(raw, data, le, ne, extended):
    cmd = CommandAPDU.parse(h(raw))
    assert (cmd.cla, cmd.ins, cmd.p1, cmd.p2) == tuple(h(raw)[:4])
    assert (cmd.data, cmd.le, cmd.ne, cmd.extended) == (h(data), le, ne, extended)
    assert cmd.to_bytes() == h(raw)


@pytest.mark.clause("CARD-APDU-001")
def test_parse_extended_case_3_with_more_than_255_bytes():
    data = bytes(range(256)) + b"\x01" * 44
    cmd = CommandAPDU.parse(h("00D60000") + b"\x00" + len(data).to_bytes(2, "big") + data)
    assert cmd.data == data and cmd.extended and cmd.le is None


@pytest.mark.clause("CARD-APDU-001")
@pytest.mark.parametrize(
    "raw",
    [
        "",  # nothing
        "00",
        "00A4",
        "00A404",  # shorter than a header
        "00A4040002EF",  # Lc 2, one data byte
        "00A4040002EF050000",  # Lc 2, two bytes too many for case 4
        "00A40400FF" + "00" * 10,  # Lc 255, ten bytes
        "00B000000000",  # 00 then one byte: neither short nor extended
        "00B0000000000000",  # extended Le followed by a stray byte
        "00D60000000000AA",  # extended Lc of zero
        "00D60000000002AA",  # extended Lc 2, one data byte
        "00D60000000001AA00",  # extended case 4 with a one-byte Le
        "00D60000000001AA000000",  # extended case 4 with a three-byte Le
        "00D600000001",  # extended length cut short
    ],
)
def test_every_malformed_length_is_6700(raw):
    assert iso_fields(h(raw)) is None  # the oracle agrees it is malformed
    with pytest.raises(CardError) as info:
        CommandAPDU.parse(h(raw))
    assert info.value.sw == SW.WRONG_LENGTH


# -- parse against the oracle, and round trips ----------------------------------------------
@st.composite
def encodings(draw) -> bytes:
    """A well-formed command APDU of any case, short or extended."""
    header = draw(st.binary(min_size=4, max_size=4))
    case = draw(st.sampled_from(["1", "2S", "3S", "4S", "2E", "3E", "4E"]))
    ext = case.endswith("E")
    data = b""
    if case[0] in "34":
        data = draw(st.binary(min_size=1, max_size=300 if ext else 255))
    body = b""
    if data:
        body = (b"\x00" + len(data).to_bytes(2, "big") if ext else bytes((len(data),))) + data
    if case[0] in "24":
        le = draw(st.integers(0, 0xFFFF if ext else 0xFF))
        body += ((b"" if data else b"\x00") + le.to_bytes(2, "big")) if ext else bytes((le,))
    return header + body


@st.composite
def near_misses(draw) -> bytes:
    """A well-formed APDU with a length byte changed or bytes added or cut: mostly malformed."""
    raw = bytearray(draw(encodings()))
    how = draw(st.sampled_from(["lc", "grow", "cut"]))
    if how == "lc" and len(raw) > 4:
        raw[draw(st.integers(4, min(6, len(raw) - 1)))] = draw(st.integers(0, 255))
    elif how == "grow":
        raw += draw(st.binary(min_size=1, max_size=3))
    else:
        del raw[len(raw) - draw(st.integers(1, min(3, len(raw)))):]
    return bytes(raw)


@pytest.mark.clause("CARD-APDU-001")
@settings(max_examples=400, derandomize=True, database=None)
@given(st.one_of(st.binary(max_size=300), encodings(), near_misses()))
@example(b"\x00\xb0\x00\x00\x00\x00")
@example(b"\x00\xd6\x00\x00\x00\x00\x00\xaa")
def test_parse_agrees_with_the_iso_table(raw):
    expected = iso_fields(raw)
    if expected is None:
        with pytest.raises(CardError) as info:
            CommandAPDU.parse(raw)
        assert info.value.sw == SW.WRONG_LENGTH
        return
    cmd = CommandAPDU.parse(raw)
    assert (cmd.data, cmd.le, cmd.extended) == expected
    assert cmd.to_bytes() == raw


@settings(max_examples=300, derandomize=True, database=None)
@given(
    header=st.tuples(*[st.integers(0, 255)] * 4),
    data=st.binary(max_size=400),
    ne=st.none() | st.integers(1, 65536),
)
def test_to_bytes_then_parse_keeps_every_field(header, data, ne):
    cmd = CommandAPDU(*header, data=data, le=ne)
    back = CommandAPDU.parse(cmd.to_bytes())
    assert (back.cla, back.ins, back.p1, back.p2) == header
    assert back.data == data
    assert back.ne == ne
    assert back.extended == (len(data) > 255 or (ne or 0) > 256)


def test_command_apdu_str_is_hex_at_the_edge():
    assert str(CommandAPDU.parse(h("00A4020002EF0500"))) == "00A40200 EF05 Le=0"


# -- responses and status words -------------------------------------------------------------
def test_response_parse_splits_data_and_status():
    resp = ResponseAPDU.parse(h("07094B3030303030303134 9000".replace(" ", "")))
    assert resp.data == b"\x07\x09K00000014"
    assert (resp.sw, resp.sw1, resp.sw2, resp.ok) == (0x9000, 0x90, 0x00, True)
    assert str(resp) == "07094B3030303030303134 9000"


def test_response_status_only():
    resp = ResponseAPDU.status(SW.FILE_NOT_FOUND)
    assert resp.to_bytes() == h("6A82")
    assert not resp.ok and str(resp) == "6A82"
    assert ResponseAPDU.parse(h("6C12")) == ResponseAPDU(b"", 0x6C12)


@pytest.mark.parametrize("raw", ["", "90"])
def test_response_shorter_than_a_status_word_is_refused(raw):
    with pytest.raises(ValueError, match="at least 2 bytes"):
        ResponseAPDU.parse(h(raw))


@given(data=st.binary(max_size=300), sw=st.integers(0, 0xFFFF))
@settings(max_examples=100, derandomize=True, database=None)
def test_response_round_trip(data, sw):
    assert ResponseAPDU.parse(ResponseAPDU(data, sw).to_bytes()) == ResponseAPDU(data, sw)


@pytest.mark.parametrize(
    ("sw", "meaning"),
    [
        (0x9000, "ok"),
        (0x6A82, "file not found"),
        (0x6983, "auth method blocked"),
        (0x63C2, "verification failed, x tries left"),
        (0x63C0, "verification failed, x tries left"),
        (0x6C12, "wrong Le, xx is the exact length"),
        (0x6C00, "wrong Le, xx is the exact length"),
        (0x6110, "response bytes still available"),
        (0x1234, "unknown status word"),
        (0x6390, "unknown status word"),  # 63Cx only, not all of 63xx
    ],
)
def test_describe_with_wildcards(sw, meaning):
    assert describe(sw) == meaning


def test_every_named_status_word_is_described_exactly():
    for sw in SW:
        assert describe(sw) == sw.name.lower().replace("_", " ")


def test_counter_and_wrong_le_status_words():
    assert [counter_sw(n) for n in (3, 2, 1, 0)] == [0x63C3, 0x63C2, 0x63C1, 0x63C0]
    assert wrong_le_sw(18) == 0x6C12
    assert wrong_le_sw(256) == 0x6C00


def test_card_error_carries_its_status_word():
    err = CardError(SW.WRONG_LENGTH)
    assert err.sw == 0x6700 and isinstance(err.sw, int)
    assert str(err) == "6700 wrong length"
    assert str(CardError(0x63C1, "wrong PIN")) == "wrong PIN"
