"""Administrative division codes (行政区划代码, GB/T 2260): six digits, province ‖ city ‖ county.

Why a module of its own: a terminal deciding whether a card's holder is local and the suite's
oracle judging that decision both ask whether a code lies within an area (a province, a city or
one county), and the answer is a fact of the code's structure, not of either of them. A province
(or a municipality such as Chongqing, 500000) ends in 0000, a city in 00; the rest is a county.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"^[0-9]{6}$")


def _checked(code: str) -> str:
    if not _CODE.match(code):
        raise ValueError(f"an administrative division code has six digits, got {code!r}")
    return code


def province(code: str) -> str:
    """The province (or municipality) of `code`: its first two digits and 0000."""
    return _checked(code)[:2] + "0000"


def within(code: str, area: str) -> bool:
    """Whether division `code` lies in `area`: the same province when `area` is one, the same city
    when `area` is a city, the same county otherwise."""
    _checked(code)
    digits = 2 if _checked(area).endswith("0000") else 4 if area.endswith("00") else 6
    return code[:digits] == area[:digits]


def within_any(code: str, areas: list[str] | tuple[str, ...]) -> bool:
    """Whether division `code` lies in one of `areas`."""
    return any(within(code, area) for area in areas)
