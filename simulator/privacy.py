"""Masking of personal data in everything we print, log or attach (PIPL; Zhengzhou order 249 art. 13).

Two layers, both on by default:
- *values*: element values a reader decoded (社会保障号码, 姓名, 出生日期, ...) are masked by
  `mask_value` according to their kind before they are shown;
- *bytes*: an APDU trace is masked structurally: a READ RECORD response whose record tag is a
  personal element of the profile has its value bytes replaced, whatever the card's content is,
  so a real card's data is masked without our knowing it in advance.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

MASK_BYTE = 0x2A  # '*'

_CITIZEN_ID = re.compile(r"(?<![0-9])([1-9][0-9]{5})(?:19|20)[0-9]{9}[0-9Xx](?![0-9])")


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


def mask_text(text: str) -> str:
    """Mask anything that looks like an 18-digit citizen ID number in free text (logs, errors)."""
    return _CITIZEN_ID.sub(lambda m: m.group(0)[:4] + "*" * 12 + m.group(0)[-2:], text)


class TraceMasker:
    """Masks personal record values and PINs in APDU exchanges, by the tags the profile marks."""

    #: INS whose command data is a PIN or carries one (VERIFY, CHANGE/RELOAD PIN, UNBLOCK).
    SECRET_INS = frozenset((0x20, 0x5E, 0x24))
    #: INS whose command data is a record (UPDATE RECORD, APPEND RECORD).
    RECORD_WRITE_INS = frozenset((0xDC, 0xE2))

    def __init__(self, personal_tags: set[int]) -> None:
        self.personal_tags = frozenset(personal_tags)

    @classmethod
    def from_elements(cls, elements: dict) -> TraceMasker:
        return cls({e.tag for e in elements.values() if e.personal})

    def _record(self, record: bytes) -> bytes:
        if record and record[0] in self.personal_tags:
            keep = min(2, len(record))
            return record[:keep] + bytes([MASK_BYTE]) * (len(record) - keep)
        return record

    def command(self, command: bytes) -> bytes:
        """`command` with a PIN or a personal record in its data masked (header and Lc kept)."""
        if len(command) < 6:
            return command
        ins, data = command[1], command[5:]
        if ins in self.SECRET_INS:
            return command[:5] + bytes([MASK_BYTE]) * len(data)
        if ins in self.RECORD_WRITE_INS:
            return command[:5] + self._record(data)
        return command

    def response(self, command: bytes, response: bytes) -> bytes:
        """`response` with a personal record's value replaced by '*' bytes."""
        if len(command) < 2 or command[1] != 0xB2 or len(response) < 4:
            return response
        return self._record(response[:-2]) + response[-2:]
