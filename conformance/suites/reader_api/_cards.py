"""Cards no persona gives, which a reader must still handle: the harness makes each from a
persona's card image before the card boots (`Bench.present(persona, alter=...)`, which hands the
alteration the image and the run's profile, whose SSSE lays out the files), so the card OS
answers them with its own status words, as a real card personalised that way would.

- `with_atr`: another ATR structure (interface bytes, TDi chain, no historical bytes; READER-FMT-003);
- `ef05_ending_before`: EF05 personalised only up to a record, so READ RECORD of that record
  and later ones answers 6A83 (READER-ERR-003);
- `ef05_record`: one EF05 record written as given, e.g. a malformed 卡识别码 (READER-ERR-004).
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.card.filesystem import EF
from simulator.card.image import CardImage, count_key, record_key
from simulator.profile import Profile

#: `alter(image, profile)`: changes a card image of the run's profile
Alteration = Callable[[CardImage, Profile], None]


def _ef05(image: CardImage, profile: Profile) -> EF:
    ssse = profile["ssse"]
    fid = int(next(f["fid"] for f in ssse["files"] if f["name"] == "EF05"), 16)
    ef = image.tree.by_aid[bytes.fromhex(ssse["application"]["aid"])].child(fid)
    assert isinstance(ef, EF), "the profile's EF05 is no EF of the SSSE"
    return ef


def with_atr(atr: bytes) -> Alteration:
    """The card answers `atr` at every reset."""

    def alter(image: CardImage, profile: Profile) -> None:
        image.atr = atr

    return alter


def ef05_ending_before(record: int) -> Alteration:
    """EF05 holds its records 1 to `record` - 1 only."""

    def alter(image: CardImage, profile: Profile) -> None:
        image.contents[count_key(_ef05(image, profile).path)] = bytes((record - 1,))

    return alter


def ef05_record(number: int, raw: bytes) -> Alteration:
    """EF05 record `number` (a linear EF: its slot is its number) holds `raw`."""

    def alter(image: CardImage, profile: Profile) -> None:
        image.contents[record_key(_ef05(image, profile).path, number)] = raw

    return alter
