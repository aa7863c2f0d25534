"""Masking of personal data in everything we print, log or attach (PIPL; Zhengzhou order 249 art. 13).

Two layers, both on by default:
- *values*: element values a reader decoded (社会保障号码, 姓名, 出生日期, ...) are masked by
  `mask_value` according to their kind before they are shown, and a record (a terminal's decision)
  by `mask_record`, which keeps only the fields the profile declares;
- *bytes*: an APDU trace is masked structurally: a READ RECORD response whose record tag is a
  personal element of the profile has its value bytes replaced, whatever the card's content is,
  so a real card's data is masked without our knowing it in advance.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from simulator.profile import load
from simulator.tlv import read_length, read_tag

MASK_BYTE = 0x2A  # '*'

_CITIZEN_ID = re.compile(r"(?<![0-9])([1-9][0-9]{5})(?:19|20)[0-9]{9}[0-9Xx](?![0-9])")
#: the same in raw APDU bytes (ASCII digits), whatever file or command they come from
_CITIZEN_ID_BYTES = re.compile(rb"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])")


def mask_value(kind: str, value: Any) -> str:
    """Masked text for an element value: enough left to tell records apart, not to identify."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return f"{value.year // 10}*-**-**" if kind == "birth_date" else value.isoformat()
    text = value.hex().upper() if isinstance(value, bytes) else str(value)
    if kind == "citizen_id":
        return text[:4] + "*" * (len(text) - 6) + text[-2:]
    if kind in ("name", "name_ext"):
        return text[:1] + "*" * (len(text) - 1)
    if kind == "card_number":
        return text[:1] + "*" * (len(text) - 3) + text[-2:]
    return "*" * len(text)


def mask_record(record: Mapping[str, Any], *, keep: Collection[str],
                nested: Mapping[str, Collection[str]] | None = None) -> dict[str, Any]:
    """`record` (a decision record) masked structurally, by field name: a field in `keep` keeps its
    value, a field in `nested` is a record of its own kept by the names given there, and any other
    field is personal until the profile declares it: masked by `mask_value` under its own name
    (姓名 keeps its first character, 出生日期 its decade) or wholly when that is no kind it knows."""
    nested = nested or {}
    masked: dict[str, Any] = {}
    for name, value in record.items():
        if name in nested:
            masked[name] = (mask_record(value, keep=nested[name]) if isinstance(value, Mapping)
                            else mask_value(name, value))
        elif name in keep:
            masked[name] = value
        else:
            masked[name] = mask_value(name, value)
    return masked


def mask_text(text: str) -> str:
    """Mask anything that looks like an 18-digit citizen ID number in free text (logs, errors)."""
    return _CITIZEN_ID.sub(lambda m: m.group(0)[:4] + "*" * 12 + m.group(0)[-2:], text)


class TraceMasker:
    """Masks PINs and personal data in APDU exchanges, by what the profiles mark personal:
    the SSSE's record tags, the financial application's BER-TLV tags (PAN, Track 2) wherever
    they appear in a response, and the purse's cardholder file read by SFI."""

    #: INS whose command data is a PIN or carries one (VERIFY, CHANGE/RELOAD PIN, UNBLOCK).
    SECRET_INS = frozenset((0x20, 0x5E, 0x24))
    #: INS whose command data is a record (UPDATE RECORD, APPEND RECORD).
    RECORD_WRITE_INS = frozenset((0xDC, 0xE2))

    def __init__(self, *, record_tags: set[int] = frozenset(), tlv_tags: set[int] = frozenset(),
                 binary_files: dict[int, int] | None = None) -> None:
        self.record_tags = frozenset(record_tags)
        self.tlv_tags = frozenset(tlv_tags)
        #: SFI -> offset from which a transparent file's bytes are personal
        self.binary_files = dict(binary_files or {})

    @classmethod
    def from_profiles(cls) -> TraceMasker:
        """The masker for every application the national profile defines."""
        ssse = load("national/ssse", "ssse")
        qpboc = load("national/qpboc", "qpboc")
        purse = load("national/epurse", "epurse")
        return cls(
            record_tags={e["tag"] for e in ssse["elements"].values() if e["personal"]},
            tlv_tags={int(e["tag"], 16) for e in qpboc["elements"].values() if e.get("personal")},
            binary_files={f["sfi"]: f.get("personal_from", 0) for f in purse["files"] if f.get("personal")},
        )

    def _mask(self, data: bytes, keep: int) -> bytes:
        keep = min(keep, len(data))
        return data[:keep] + bytes([MASK_BYTE]) * (len(data) - keep)

    def _record(self, record: bytes) -> bytes:
        return self._mask(record, 2) if record and record[0] in self.record_tags else record

    def _tlv(self, buf: bytearray, start: int, end: int) -> None:
        """Mask, in place, personal primitive values inside (nested) BER-TLV between start and end;
        ValueError when those bytes are not TLV."""
        i = start
        while i < end:
            if buf[i] in (0x00, 0xFF):  # padding between objects
                i += 1
                continue
            tag, j = read_tag(buf, i)
            n, k = read_length(buf, j)
            if k + n > end:
                raise ValueError("TLV object runs past its parent")
            if tag in self.tlv_tags:
                buf[k : k + n] = bytes([MASK_BYTE]) * n
            elif _constructed(tag):
                self._tlv(buf, k, k + n)
            i = k + n

    def command(self, command: bytes) -> bytes:
        """`command` with a PIN or a personal record in its data masked (header and Lc kept)."""
        if len(command) < 6:
            return command
        ins, data = command[1], command[5:]
        if ins in self.SECRET_INS:
            return command[:5] + self._mask(data, 0)
        if ins in self.RECORD_WRITE_INS:
            return command[:5] + self._record(data)
        p1 = command[2]
        if ins == 0xD6 and p1 & 0x80 and (p1 & 0x1F) in self.binary_files:  # UPDATE BINARY of a personal file
            return command[:5] + self._mask(data, max(self.binary_files[p1 & 0x1F] - command[3], 0))
        return command

    def response(self, command: bytes, response: bytes) -> bytes:
        """`response` with personal values replaced by '*' bytes (status word kept)."""
        if len(command) < 4 or len(response) < 3:
            return response
        data, sw = response[:-2], response[-2:]
        ins, p1 = command[1], command[2]
        if ins == 0xB0 and p1 & 0x80 and (p1 & 0x1F) in self.binary_files:
            keep = self.binary_files[p1 & 0x1F] - command[3]  # P2 is the offset
            return self._mask(data, max(keep, 0)) + sw
        if ins == 0xB2 and data[0] in self.record_tags:
            return self._record(data) + sw
        buf = bytearray(data)
        try:
            self._tlv(buf, 0, len(buf))
        except ValueError:
            buf = bytearray(data)  # not TLV: only the generic rule below applies
        return _CITIZEN_ID_BYTES.sub(lambda m: self._mask(m.group(0), 4), bytes(buf)) + sw


def _constructed(tag: int) -> bool:
    """BER-TLV: bit 6 of the first tag byte marks a constructed object (a template)."""
    first = tag >> (8 * ((tag.bit_length() - 1) // 8)) if tag else 0
    return bool(first & 0x20)
