"""BER-TLV (ISO/IEC 7816-4 §5.2, EMV Book 3 Annex B): building and parsing data objects.

One module for the FCI/FCP builders, the financial application's templates and DOLs, the
PPSE directory and the trace masker, so that every layer reads TLV the same way.
"""

from __future__ import annotations


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV object; tags of one to three bytes, definite lengths up to 65535."""
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    elif n < 0x100:
        length = bytes((0x81, n))
    elif n < 0x10000:
        length = b"\x82" + n.to_bytes(2, "big")
    else:
        raise ValueError(f"TLV value of {n} bytes is too long")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big") + length + bytes(value)


def read_tag(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise ValueError("TLV ends inside a tag")
    tag = data[i]
    i += 1
    if tag & 0x1F == 0x1F:
        while True:
            if i >= len(data):
                raise ValueError(f"TLV ends inside tag {tag:X}")
            tag = tag << 8 | data[i]
            i += 1
            if not data[i - 1] & 0x80:
                break
    return tag, i


def read_length(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise ValueError("TLV ends before a length")
    first = data[i]
    if first < 0x80:
        return first, i + 1
    k = first & 0x7F
    if not 1 <= k <= 2 or i + 1 + k > len(data):
        raise ValueError(f"bad TLV length byte {first:02X}")
    return int.from_bytes(data[i + 1 : i + 1 + k], "big"), i + 1 + k


def parse_tlv(data: bytes) -> list[tuple[int, bytes]]:
    """One level of BER-TLV as (tag, value) pairs; 00/FF padding between objects is skipped.
    ValueError on a truncated object."""
    items, i = [], 0
    while i < len(data):
        if data[i] in (0x00, 0xFF):
            i += 1
            continue
        tag, i = read_tag(data, i)
        n, i = read_length(data, i)
        if i + n > len(data):
            raise ValueError(f"tag {tag:X} announces {n} bytes, {len(data) - i} left")
        items.append((tag, bytes(data[i : i + n])))
        i += n
    return items


def parse_dol(dol: bytes) -> list[tuple[int, int]]:
    """A data object list (PDOL, CDOL) as (tag, length) pairs."""
    entries, i = [], 0
    while i < len(dol):
        tag, i = read_tag(dol, i)
        n, i = read_length(dol, i)
        entries.append((tag, n))
    return entries
