"""社会保障应用 (SSSE): the social-security application, built from `profiles/national/ssse.yaml`.

An application here is its ADF subtree, its data-element codecs and its key set (pySim's
ADF_USIM shape). Records are tag ‖ length ‖ value (ssc-card.md §1); the codecs turn element
values into record values and back, and refuse malformed bytes with a ValueError that names
the element, which is what a data-format check of a real card needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from simulator.card.commands_security import encode_pin
from simulator.card.filesystem import DF, EF, Access
from simulator.card.image import (
    AppBuild,
    Application,
    KeySlot,
    count_key,
    head_key,
    key_tries_key,
    locked_key,
    pin_key,
    pin_tries_key,
    record_key,
)
from simulator.card.security import parse_condition
from simulator.crypto import diversify
from simulator.profile import Profile, national

if TYPE_CHECKING:
    from simulator.card.personas import Persona

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CARD_NUMBER_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def citizen_id_check(first17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character of a 社会保障号码 (citizen ID number)."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"the first 17 characters of a citizen ID are digits, got {first17!r}")
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def card_number_check(first8: str) -> str:
    """Check character of 卡号: weights 3,7,9,10,5,8,4,2, A=10..Z=35 (ssc-card.md §5 [V S13]);
    the mod-11 rule (11 - sum mod 11, 10 -> X, 11 -> 0) is [B] but reproduces the public
    example X00000019."""
    if len(first8) != 8 or not first8.isalnum() or not first8.isascii():
        raise ValueError(f"卡号 starts with 8 letters or digits, got {first8!r}")
    total = sum(int(c, 36) * w for c, w in zip(first8.upper(), CARD_NUMBER_WEIGHTS, strict=True))
    return "0123456789X0"[11 - total % 11]


# -- element codecs -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Element:
    name: str
    tag: int
    file: str
    record: int
    length: int
    encoding: str
    personal: bool
    zh: str = ""

    def _shown(self, raw: bytes) -> str:
        """Raw bytes for an error message; a personal element's are masked (PIPL)."""
        return f"({len(raw)} bytes, masked)" if self.personal else raw.hex().upper()

    def encode(self, value: Any) -> bytes:
        """The record value field (exactly `length` bytes) for an element value."""
        raw = _ENCODERS[self.encoding](value, self.length)
        if len(raw) != self.length:
            raise ValueError(f"{self.name} ({self.zh}): {value!r} does not fit {self.length} bytes")
        return raw

    def decode(self, raw: bytes) -> Any:
        try:
            return _DECODERS[self.encoding](raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.name} ({self.zh}): malformed value {self._shown(raw)}: {exc}") from exc

    def to_record(self, value: Any) -> bytes:
        return bytes((self.tag, self.length)) + self.encode(value)

    def parse_record(self, record: bytes) -> Any:
        """Decode a whole record (tag ‖ len ‖ value), checking tag and length."""
        if len(record) < 2 or record[0] != self.tag or record[1] != len(record) - 2:
            raise ValueError(f"{self.name} ({self.zh}): not a tag-{self.tag:02X} record: {self._shown(record)}")
        return self.decode(record[2:])


def _bcd_digits(raw: bytes) -> str:
    text = raw.hex().upper().rstrip("F")
    if not text.isdigit():
        raise ValueError("not BCD digits")
    return text


def _date(raw: bytes) -> date:
    text = _bcd_digits(raw)
    if len(text) != 8:
        raise ValueError("a BCD date has 8 digits")
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _gbk(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("gbk")


_ENCODERS = {
    "binary": lambda v, n: bytes(v),
    "ascii": lambda v, n: str(v).encode("ascii").ljust(n, b" "),
    "gbk": lambda v, n: str(v).encode("gbk").ljust(n, b"\x00"),
    "bcd": lambda v, n: bytes.fromhex(str(v).ljust(2 * n, "F")),
    "bcd_date": lambda v, n: bytes.fromhex(v.strftime("%Y%m%d")),
}
_DECODERS = {
    "binary": bytes,
    "ascii": lambda raw: raw.decode("ascii").rstrip(" "),
    "gbk": _gbk,
    "bcd": _bcd_digits,
    "bcd_date": _date,
}


def elements(ssse_profile: dict | None = None) -> dict[str, Element]:
    """The profile's data elements by name."""
    ssse_profile = ssse_profile or national()["ssse"]
    return {
        name: Element(name=name, **{k: v for k, v in spec.items() if k != "source"})
        for name, spec in ssse_profile["elements"].items()
    }


# -- the application as a DF subtree --------------------------------------------------------
def _build_files(specs: list[dict], parent: str, generation: dict) -> tuple[DF | EF, ...]:
    nodes: list[DF | EF] = []
    for spec in specs:
        path = f"{parent}/{spec['fid']}"
        fid = int(spec["fid"], 16)
        if "files" in spec:
            aid = bytes.fromhex(spec["aid"]) if "aid" in spec else None
            nodes.append(DF(spec["name"], fid, path, aid, _build_files(spec["files"], path, generation)))
            continue
        access = {}
        for op in ("read", "update"):
            word = spec["access"][op]
            if word.startswith("generation:"):
                word = generation[word.split(":", 1)[1]]
            access[op] = parse_condition(word, where=f"ssse.yaml {spec['name']}.{op}")
        nodes.append(EF(
            spec["name"], fid, path, spec["structure"], Access(**access), sfi=spec.get("sfi"),
            size=spec.get("size", 0), record_size=spec.get("record_size", 255),
            max_records=spec.get("max_records", 254),
        ))
    return tuple(nodes)


def card_key(ssse_profile: dict, kid: int, card_identifier: bytes, algorithm: str) -> bytes:
    """A card's key `kid`: the issuer's (synthetic test) master key diversified by the last 8
    bytes of 卡识别码 (factor choice modelled). Issuer-side code derives the same key."""
    master = bytes.fromhex(ssse_profile["test_keys"][f"{kid:02X}"])
    return diversify(algorithm, master, card_identifier[-8:])


def build(values: dict[str, Any], *, generation: int, pin: str, pin_tries: int,
          locked: bool = False, raw_records: dict[str, bytes] | None = None,
          ssse_profile: dict | None = None) -> AppBuild:
    """The SSSE DF with its records, PIN and keys for one card.

    `values` maps element names to values (bytes, str or date per encoding); `raw_records`
    replaces whole records by raw bytes (garbled-card personas).
    """
    ssse_profile = ssse_profile or national()["ssse"]
    gen = ssse_profile["generations"][str(generation)]
    app_spec = ssse_profile["application"]
    algorithm = gen["algorithm"]
    path = f"3F00/{app_spec['fid']}"
    indicator = app_spec["algorithm_indicator"][algorithm]
    df = DF(app_spec["name"], int(app_spec["fid"], 16), path, bytes.fromhex(app_spec["aid"]),
            _build_files(ssse_profile["files"], path, gen),
            fci_proprietary=bytes((0x9F, 0x0C, 3, 0x86, 1, indicator)))

    contents: dict[str, bytes] = {}
    by_file: dict[str, dict[int, bytes]] = {}
    for name, element in elements(ssse_profile).items():
        if name in (raw_records or {}):
            record = raw_records[name]
        elif name in values:
            record = element.to_record(values[name])
        else:
            continue
        by_file.setdefault(element.file, {})[element.record] = record
    efs = {node.name: node for node in _walk(df)}
    for ef in efs.values():
        if ef.structure == "transparent":
            contents[ef.path] = bytes(ef.size)
            continue
        recs = by_file.get(ef.name, {})
        numbers = sorted(recs)
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{ef.name}: records {numbers} leave a gap")
        cyclic = ef.structure == "cyclic"
        for n in numbers:  # in a cyclic EF record 1 is the newest, in the highest slot
            contents[record_key(ef.path, len(numbers) - n + 1 if cyclic else n)] = recs[n]
        contents[count_key(ef.path)] = bytes((len(numbers),))
        if cyclic:
            contents[head_key(ef.path)] = bytes((len(numbers),))

    card_identifier = values["card_identifier"]
    keys = {}
    for kid_hex, spec in ssse_profile["keys"].items():
        if not isinstance(spec, dict):
            continue
        kid = int(kid_hex, 16)
        keys[kid] = KeySlot(kid, spec["usage"], algorithm, card_key(ssse_profile, kid, card_identifier, algorithm),
                            spec.get("tries"))
        if spec.get("tries"):
            contents[key_tries_key(path, kid)] = bytes((spec["tries"],))
    contents[pin_key(path)] = encode_pin(pin)
    contents[pin_tries_key(path)] = bytes((pin_tries,))
    contents[locked_key(path)] = b"\x01" if locked else b"\x00"
    pin_policy = ssse_profile["pin"]
    application = Application(
        "ssse", path, algorithm, keys, pin_policy["tries"], (pin_policy["min_digits"], pin_policy["max_digits"]),
        locked_sw=int(app_spec["locked_select_sw"], 16),
    )
    return AppBuild(df, application, contents)


def build_for(persona: Persona, profile: Profile) -> AppBuild:
    """The SSSE of a persona's card."""
    return build(persona.values, generation=persona.generation, pin=persona.pin, pin_tries=persona.pin_tries,
                 locked=persona.locked, raw_records=persona.raw_records, ssse_profile=profile["ssse"])


def _walk(df: DF):
    for child in df.children:
        if isinstance(child, DF):
            yield from _walk(child)
        else:
            yield child
