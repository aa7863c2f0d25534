"""A reference card personalised as another card reports itself: its replica.

The differential test (CARD-REF-001) drives a card under test and the reference card OS with the
same commands. With a simulated card both start as the same persona; a real sample is whatever
it is now (its 卡识别码, records, PIN tries, balance, counters and logs, moved by earlier runs),
so the reference is personalised from what the card answers to ordinary commands (`Report`,
read by the suite) rather than from a persona file: the persona build gives the file tree,
keys and codecs, the report every value. What a report cannot show (a key's tries, the proof of
the last transaction) starts as personalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.image import CardImage, count_key, head_key, record_key
from simulator.profile import Profile


@dataclass(frozen=True)
class Purse:
    """What the purse reports: files 0x15-0x17 as read, balance (fen, signed), overdraft limit,
    the offline and online ATC INITIALIZE names, and every record of its record files by SFI
    (newest first in a cyclic file)."""

    files: dict[int, bytes]
    balance: int
    overdraft_limit: int
    offline_atc: int
    online_atc: int
    records: dict[int, list[bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """What a card reports of itself: the SSSE's generation, element values and raw records (by
    element name), its PIN (known to the harness) and tries left, its applications and purse."""

    generation: int
    values: dict[str, Any]
    records: dict[str, bytes]
    pin: str
    pin_tries: int
    applications: tuple[str, ...]
    purse: Purse | None = None


def image(report: Report, *, as_of: date, profile: Profile) -> CardImage:
    """The card image of a card personalised as `report` says."""
    sections = {}
    if report.purse is not None:
        sections["epurse"] = {"balance": max(report.purse.balance, 0),
                              "overdraft_limit": report.purse.overdraft_limit}
    persona = personas.Persona(name="replica", description="a card as it reports itself", generation=report.generation,
                               values=dict(report.values), pin=report.pin, pin_tries=report.pin_tries, locked=False,
                               raw_records=dict(report.records), as_of=as_of, applications=report.applications,
                               sections=sections)
    built = personas.image_of(persona, profile)
    if report.purse is not None:
        built.contents.update(_purse_contents(report.purse, profile["epurse"]))
    return built


def _purse_contents(purse: Purse, purse_profile: dict) -> dict[str, bytes]:
    """The purse's NVM as the report gives it (paths as `epurse.build` lays them out)."""
    app = f"3F00/{purse_profile['application']['fid']}"
    contents = {epurse.balance_key(app): purse.balance.to_bytes(4, "big", signed=True),
                epurse.atc_key(app, "offline"): purse.offline_atc.to_bytes(2, "big"),
                epurse.atc_key(app, "online"): purse.online_atc.to_bytes(2, "big")}
    for spec in purse_profile["files"]:
        path = f"{app}/{spec['fid']}"
        if spec["sfi"] in purse.files:
            contents[path] = purse.files[spec["sfi"]]
        records = purse.records.get(spec["sfi"])
        if records is None:
            continue
        cyclic = spec["structure"] == "cyclic"
        for n, record in enumerate(records, 1):  # in a cyclic file record 1 is the newest, in the highest slot
            contents[record_key(path, len(records) - n + 1 if cyclic else n)] = record
        contents[count_key(path)] = bytes((len(records),))
        if cyclic:
            contents[head_key(path)] = bytes((len(records),))
    return contents

