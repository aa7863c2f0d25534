"""APDU traces for people: command names, status words, times, and masked data marked as masked."""

from simulator.privacy import Span, TraceMasker
from simulator.tlv import tlv
from simulator.trace import masked_hex, render
from simulator.transport.base import Exchange

CITIZEN_ID = b"410203198506150130"


def lines(*exchanges: Exchange) -> list[str]:
    return render(exchanges, TraceMasker.from_profiles()).splitlines()


def test_an_exchange_reads_name_status_time_then_bytes_with_masked_spans_marked():
    read_id = Exchange(bytes.fromhex("00B2083C00"), bytes.fromhex("0812") + CITIZEN_ID + b"\x90\x00", 0.000214)
    head, command, response = lines(read_id)
    assert head.split() == ["1", "READ", "RECORD", "9000", "ok", "0.214", "ms"]
    assert command == "     > 00B2083C00"
    assert response == "     < 0812 «18 bytes masked: 社会保障号码» 9000"


def test_a_pin_and_the_pan_are_marked_not_printed_as_mask_bytes():
    verify = Exchange(bytes.fromhex("0020000003123456"), bytes.fromhex("63C2"), 0.001)
    pan = bytes.fromhex("6299991234567890")
    record = tlv(0x70, tlv(0x5A, pan) + tlv(0x5F24, bytes.fromhex("301231")))
    read_pan = Exchange(bytes.fromhex("00B2010C00"), record + b"\x90\x00", 0.001)
    text = "\n".join(lines(verify, read_pan))
    assert "VERIFY" in text and "63C2 verification failed" in text
    assert "> 0020000003 «3 bytes masked: PIN»" in text
    assert "«8 bytes masked: 应用主账号»" in text and "5F2403301231" in text
    assert "2A2A" not in text and "123456" not in text and pan.hex().upper() not in text


def test_a_citizen_id_anywhere_keeps_its_region_prefix_only():
    free = Exchange(bytes.fromhex("00B0000010"), b"xx" + CITIZEN_ID + b"yy\x90\x00", 0.0)
    response = lines(free)[2]
    assert response == f"     < {b'xx4102'.hex().upper()} «14 bytes masked: 社会保障号码» {b'yy'.hex().upper()} 9000"


def test_an_unknown_command_is_named_by_its_cla_and_ins():
    assert lines(Exchange(bytes.fromhex("80990000"), bytes.fromhex("6D00"), 0.0))[0].split()[:6] == [
        "1", "CLA", "80", "INS", "99", "6D00"]


def test_masked_hex_of_adjacent_and_trailing_spans():
    assert masked_hex(b"\x01\x02\x03\x04", (Span(1, 2, "a"), Span(2, 4, "b"))) == (
        "01 «1 byte masked: a» «2 bytes masked: b»")
