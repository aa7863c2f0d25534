"""Masking of personal data in everything we print, log or attach (PIPL; Zhengzhou order 249 art. 13).

Two layers, both on by default:
- *values*: element values a reader decoded (社会保障号码, 姓名, 出生日期, ...) are masked by
  `mask_value` according to their kind before they are shown, and a record (a terminal's decision)
  by `mask_record`, which keeps only the fields the profile declares;
- *bytes*: an APDU trace is masked structurally: a READ RECORD response whose record tag is a
  personal element of the profile has its value bytes marked as a masked `Span` (what it is and
  how long), whatever the card's content is, so a real card's data is masked without our knowing
  it in advance; a trace shows the span as «18 bytes masked: 社会保障号码», never the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from simulator.profile import Profile, national
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


def mask_pan(pan: str) -> str:
    """First 6 and last 4 digits kept (PCI DSS style), for errors and reports."""
    return pan[:6] + "*" * max(0, len(pan) - 10) + pan[-4:] if len(pan) > 10 else "*" * len(pan)


def mask_text(text: str) -> str:
    """Mask anything that looks like an 18-digit citizen ID number in free text (logs, errors)."""
    return _CITIZEN_ID.sub(lambda m: m.group(0)[:4] + "*" * 12 + m.group(0)[-2:], text)


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes [start, stop) of an APDU that hold personal data, and what they are (the profile's
    name of the element, e.g. 社会保障号码): a trace shows the span as masked, not its bytes."""

    start: int
    stop: int
    what: str

    def __len__(self) -> int:
        return self.stop - self.start


def apply_spans(data: bytes, spans: tuple[Span, ...]) -> bytes:
    """`data` with every masked span overwritten by MASK_BYTE (the byte-level form of a mask)."""
    out = bytearray(data)
    for span in spans:
        out[span.start : span.stop] = bytes([MASK_BYTE]) * len(span)
    return bytes(out)


class TraceMasker:
    """Finds PINs and personal data in APDU exchanges, by what the profiles mark personal:
    the SSSE's record tags, the financial application's BER-TLV tags (PAN, Track 2) wherever
    they appear in a response, and the purse's cardholder file read by SFI.

    `command_spans` / `response_spans` say where personal bytes are and what they are (for a trace
    that marks them as masked); `command` / `response` return the bytes with those spans masked."""

    #: INS whose command data is a PIN or carries one (VERIFY, CHANGE/RELOAD PIN, UNBLOCK).
    SECRET_INS = frozenset((0x20, 0x5E, 0x24))
    #: INS whose command data is a record (UPDATE RECORD, APPEND RECORD).
    RECORD_WRITE_INS = frozenset((0xDC, 0xE2))
    PIN = "PIN"
    CITIZEN_ID = "社会保障号码"

    def __init__(self, *, record_tags: Mapping[int, str] | None = None, tlv_tags: Mapping[int, str] | None = None,
                 binary_files: Mapping[int, tuple[int, str]] | None = None) -> None:
        #: record tag -> element name, BER-TLV tag -> element name
        self.record_tags = dict(record_tags or {})
        self.tlv_tags = dict(tlv_tags or {})
        #: SFI -> (offset from which a transparent file's bytes are personal, file name)
        self.binary_files = dict(binary_files or {})

    @classmethod
    def from_profiles(cls, profile: Profile | None = None) -> TraceMasker:
        """The masker for every application `profile` defines (the national profile by default)."""
        profile = profile or national()
        ssse, qpboc, purse = profile["ssse"], profile["qpboc"], profile["epurse"]
        return cls(
            record_tags={e["tag"]: e["zh"] for e in ssse["elements"].values() if e["personal"]},
            tlv_tags={int(e["tag"], 16): e["zh"] for e in qpboc["elements"].values() if e.get("personal")},
            binary_files={f["sfi"]: (f.get("personal_from", 0), f["zh"]) for f in purse["files"] if f.get("personal")},
        )

    @staticmethod
    def _from(start: int, stop: int, what: str) -> tuple[Span, ...]:
        return (Span(start, stop, what),) if stop > start else ()

    def _record(self, record: bytes, at: int) -> tuple[Span, ...]:
        """A personal TLV record's value (tag and length kept), `at` its offset in the APDU."""
        if not record or record[0] not in self.record_tags:
            return ()
        return self._from(at + min(2, len(record)), at + len(record), self.record_tags[record[0]])

    def _tlv(self, data: bytes, start: int, end: int) -> list[Span]:
        """Personal primitive values inside (nested) BER-TLV between start and end; ValueError when
        those bytes are not TLV."""
        spans, i = [], start
        while i < end:
            if data[i] in (0x00, 0xFF):  # padding between objects
                i += 1
                continue
            tag, j = read_tag(data, i)
            n, k = read_length(data, j)
            if k + n > end:
                raise ValueError("TLV object runs past its parent")
            if tag in self.tlv_tags:
                spans += self._from(k, k + n, self.tlv_tags[tag])
            elif _constructed(tag):
                spans += self._tlv(data, k, k + n)
            i = k + n
        return spans

    def command_spans(self, command: bytes) -> tuple[Span, ...]:
        """Where a command carries a PIN or a personal record (header and Lc never)."""
        if len(command) < 6:
            return ()
        ins, p1, data = command[1], command[2], command[5:]
        if ins in self.SECRET_INS:
            return self._from(5, len(command), self.PIN)
        if ins in self.RECORD_WRITE_INS:
            return self._record(data, 5)
        if ins == 0xD6 and p1 & 0x80 and (p1 & 0x1F) in self.binary_files:  # UPDATE BINARY of a personal file
            offset, what = self.binary_files[p1 & 0x1F]
            return self._from(5 + max(offset - command[3], 0), len(command), what)
        return ()

    def response_spans(self, command: bytes, response: bytes) -> tuple[Span, ...]:
        """Where a response (data + SW) carries personal data; the status word never."""
        if len(command) < 4 or len(response) < 3:
            return ()
        data = response[:-2]
        ins, p1 = command[1], command[2]
        if ins == 0xB0 and p1 & 0x80 and (p1 & 0x1F) in self.binary_files:
            offset, what = self.binary_files[p1 & 0x1F]  # P2 is the offset of the read
            return self._from(max(offset - command[3], 0), len(data), what)
        if ins == 0xB2 and data[0] in self.record_tags:
            return self._record(data, 0)
        try:
            spans = self._tlv(data, 0, len(data))
        except ValueError:
            spans = []  # not TLV: only the generic rule below applies
        seen = apply_spans(data, tuple(spans))
        spans += [Span(m.start() + 4, m.end(), self.CITIZEN_ID) for m in _CITIZEN_ID_BYTES.finditer(seen)]
        return tuple(sorted(spans, key=lambda s: s.start))

    def command(self, command: bytes) -> bytes:
        """`command` with a PIN or a personal record in its data masked (header and Lc kept)."""
        return apply_spans(command, self.command_spans(command))

    def response(self, command: bytes, response: bytes) -> bytes:
        """`response` with personal values replaced by '*' bytes (status word kept)."""
        return apply_spans(response, self.response_spans(command, response))


def _constructed(tag: int) -> bool:
    """BER-TLV: bit 6 of the first tag byte marks a constructed object (a template)."""
    first = tag >> (8 * ((tag.bit_length() - 1) // 8)) if tag else 0
    return bool(first & 0x20)
