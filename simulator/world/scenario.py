"""Scenarios (`profiles/scenarios/<name>.yaml`): a scenario's back-ends and sites, resolved
against the world document of the run's profile (`profiles/national/world.yaml`, a region's
overlay layered over it) into what a replication builds.

Loading validates twice: the JSON Schema (shape), then the names a scenario uses (human steps,
carriers, personas, back-ends), each error naming the scenario, the site and the bad value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator import profile as profiles
from simulator.profile import Profile
from simulator.world.arrivals import RateProfile
from simulator.world.distributions import Distribution, from_spec
from simulator.world.site import Carrier, Mix, SiteSpec


@dataclass(frozen=True)
class BackendSpec:
    name: str
    capacity: int
    latency: Distribution  # seconds
    error_rate: float
    timeout_s: float
    outages: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    bin_s: float
    backends: tuple[BackendSpec, ...]
    sites: tuple[SiteSpec, ...]
    arrivals: Mapping[str, RateProfile]  # by site name
    document: Mapping[str, Any]  # the validated YAML, echoed into results
    #: the profile it was resolved against: its full-logic sites' terminals, cards and reason codes
    profile: Profile


def load(name: str, profile: Profile) -> Scenario:
    """The scenario `name` of `profile`, resolved against it; a ProfileError listing the scenarios
    that exist for an unknown one."""
    return resolve(profile.scenario(name), profile)


def with_fidelity(document: Mapping[str, Any], fidelity: str, *, references: frozenset[str]) -> dict:
    """`document` with every site whose terminal is in `references` switched to `fidelity`
    ("sampled" or "full_logic"); the others keep theirs (no reference terminal to run)."""
    if fidelity not in ("sampled", "full_logic"):
        raise profiles.ProfileError(f"unknown fidelity {fidelity!r}; fidelities: sampled, full_logic")
    sites = [dict(s, fidelity=fidelity) if s["terminal"] in references else dict(s) for s in document["sites"]]
    return {**document, "sites": sites}


def _calls(calls: list[dict], backends: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    unknown = [c["backend"] for c in calls if c["backend"] not in backends]
    if unknown:
        raise profiles.ProfileError(f"{where}: calls unknown back-end(s) {unknown}; the scenario has "
                                    f"{sorted(backends)}")
    return tuple((c["backend"], c["policy"]) for c in calls)


def _known(names_: list[str] | Mapping[str, Any], catalogue: Mapping[str, Any], what: str, where: str) -> None:
    unknown = [n for n in names_ if n not in catalogue]
    if unknown:
        raise profiles.ProfileError(f"{where}: unknown {what} {unknown}; known: {sorted(catalogue)}")


def resolve(document: Mapping[str, Any], profile: Profile | None = None) -> Scenario:
    """A scenario document (schema-checked here) resolved against the world document of `profile`
    (the national profile by default)."""
    profile = profile or profiles.national()
    name = document.get("id", "(unnamed)")
    document = profiles.validate(document, "scenario", where=f"scenario {name}")
    world = profile["world"]
    accepted = frozenset(r for r, spec in profile["terminals"]["reasons"].items() if spec["accepted"])
    backends = document["backends"]
    human = {n: from_spec(h["spec"], where=f"world human {n}") for n, h in world["human"].items()}
    sites, arrivals = [], {}
    for s in document["sites"]:
        where = f"scenario {name} site {s['name']}"
        _known(s["before"] + s["after"], human, "human step(s)", where)
        _known(s["carriers"], world["carriers"], "carrier(s)", where)
        _known([s["terminal"]], world["terminals"], "terminal", where)
        outcomes = world["terminals"][s["terminal"]]["outcomes"]
        _known(s["personas"], outcomes, f"persona(s) (no outcome at {s['terminal']} in world.yaml)", where)
        carriers = {
            c: Carrier(
                c,
                from_spec(world["carriers"][c]["present"], where=f"{where} carrier {c}"),
                from_spec(world["carriers"][c]["device"], where=f"{where} carrier {c}"),
                _calls(world["carriers"][c]["calls"], backends, f"{where} carrier {c}"),
            )
            for c in s["carriers"]
        }
        before, after = tuple(human[n] for n in s["before"]), tuple(human[n] for n in s["after"])
        if "service" in s:  # one drawn service time stands for every human, presentation and device step
            service = from_spec(s["service"], where=f"{where} service")
            zero = from_spec({"dist": "constant", "value": 0}, where=where)
            carriers = {c: Carrier(c, service, zero, carrier.calls) for c, carrier in carriers.items()}
            before, after = (), ()
        sites.append(
            SiteSpec(
                name=s["name"],
                kind=s["kind"],
                terminal=s["terminal"],
                servers=s["servers"],
                shared=s.get("queue", "per_server") == "shared",
                full_logic=s.get("fidelity", "sampled") == "full_logic",
                balk_at=s["balk_at"],
                before=before,
                after=after,
                calls=_calls(s["calls"], backends, where),
                carriers=Mix(s["carriers"], where=f"{where} carriers"),
                carrier_by_name=carriers,
                personas=Mix(s["personas"], where=f"{where} personas"),
                reason_by_persona={p: outcomes[p] for p in s["personas"]},
                fare=s["fare"],
                accepted=accepted,
            )
        )
        arrivals[s["name"]] = RateProfile(s["arrivals"], where=f"{where} arrivals")
    if len(arrivals) != len(sites):
        raise profiles.ProfileError(f"scenario {name}: site names repeat")
    return Scenario(
        name=name,
        description=document["description"],
        duration_s=document["duration_s"],
        bin_s=document["bin_s"],
        backends=tuple(
            BackendSpec(
                n,
                b["capacity"],
                from_spec(b["latency_ms"], where=f"scenario {name} backend {n}").scaled(1e-3),
                b["error_rate"],
                b["timeout_s"],
                tuple((float(a), float(z)) for a, z in b["outages"]),
            )
            for n, b in backends.items()
        ),
        sites=tuple(sites),
        arrivals=arrivals,
        document=document,
        profile=profile,
    )
