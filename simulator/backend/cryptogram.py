"""The issuer's check of a QuickPass application cryptogram (ARQC / TC, tag 9F26).

Why the bank has its own code path and does not call the card's: an oracle that shares the code it
judges cannot catch that code's mistakes. This module reads the layout as data from
profiles/national/qpboc.yaml (`issuer_application_data`, `cryptogram`, `pdol`; the layout itself
is `source: modelled` there: JR/T 0025 is not public) and computes the expected cryptogram with
`simulator.crypto` alone: the issuer master key (IMK-AC) diversified by the PAN factor, then by the
ATC, a PBOC MAC over the listed tags. It imports nothing of `simulator.card`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.crypto import diversify, pboc_mac
from simulator.profile import Profile, ProfileError, national

IAD, ATC, CRYPTOGRAM = 0x9F10, 0x9F36, 0x9F26


class CryptogramFormatError(ValueError):
    """Field 55 lacks a tag the cryptogram covers, or a tag has the wrong length."""


def _pan_psn_rightmost16(pan: str, pan_sequence: int) -> bytes:
    digits = pan + format(pan_sequence, "02d")
    if not digits.isdigit() or len(digits) > 21:
        raise CryptogramFormatError("the PAN and PAN sequence number must be digits (PAN up to 19)")
    return bytes.fromhex(digits[-16:].zfill(16))


def _atc_then_zeros(atc: bytes) -> bytes:
    return atc + b"\x00" * 6


#: the profile's `cryptogram.key_factor` / `session_factor` names -> how each factor is made
KEY_FACTORS = {"pan_psn_rightmost16": _pan_psn_rightmost16}
SESSION_FACTORS = {"atc_then_zeros": _atc_then_zeros}


@dataclass(frozen=True)
class CryptogramRule:
    """The cryptogram layout of one profile, read once."""

    key_factor: str
    session_factor: str
    inputs: tuple[str, ...]  # tag hex strings, and "cvr" for the CVR inside 9F10
    length: int
    sizes: Mapping[int, int]  # fixed lengths of the tags the PDOL (and AIP, ATC) define
    iad_fields: Mapping[str, tuple[int, int]]  # IAD field name -> (offset, size)
    algorithm_ids: Mapping[int, str]  # IAD algorithm id byte -> algorithm name
    master_keys: Mapping[str, bytes]  # algorithm -> IMK-AC (synthetic test keys)

    @classmethod
    def from_profile(cls, profile: Profile | None = None) -> CryptogramRule:
        """The rule of `profile`'s qPBOC document (the national profile by default)."""
        qpboc = (profile or national())["qpboc"]
        spec = qpboc["cryptogram"]
        for name, known in (("key_factor", KEY_FACTORS), ("session_factor", SESSION_FACTORS)):
            if spec[name] not in known:
                raise ProfileError(f"qpboc.yaml cryptogram.{name} {spec[name]!r}: the bank knows {sorted(known)}")
        fields, offset, ids = {}, 0, {}
        for entry in qpboc["issuer_application_data"]["layout"]:
            if "by_algorithm" in entry:
                ids = {bytes.fromhex(code)[0]: name for name, code in entry["by_algorithm"].items()}
                size = 1
            else:
                size = entry["length"] if "length" in entry else len(bytes.fromhex(entry["value"]))
            fields[entry["name"]] = (offset, size)
            offset += size
        sizes = {int(e["tag"], 16): e["length"] for e in qpboc["pdol"]["entries"]}
        sizes[0x82] = len(bytes.fromhex(qpboc["aip"]["value"]))
        sizes[ATC] = 2
        keys = {name: bytes.fromhex(key) for name, key in qpboc["test_keys"]["ac"].items()}
        return cls(spec["key_factor"], spec["session_factor"], tuple(spec["input"]), spec["length"], sizes,
                   fields, ids, keys)

    def _iad_field(self, iad: bytes, name: str) -> bytes:
        if name not in self.iad_fields:
            raise ProfileError(f"qpboc.yaml issuer_application_data has no field {name!r}")
        offset, size = self.iad_fields[name]
        if len(iad) < offset + size:
            raise CryptogramFormatError(f"9F10 of {len(iad)} bytes has no {name} at bytes {offset}..{offset + size}")
        return iad[offset:offset + size]

    def algorithm(self, tags: Mapping[int, bytes]) -> str | None:
        """The algorithm named in the IAD's algorithm id, or None for an id the profile does not list."""
        return self.algorithm_ids.get(self._iad_field(tags.get(IAD, b""), "algorithm_id")[0])

    def _data(self, tags: Mapping[int, bytes]) -> bytes:
        parts = []
        for item in self.inputs:
            if item == "cvr":
                parts.append(self._iad_field(tags.get(IAD, b""), "cvr"))
                continue
            tag = int(item, 16)
            if tag not in tags:
                raise CryptogramFormatError(f"field 55 has no tag {item}, which the cryptogram covers")
            if tag in self.sizes and len(tags[tag]) != self.sizes[tag]:
                raise CryptogramFormatError(f"tag {item} has {len(tags[tag])} bytes, {self.sizes[tag]} expected")
            parts.append(tags[tag])
        return b"".join(parts)

    def expected(self, *, algorithm: str, pan: str, pan_sequence: int, tags: Mapping[int, bytes]) -> bytes:
        """The cryptogram the genuine card computes over these tags."""
        atc = tags.get(ATC, b"")
        if len(atc) != 2:
            raise CryptogramFormatError(f"the ATC (9F36) has {len(atc)} bytes, 2 expected")
        udk = diversify(algorithm, self.master_keys[algorithm], KEY_FACTORS[self.key_factor](pan, pan_sequence))
        session = diversify(algorithm, udk, SESSION_FACTORS[self.session_factor](atc))
        return pboc_mac(algorithm, session, self._data(tags), length=self.length)

    def verifies(self, *, pan: str, pan_sequence: int, tags: Mapping[int, bytes]) -> tuple[bool, str]:
        """(genuine, why not): whether 9F26 is the card's cryptogram over field 55.
        `CryptogramFormatError` when field 55 is malformed."""
        algorithm = self.algorithm(tags)
        if algorithm is None:
            return False, f"unknown cryptogram algorithm id in 9F10 ({tags.get(IAD, b'').hex().upper()})"
        expected = self.expected(algorithm=algorithm, pan=pan, pan_sequence=pan_sequence, tags=tags)
        if not hmac.compare_digest(expected, tags.get(CRYPTOGRAM, b"")):
            return False, "the application cryptogram (9F26) does not verify"
        return True, ""
