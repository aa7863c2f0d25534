"""The suite's own reading of the profile: what a terminal must charge, grant and record, and how
long it may take, computed from the tables of terminals.yaml and timing.yaml of the run's profile
by this small code (`Oracle(profile)`, the terminal suite's `oracle` fixture).

It never calls or copies the reference terminals (simulator/devices): a misreading of the profile
shared by the reference and the suite would otherwise certify every terminal that shares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from simulator.divisions import within_any
from simulator.profile import Profile, ProfileError

#: ICS terminal kind -> its key in terminals.yaml `minimisation` (the profile keys gates by family)
MINIMISATION_KEYS = {"gate_entry": "gate", "gate_exit": "gate"}


@dataclass(frozen=True)
class RecordRule:
    """The decision-record fields and evidence keys a terminal kind may use (TERM-PRIV-004)."""

    fields: frozenset[str]
    evidence: frozenset[str]

    def unpermitted(self, record: dict) -> list[str]:
        """The fields and `evidence.` keys of `record` beyond the rule, by name only (never values)."""
        extra = [name for name in record if name not in self.fields]
        evidence = record.get("evidence")
        if isinstance(evidence, dict):
            extra += [f"evidence.{key}" for key in evidence if key not in self.evidence]
        return extra


@dataclass(frozen=True)
class TimeLimit:
    ms: float
    scope: str
    source: str


class Oracle:
    """What the run's profile requires of a terminal, read by the suite itself."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        #: the terminals document: tariffs, concessions, entitlement, what a kind may record
        self.terminals = profile["terminals"]

    # -- fares, concessions, entitlement --------------------------------------------------------
    def metro_fare(self, entry: str, exit_: str) -> int:
        """The distance fare between two stations (terminals.yaml `metro`): the fare of the shortest
        band whose distance covers the journey; past the table, the longest band's fare plus
        `beyond.fare` for every `beyond.step_km` begun; never more than `max_single_fare`."""
        metro = self.terminals["metro"]
        km = abs(metro["stations"][exit_] - metro["stations"][entry])
        bands = sorted(metro["fare_table"], key=lambda band: band["km"])
        covering = [band["fare"] for band in bands if km <= band["km"]]
        if covering:
            fare = covering[0]
        else:
            longest = bands[-1]
            beyond = metro["beyond"]
            fare = longest["fare"] + ceil((km - longest["km"]) / beyond["step_km"]) * beyond["fare"]
        return min(fare, self.terminals["max_single_fare"])

    def concession_percent(self, card_type: str) -> int:
        """Percentage of the fare a purse card type pays (terminals.yaml `concessions`; 100 when unlisted)."""
        return self.terminals["concessions"]["by_card_type"].get(card_type, 100)

    def resident(self, division: str) -> bool:
        """Whether a card issued in `division` gets the concessions (terminals.yaml `residency`): any
        card where they are not for residents only; else one issued within the run's region
        (region.yaml `division_codes`) or a division the rule recognises (SC-XR-001)."""
        rule = self.terminals["residency"]
        if not rule["local_concessions"]:
            return True
        home = self.profile.region_document["division_codes"] if self.profile.region_document else []
        return within_any(division, [*home, *rule["recognised"]])

    def concession_fare(self, fare: int, card_type: str, division: str) -> int:
        """What a card of `card_type` issued in `division` pays for `fare`: its percentage rounded down
        to the fen (TERM-CONC-001), the full fare for a card the concessions are not for (SC-XR-001)."""
        return fare * self.concession_percent(card_type) // 100 if self.resident(division) else fare

    def free_from_age(self, division: str) -> int:
        """The age of free scenic entry for a card issued in `division` (its 6-digit division code):
        the region's `scenic.local_residents` age for a division of the run's region (region.yaml
        `division_codes`), else `scenic.free_from_age`."""
        rule = self.terminals["scenic"]
        divisions = (self.profile.region_document or {}).get("division_codes", [])
        return rule.get("local_residents", rule)["free_from_age"] if division in divisions else rule["free_from_age"]

    def entitled(self, age: int, division: str) -> bool:
        """Free scenic entry by age on the day of the visit for a card issued in `division`
        (terminals.yaml `scenic`)."""
        return age >= self.free_from_age(division) or age < self.terminals["scenic"]["free_below_age"]

    # -- what a terminal may read and record ----------------------------------------------------
    def minimisation(self, kind: str) -> dict | None:
        """What a terminal of `kind` may read and record (terminals.yaml `minimisation`); None: no rule."""
        return self.terminals["minimisation"].get(MINIMISATION_KEYS.get(kind, kind))

    def record_rule(self, kind: str) -> RecordRule:
        """What a decision record of a `kind` terminal may hold: terminals.yaml `decision_record`
        fields, and as evidence the kind's `decision_evidence` (every declared key for a kind with
        no rule)."""
        declared = self.terminals["decision_record"]
        rule = self.minimisation(kind)
        evidence = set(declared["evidence"]) if rule is None else set(rule["decision_evidence"])
        undeclared = evidence - set(declared["evidence"])
        if undeclared:
            raise ProfileError(f"terminals.yaml minimisation.{MINIMISATION_KEYS.get(kind, kind)}."
                               f"decision_evidence names {sorted(undeclared)}, which decision_record.evidence "
                               f"does not declare")
        return RecordRule(frozenset(declared["fields"]), frozenset(evidence))

    # -- time -----------------------------------------------------------------------------------
    def purchase_limit(self) -> TimeLimit:
        """The time one purchase may take (timing.yaml `limits.purchase`)."""
        entry = self.profile["timing"]["limits"]["purchase"]
        return TimeLimit(float(entry["max_ms"]), entry["scope"], entry["source"])

    # -- e-codes --------------------------------------------------------------------------------
    def code_reason(self, outcome: str) -> str:
        """The decision reason a terminal gives a code whose outcome is `outcome` (a verdict of the
        e-code's verification, terminals.yaml `ecode.verdicts`: valid, replayed, expired, ...)."""
        return self.terminals["ecode"]["verdicts"][outcome]

    def code_kinds(self, kind: str) -> tuple[str, ...]:
        """The e-code kinds a terminal of `kind` admits (terminals.yaml `ecode.admits`)."""
        return tuple(self.terminals["ecode"]["admits"].get(kind, ()))

    def code_fare(self, kind: str) -> int:
        """What a terminal of `kind` records as the fare of an admission by code: a bus its flat fare,
        capped at `max_single_fare` (charged later by the back-end); others nothing."""
        return min(self.terminals["bus"]["flat_fare"], self.terminals["max_single_fare"]) if kind == "bus" else 0

    # -- consumption vouchers -------------------------------------------------------------------
    def voucher_categories(self, merchant_category: str, *, allowed: bool) -> tuple[str, ...]:
        """The voucher categories (terminals.yaml `vouchers`) that may (`allowed`) or may not be
        spent at a merchant of `merchant_category` (ISO 18245)."""
        categories = self.terminals["vouchers"]["categories"]
        return tuple(sorted(name for name, rule in categories.items()
                            if (merchant_category in rule["merchant_categories"]) == allowed))
