"""Reading the social-security application over any transport, as department software does.

The sequence is the one field code uses (ssc-card.md §1 [V]): SELECT the SSSE by AID, read EF05
records by SFI and number, then open EF06 (3rd generation: GET CHALLENGE + EXTERNAL AUTHENTICATE
with key 0A, computed by the PSAM/HSM; 2nd generation: VERIFY PIN) and read EF06 elements by tag.
Values are decoded by the profile's codecs; what could not be read or decoded is reported per
element with its status word or reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.apdu import SW, describe
from simulator.backend.issuer import READ_KEY, IssuerKeys
from simulator.card.apps import ssse
from simulator.card.commands_security import encode_pin
from simulator.privacy import mask_value
from simulator.profile import national
from simulator.transport.base import Transport

ALGORITHM_BY_INDICATOR = {1: "3des", 3: "sm4"}


class ReadError(Exception):
    """The card is not a readable social security card (no SSSE, locked, refused)."""


@dataclass
class ReadOut:
    """What a read found: decoded values by element name, and per-element errors."""

    atr: bytes
    algorithm: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    opened_by: str = "none"  # how EF06 was opened: auth:0A, pin, or none

    def shown(self, *, show_personal_data: bool = False) -> dict[str, str]:
        """Values as text for display; personal ones masked unless explicitly asked for."""
        catalogue = ssse.elements()
        out = {}
        for name, value in self.values.items():
            if show_personal_data or not catalogue[name].personal:
                out[name] = value.hex().upper() if isinstance(value, bytes) else str(value)
            else:
                out[name] = mask_value(name, value)
        return out


def _algorithm(fci: bytes) -> str:
    """Algorithm from the FCI's 9F0C 03 86 01 xx (absent means DES, ssc-card.md §2 [V S1])."""
    at = fci.find(bytes((0x9F, 0x0C, 0x03, 0x86, 0x01)))
    indicator = fci[at + 5] if at >= 0 and at + 5 < len(fci) else 1
    return ALGORITHM_BY_INDICATOR.get(indicator, f"unknown-{indicator:02X}")


def read_card(transport: Transport, *, keys: IssuerKeys | None = None, pin: str | None = None,
              ssse_profile: dict | None = None) -> ReadOut:
    """Read every SSSE data element the card lets us read. `transport` must be connected."""
    ssse_profile = ssse_profile or national()["ssse"]
    catalogue = ssse.elements(ssse_profile)
    sfi = {spec["name"]: spec["sfi"] for spec in ssse_profile["files"] if "sfi" in spec}
    selected = transport.send(0x00, 0xA4, 0x04, 0x00, bytes.fromhex(ssse_profile["application"]["aid"]), le=0)
    if selected.sw != SW.OK:
        raise ReadError(f"SELECT SSSE answered {selected.sw:04X} ({describe(selected.sw)})")
    out = ReadOut(atr=transport.atr or b"", algorithm=_algorithm(selected.data))

    def read(element: ssse.Element, *, by_tag: bool) -> None:
        p1, mode = (element.tag, 0b000) if by_tag else (element.record, 0b100)
        answer = transport.send(0x00, 0xB2, p1, (sfi[element.file] << 3) | mode, le=0)
        if answer.sw != SW.OK:
            out.errors[element.name] = f"{answer.sw:04X} {describe(answer.sw)}"
            return
        try:
            out.values[element.name] = element.parse_record(answer.data)
        except ValueError as exc:
            out.errors[element.name] = str(exc)

    for element in catalogue.values():
        if element.file == "EF05":
            read(element, by_tag=False)
    card_identifier = out.values.get("card_identifier")
    if out.algorithm == "sm4" and keys is not None and card_identifier:
        challenge = transport.send(0x00, 0x84, 0x00, 0x00, le=8)
        if challenge.sw == SW.OK:
            cryptogram = keys.external_auth(READ_KEY, card_identifier, out.algorithm, challenge.data)
            if transport.send(0x00, 0x82, 0x00, READ_KEY, cryptogram).sw == SW.OK:
                out.opened_by = f"auth:{READ_KEY:02X}"
    elif pin is not None and transport.send(0x00, 0x20, 0x00, 0x00, encode_pin(pin)).sw == SW.OK:
        out.opened_by = "pin"
    for element in catalogue.values():
        if element.file == "EF06":
            read(element, by_tag=True)
    return out
