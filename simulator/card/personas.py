"""Card images from a profile plus a persona (normal, expired, PIN-blocked, garbled, ...).

Persona files (`profiles/personas/*.yaml`) describe a synthetic holder and card; dates may be
relative to the build date ("+8y", "-1d") so that "expired" stays expired whatever day the tests
run, with the date injected (never read from the wall clock here). Derived identifiers are
computed, not typed: 社会保障号码 with its GB 11643 check digit, 卡号 with its check character,
卡识别码 from the region code. Every holder is fictitious.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from simulator.card.apps import epurse, ssse
from simulator.card.filesystem import DF, FileTree
from simulator.card.image import AppBuild, CardImage
from simulator.profile import Profile, ProfileError, national
from simulator.tlv import tlv

_RELATIVE = re.compile(r"^([+-])(\d+)([ymd])$")

#: application name -> module with `build_for(persona, profile) -> AppBuild`
APPLICATION_MODULES = {
    "ssse": "simulator.card.apps.ssse",
    "epurse": "simulator.card.apps.epurse",
    "qpboc": "simulator.card.apps.qpboc",
}
#: what a persona's card carries unless it says otherwise, by generation
DEFAULT_APPLICATIONS = {2: ("ssse",), 3: ("ssse", "epurse", "qpboc")}
#: the contactless directory (PPSE, EMV Book B / JR/T 0025): DF name and FID (FID modelled)
PPSE_NAME = b"2PAY.SYS.DDF01"
PPSE_FID = 0x5031


def resolve_date(text: str, as_of: date) -> date:
    """YYYY-MM-DD, or an offset from `as_of` in years, months or days (29 Feb -> 28 Feb)."""
    match = _RELATIVE.match(text)
    if not match:
        return date.fromisoformat(text)
    sign, amount, unit = match.groups()
    n = int(amount) * (1 if sign == "+" else -1)
    if unit == "d":
        return as_of + timedelta(days=n)
    months = as_of.year * 12 + as_of.month - 1 + (n * 12 if unit == "y" else n)
    year, month = divmod(months, 12)
    for day in (as_of.day, 30, 29, 28):
        try:
            return date(year, month + 1, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: day 28 exists in every month")


@dataclass(frozen=True)
class Persona:
    """A persona resolved on a date: the element values it puts on the card."""

    name: str
    description: str
    generation: int
    values: dict[str, Any]
    pin: str
    pin_tries: int
    locked: bool
    raw_records: dict[str, bytes]
    as_of: date
    applications: tuple[str, ...] = ("ssse",)
    #: the persona's own settings per application (e.g. "epurse": {"balance": 5000}), unresolved
    sections: dict[str, dict] = field(default_factory=dict)

    def date(self, text: str) -> date:
        """A persona date (absolute or relative) resolved on the persona's build date."""
        return resolve_date(text, self.as_of)


def resolve(name: str, *, as_of: date, profile: Profile | None = None) -> Persona:
    """Persona `name` of `profile` (the national profile by default) resolved on `as_of`."""
    profile = profile or national()
    doc = profile.persona(name)
    ssse_profile = profile["ssse"]
    gen = ssse_profile["generations"][str(doc["generation"])]
    holder = doc["holder"]
    birth = resolve_date(holder["birth_date"], as_of)
    birthplace = holder["birthplace"].ljust(6, "0")
    first17 = f"{birthplace}{birth:%Y%m%d}{holder['id_sequence']}"
    if int(holder["id_sequence"]) % 2 != holder["sex"] % 2:
        raise ProfileError(f"personas/{name}: id_sequence {holder['id_sequence']} (odd male, even "
                           f"female, GB 11643) contradicts sex {holder['sex']}")
    region = doc["region"]
    card_identifier = bytes.fromhex(region + "D156000005" + doc["card_serial"])
    values = {
        "card_identifier": card_identifier,
        "card_type": doc.get("card_type", str(doc["generation"])),
        "spec_version": gen["spec_version"],
        "issuer_org": bytes.fromhex(doc.get("issuer_org", region + "D15600000500000001")),
        "issue_date": resolve_date(doc["issue_date"], as_of),
        "expiry_date": resolve_date(doc["expiry_date"], as_of),
        "card_number": doc["card_number"] + ssse.card_number_check(doc["card_number"]),
        "citizen_id": first17 + ssse.citizen_id_check(first17),
        "name": holder["name"],
        "name_ext": holder.get("name_ext", ""),  # record 3 exists on 2.0/3.0 cards even when empty
        "sex": str(holder["sex"]),
        "ethnicity": f"{holder['ethnicity']:02d}",
        "birthplace": holder["birthplace"],
        "birth_date": birth,
    }
    pin = doc.get("pin", {})
    pin_policy = ssse_profile["pin"]
    return Persona(
        name=name,
        description=doc["description"],
        generation=doc["generation"],
        values=values,
        pin=pin.get("value", pin_policy["default"]),
        pin_tries=pin.get("tries_left", pin_policy["tries"]),
        locked=doc.get("application_locked", False),
        raw_records={k: bytes.fromhex(v) for k, v in doc.get("raw_records", {}).items()},
        as_of=as_of,
        applications=tuple(doc.get("applications", DEFAULT_APPLICATIONS[doc["generation"]])),
        sections={app: doc[app] for app in APPLICATION_MODULES if app in doc},
    )


def atr_for(values: dict[str, Any], card_profile: dict) -> bytes:
    """ATR = prefix ‖ historical bytes from the profile's template (modelled)."""
    spec = card_profile["atr"]
    historical = spec["historical_template"].format(
        region=values["card_identifier"][:3].hex().upper(),
        serial_tail=values["card_identifier"][-5:].hex().upper(),
    )
    atr = bytes.fromhex(spec["prefix"] + historical)
    if len(atr) - 4 != atr[1] & 0x0F:
        raise ProfileError(f"card.yaml atr: T0 announces {atr[1] & 0x0F} historical bytes, "
                           f"the template gives {len(atr) - 4}")
    return atr


def ppse(entries: list[bytes]) -> DF:
    """The PPSE DF listing the contactless applications' directory entries in its FCI."""
    directory = b"".join(entries)
    return DF("PPSE", PPSE_FID, f"3F00/{PPSE_FID:04X}", PPSE_NAME, fci_proprietary=tlv(0xBF0C, directory))


def image(name: str, *, as_of: date, profile: Profile | None = None) -> CardImage:
    """The card image of persona `name` of `profile` (the national profile by default) as
    personalised on `as_of`."""
    profile = profile or national()
    return image_of(resolve(name, as_of=as_of, profile=profile), profile)


def image_of(persona: Persona, profile: Profile | None = None) -> CardImage:
    """The card image of a resolved persona (one from a file, or one made of what a card reports),
    its applications laid out by `profile` (the national profile by default)."""
    profile = profile or national()
    name = persona.name
    card_profile = profile["card"]
    builds: list[AppBuild] = [
        importlib.import_module(APPLICATION_MODULES[app]).build_for(persona, profile) for app in persona.applications
    ]
    entries = [b.ppse_entry for b in builds if b.ppse_entry]
    dfs = tuple(b.df for b in builds) + ((ppse(entries),) if entries else ())
    contents: dict[str, bytes] = {}
    for build in builds:
        contents.update(build.contents)
    return CardImage(
        atr=atr_for(persona.values, card_profile),
        tree=FileTree(DF("MF", 0x3F00, "3F00", None, dfs)),
        applications={b.application.path: b.application for b in builds if b.application},
        contents=contents,
        page_size=card_profile["nvm"]["page_size"],
        origin={"persona": name, "as_of": persona.as_of.isoformat(), "generation": str(persona.generation),
                "applications": ",".join(persona.applications)},
    )


def chip_identifiers(persona: Persona, profile: Profile | None = None) -> tuple[str, str]:
    """What terminals read from this card's chip, as the platform registers and lists it: 卡识别码
    (EF05) and the purse's application serial (0x15, derived from it by `profile`'s purse identity,
    the national profile's by default), upper-case hex."""
    card_id = persona.values["card_identifier"]
    purse_profile = (profile or national())["epurse"]
    return card_id.hex().upper(), epurse.identity(card_id[:3].hex(), card_id[-8:], purse_profile)[1].hex().upper()

