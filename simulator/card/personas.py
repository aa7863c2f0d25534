"""Card images from a profile plus a persona (normal, expired, PIN-blocked, garbled, ...).

Persona files (`profiles/personas/*.yaml`) describe a synthetic holder and card; dates may be
relative to the build date ("+8y", "-1d") so that "expired" stays expired whatever day the tests
run, with the date injected (never read from the wall clock here). Derived identifiers are
computed, not typed: 社会保障号码 with its GB 11643 check digit, 卡号 with its check character,
卡识别码 from the region code. Every holder is fictitious.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from simulator.card.apps import ssse
from simulator.card.filesystem import DF, FileTree
from simulator.card.image import CardImage
from simulator.profile import ProfileError, load, load_persona

_RELATIVE = re.compile(r"^([+-])(\d+)([ymd])$")


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


def resolve(name: str, *, as_of: date) -> Persona:
    doc = load_persona(name)
    ssse_profile = load("national/ssse", "ssse")
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
        raise ProfileError(f"national/card atr: T0 announces {atr[1] & 0x0F} historical bytes, "
                           f"the template gives {len(atr) - 4}")
    return atr


def image(name: str, *, as_of: date) -> CardImage:
    """The card image of persona `name` as personalised on `as_of`."""
    persona = resolve(name, as_of=as_of)
    card_profile = load("national/card", "card")
    app = ssse.build(persona.values, generation=persona.generation, pin=persona.pin,
                     pin_tries=persona.pin_tries, locked=persona.locked,
                     raw_records=persona.raw_records)
    mf = DF("MF", 0x3F00, "3F00", None, (app.df,))
    return CardImage(
        atr=atr_for(persona.values, card_profile),
        tree=FileTree(mf),
        applications={app.application.path: app.application},
        contents=app.contents,
        page_size=card_profile["nvm"]["page_size"],
        locked_select_sw=int(card_profile["locked_application_select_sw"], 16),
        origin={"persona": name, "as_of": as_of.isoformat(), "generation": str(persona.generation)},
    )
