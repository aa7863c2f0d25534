"""Full-logic fidelity: each person's card is a real card OS personalised from their persona, each
server a reference terminal with its own PSAM, and the terminal's presentation steps (APDU
exchanges on the card link, PSAM calls, back-end requests) are put on the world's clock one by one.

A holder whose carrier is not the contactless card (e-code, QuickPass, contact card) has no
reference terminal here yet and is served by the sampled fidelity: a full-logic site mixes the two.
The terminals read the world's time (`START` + `env.now`), so validity dates and recovery windows
follow simulated time. Money is taken from the card's own state: the balance the purse lost is
what the holder paid, `Decision.debited` what the terminal recorded.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import simpy

from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.card.image import CardImage
from simulator.clock import AS_OF, START
from simulator.devices.psam import psam_image
from simulator.devices.scenic import ScenicGate
from simulator.devices.steps import Steps, advance, answer
from simulator.devices.terminal import Terminal, certification_blacklist
from simulator.devices.transit import BusValidator, MetroGate
from simulator.profile import Profile, national
from simulator.transport import InProcessTransport
from simulator.world.backends import OK, Backend
from simulator.world.site import Holder, Service, Site, draw_sum, sampled_service

CARD_CARRIER = "contactless_card"
ORIGIN_STATION, EXIT_STATION = "0101", "0105"


def _psam(number: int, profile: Profile) -> InProcessTransport:
    return InProcessTransport(CardOS(psam_image(terminal_id=number.to_bytes(6, "big"), psam_profile=profile["psam"],
                                                purse_profile=profile["epurse"])))


@dataclass(frozen=True)
class Reference:
    """How to build a site's reference terminal `index` of a profile (`build(index, profile, **kw)`),
    and what a card needs before it meets one (an exit gate's card entered at another station first)."""

    build: Callable[..., Terminal]
    prepare: Callable[[Callable[[], datetime], Profile], Callable[[InProcessTransport], None]] | None = None


def _entered_elsewhere(clock: Callable[[], datetime], profile: Profile) -> Callable[[InProcessTransport], None]:
    """Cards reach an exit gate with the journey an entry gate at the origin station opened."""
    origin = MetroGate(terminal_id="G9999", station=ORIGIN_STATION, direction="entry", psam=_psam(9999, profile),
                       clock=clock, blacklist=frozenset(), timers=None, profile=profile)

    def enter(card: InProcessTransport) -> None:
        origin.present(card)

    return enter


#: the terminals of national/world.yaml that have a reference implementation
REFERENCES: dict[str, Reference] = {
    "metro_entry_gate": Reference(lambda index, profile, **kw: MetroGate(
        terminal_id=f"G{index:04d}", station=ORIGIN_STATION, direction="entry", psam=_psam(0x0100 + index, profile),
        profile=profile, **kw)),
    "metro_exit_gate": Reference(lambda index, profile, **kw: MetroGate(
        terminal_id=f"G{index:04d}", station=EXIT_STATION, direction="exit", psam=_psam(0x0500 + index, profile),
        profile=profile, **kw),
        prepare=_entered_elsewhere),
    "bus_validator": Reference(lambda index, profile, **kw: BusValidator(
        terminal_id=f"B{index:04d}", psam=_psam(0x0200 + index, profile), profile=profile, **kw)),
    "scenic_gate": Reference(lambda index, profile, **kw: ScenicGate(terminal_id=f"S{index:04d}", profile=profile,
                                                                     **kw)),
}


def card_of(persona: str, rng: random.Random, *, profile: Profile | None = None,
            images: dict[str, CardImage] | None = None) -> CardOS:
    """A fresh card of `persona` of `profile` (the national one by default), drawing its randoms
    from `rng`; `images` keeps each persona's image once built (a site's service keeps its own)."""
    images = {} if images is None else images
    if persona not in images:
        images[persona] = personas.image(persona, as_of=AS_OF, profile=profile or national())
    return CardOS(images[persona], rng=random.Random(rng.getrandbits(64)))


def purse_balance(card: CardOS) -> int:
    """The card's purse balance in fen from its own memory (0 for a card without a purse)."""
    app = next((a for a in card.image.applications.values() if a.kind == "epurse"), None)
    if app is None:
        return 0
    return int.from_bytes(card.nvm[epurse.balance_key(app.path)], "big", signed=True)


class BackendFailure(ConnectionError):
    """Thrown into a terminal's flow when the world's back-end did not answer its request."""


def timed(env: simpy.Environment, steps: Steps, backend: Backend | None):
    """The world's runner of a presentation: each step's modelled time on the clock; a back-end
    step answered after the back-end's round trip, or failed with `BackendFailure`."""
    step, decision = advance(steps)
    while step is not None:
        if step.seconds:
            yield env.timeout(step.seconds)
        reply = None, None
        if step.call is not None:
            outcome = OK if backend is None else (yield from backend.call())
            reply = answer(step) if outcome == OK else (None, BackendFailure(f"{backend.name}: {outcome}"))
        step, decision = advance(steps, *reply)
    return decision


def world_clock(env: simpy.Environment) -> Callable[[], datetime]:
    return lambda: START + timedelta(seconds=env.now)


def service(env: simpy.Environment, *, terminal: str, servers: int, profile: Profile,
            backend: Backend | None = None) -> Service:
    """The full-logic service of a site whose people meet `servers` reference `terminal`s of `profile`."""
    if terminal not in REFERENCES:
        raise ValueError(f"no reference terminal for {terminal!r}; full logic exists for {sorted(REFERENCES)}")
    reference, clock = REFERENCES[terminal], world_clock(env)
    blacklist = certification_blacklist(profile)
    terminals = [reference.build(index, profile, clock=clock, blacklist=blacklist) for index in range(servers)]
    prepare = reference.prepare(clock, profile) if reference.prepare else None
    images: dict[str, CardImage] = {}

    def serve(env: simpy.Environment, site: Site, index: int, holder: Holder, rng: random.Random):
        if holder.carrier.name != CARD_CARRIER:
            return (yield from sampled_service(env, site, index, holder, rng))
        yield env.timeout(holder.carrier.present.draw(rng) + sum(d.draw(rng) for d in site.spec.before))
        card = card_of(holder.persona, rng, profile=profile, images=images)
        link = InProcessTransport(card)
        if prepare:
            prepare(link)
        before = purse_balance(card)
        decision = yield from timed(env, terminals[index].presentation(link), backend)
        yield env.timeout(draw_sum(holder.after, rng))
        return decision.reason, before - purse_balance(card), decision.debited, False

    return serve
