"""The throughput suite's reading of the profile: which site of which scenario judges a gate of a
kind, and the THR-* limits, computed from profiles/national/throughput.yaml, the world's human
times (national/world.yaml, through the scenario) and the transaction-time limit of timing.yaml.

The persons per hour a clause asks for are derived, not written down: a gate at the limit serves a
card holder in the mean human time of the site plus the allowed transaction time (plus, under a
platform outage, the allowed platform round trips at the scenario's timeout), so a saturated gate
admits 3600 / that many persons an hour; the sustained limit is the lower of that and the design
capacity of GB 50157-2013.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.profile import Profile
from simulator.transport.timing import limits as time_limits
from simulator.world import scenario as scenarios
from simulator.world.full_logic import CARD_CARRIER
from simulator.world.measured import PLATFORM
from simulator.world.scenario import Scenario
from simulator.world.site import Mix, SiteSpec


@dataclass(frozen=True, eq=False)
class GateLimits:
    """What a gate of one kind is judged in and against."""

    #: the run's throughput document: windows, replications, confidence, the outage's calls
    throughput: dict
    kind: str
    scenario: Scenario
    outage_scenario: Scenario
    site: SiteSpec
    human_s: float  # a card holder's mean human time at the site: approach, presentation, walk through
    allowed_s: float  # the transaction time a gate may take
    allowed_source: str
    platform_timeout_s: float  # the outage scenario's: what an unanswered platform request costs
    design_pph: float

    @property
    def sustained_pph(self) -> float:
        """Persons per hour a saturated gate at the allowed transaction time admits, capped by the design capacity."""
        return min(self.design_pph, 3600 / (self.human_s + self.allowed_s))

    @property
    def outage_pph(self) -> float:
        """The same with the platform unreachable: the allowed round trips each cost its timeout."""
        calls = self.throughput["outage"]["platform_calls"]
        return 3600 / (self.human_s + self.allowed_s + calls * self.platform_timeout_s)

    @property
    def p95_wait_max_s(self) -> float:
        return float(self.throughput["design_peak"]["p95_wait_max_s"])

    def admits(self, persona: str) -> bool:
        """Whether the site's terminal must let a card of `persona` through (national/world.yaml outcomes)."""
        return self.site.reason_by_persona[persona] in self.site.accepted

    @property
    def valid(self) -> Mix:
        """The site's persona mix without the personas its terminal must refuse."""
        shares = {p: s for p, s in self.site.personas.shares.items() if self.admits(p)}
        return Mix(shares, where=f"{self.scenario.name} site {self.site.name} valid personas")

    def as_evidence(self) -> dict:
        return {"scenario": self.scenario.name, "site": self.site.name, "gates": self.site.servers,
                "card holder's mean human time_s": round(self.human_s, 4),
                "allowed transaction_s": self.allowed_s, "allowed source": self.allowed_source,
                "design capacity_pph": self.design_pph,
                "design capacity source": self.throughput["design_capacity"]["source"],
                "sustained limit_pph": round(self.sustained_pph, 1), "outage limit_pph": round(self.outage_pph, 1),
                "platform timeout_s": self.platform_timeout_s, "p95 wait limit_s": self.p95_wait_max_s}


def _site(scenario: Scenario, name: str, kind: str) -> SiteSpec:
    site = next((s for s in scenario.sites if s.name == name), None)
    if site is None or CARD_CARRIER not in site.carrier_by_name:
        raise ValueError(f"throughput.yaml: a {kind} is judged in {scenario.name} site {name!r}, which has no "
                         f"{CARD_CARRIER} holders or does not exist")
    return site


def for_kind(kind: str, profile: Profile) -> GateLimits | None:
    """The limits of a gate of `kind` in the run's `profile`; None for a kind its throughput
    document does not judge."""
    doc = profile["throughput"]
    if kind not in doc["sites"]:
        return None
    name = doc["sites"][kind]
    scenario, outage = scenarios.load(doc["scenario"], profile), scenarios.load(doc["outage_scenario"], profile)
    site = _site(scenario, name, kind)
    _site(outage, name, kind)
    card = site.carrier_by_name[CARD_CARRIER]
    human = card.present.mean + sum(d.mean for d in site.before + site.after)
    limit = time_limits(profile["timing"])[doc["sustained"]["allowed_transaction"]]
    platform = next((b for b in outage.backends if b.name == PLATFORM), None)
    if platform is None:
        raise ValueError(f"throughput.yaml: outage scenario {outage.name} has no {PLATFORM} back-end")
    return GateLimits(throughput=doc, kind=kind, scenario=scenario, outage_scenario=outage, site=site, human_s=human,
                      allowed_s=limit.seconds, allowed_source=limit.source, platform_timeout_s=platform.timeout_s,
                      design_pph=float(doc["design_capacity"]["persons_per_hour"]))
