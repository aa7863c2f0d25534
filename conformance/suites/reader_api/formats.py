"""Reading what a reader library answered, the way the suite judges it (independently of the
reference implementation): '|'-separated fields by the profile's formats, ATR historical bytes,
and masking for the evidence."""

from __future__ import annotations

import re
from datetime import datetime

from simulator.privacy import mask_text, mask_value


def split(out: str, spec: dict) -> dict[str, str] | None:
    """The fields of `out` by name, or None when the count or the trailing separator is wrong."""
    sep, names = spec["separator"], [f["name"] for f in spec["fields"]]
    parts = out.split(sep)
    if spec["trailing_separator"]:
        if parts[-1] != "":
            return None
        parts = parts[:-1]
    return dict(zip(names, parts, strict=True)) if len(parts) == len(names) else None


def show(spec: dict, name: str, value: str) -> str:
    """A field's value for a message: masked when the format marks it personal."""
    personal = any(f["name"] == name and f.get("personal") for f in spec["fields"])
    return mask_value(name, value) if personal else value


def format_errors(fields: dict[str, str], spec: dict, *, may_be_empty: frozenset[str] = frozenset()) -> list[str]:
    """Every field that does not match its pattern (or date), as a sentence a vendor understands."""
    problems = []
    for field in spec["fields"]:
        name, value = field["name"], fields[field["name"]]
        if value == "" and name in may_be_empty:
            continue
        shown = show(spec, name, value)
        if not re.fullmatch(field["pattern"], value):
            problems.append(f"{field['zh']} ({name}) = {shown!r} does not match {field['pattern']}")
        elif "date" in field:
            try:
                datetime.strptime(value, field["date"])
            except ValueError:
                problems.append(f"{field['zh']} ({name}) = {value!r} is not a date {field['date']}")
    return problems


def historical_bytes(atr: bytes) -> bytes:
    """ISO/IEC 7816-3 §8.2: skip TS, T0 and the interface bytes the TDi chain announces."""
    k, y, at = atr[1] & 0x0F, atr[1] >> 4, 2
    while True:
        at += (y & 1) + (y >> 1 & 1) + (y >> 2 & 1)
        if not y & 8:
            return atr[at:at + k]
        y, at = atr[at] >> 4, at + 1


def masked(out: str, spec: dict | None) -> str:
    """`out` for the evidence: personal fields masked by kind, citizen IDs anywhere masked."""
    fields = split(out, spec) if spec else None
    if fields is None:
        return mask_text(out)
    personal = {f["name"] for f in spec["fields"] if f.get("personal")}
    shown = [mask_value(name, value) if name in personal else value for name, value in fields.items()]
    return mask_text(spec["separator"].join(shown) + (spec["separator"] if spec["trailing_separator"] else ""))
