"""Device-under-test adapters: how a real or simulated device meets the suites.

A DUT plays one or more roles, and a suite only sees its role (DESIGN.md "DUT adapters"):
- `card`: a card to certify (`open(persona)` -> an unconnected Transport to it);
- `terminals`: terminals to certify by name (`present(card)` -> `Presentation`: the decision
  record and every APDU the terminal sent, recorded on the card's side whatever the transport);
- `reader`: an implementation of the unified reader interface (`call(function, *args)`);
- `department`: a department's system integrating with the platform (its callback endpoint and
  its flows, profiles/national/department_api.yaml; conformance/adapters/department.py).

`make_dut(spec)` picks the adapter from `ADAPTERS` by the spec's scheme: `sim` (the reference
devices, the embedded default; `sim:mutant=NAME` swaps in a seeded-defect device), `pcsc:<reader>`,
`vpcd:<host>:<port>`, `http:<url>`, `lib:<path>`. Any link or harness failure inside an adapter
raises `simulator.transport.LinkError` or another non-assertion error: the verdict is *broken*;
so is an AssertionError raised here or in a DUT (the plugin blames by where it was raised).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from simulator.card.interface import Card
from simulator.profile import Profile, national
from simulator.transport.base import Exchange, Transport


class CardRole(Protocol):
    name: str
    capabilities: frozenset[str]

    def open(self, persona: str) -> Transport:
        """An unconnected transport to a card in the state of `persona` (pytest.skip if impossible)."""
        ...


class DepartmentRole(Protocol):
    name: str
    capabilities: frozenset[str]
    purpose: str  # the purpose it declares to the platform (platform.yaml `purposes`)
    url: str  # its base URL: the callback endpoint is `url + "/callbacks"`

    def configure(self, *, platform_url: str, department_id: str, secret: bytes) -> None:
        """Point the department at the platform the suite plays, with the credentials it registered."""
        ...

    def notify(self, headers: dict[str, str], body: bytes) -> int:
        """Deliver one callback to the department's endpoint: the HTTP status it answered."""
        ...

    def run_flow(self, card: dict) -> dict:
        """Have the department serve the holder of `card` by its own flow: its outcome record."""
        ...

    def lend(self, card: dict, item_id: str) -> dict:
        """Have the department lend `item_id` to the holder of `card` (only departments declaring
        `lending`): its outcome record."""
        ...

    def take_back(self, item_id: str, card: dict | None = None) -> dict:
        """Have the department take `item_id` back, `card` shown or not (`lending`): its outcome record."""
        ...

    def state(self) -> dict:
        """What the department holds (read-only): cards with their status and kept fields, events applied."""
        ...


@dataclass
class Presentation:
    """What a terminal did with a card: its decision record and the APDUs it sent, with the
    harness's clock (seconds) when each of them reached the card."""

    decision: dict
    trace: list[Exchange] = field(default_factory=list)
    timeline: list[float] = field(default_factory=list)

    @property
    def commands(self) -> list[bytes]:
        return [x.command for x in self.trace]


class TerminalRole(Protocol):
    name: str
    kind: str
    capabilities: frozenset[str]

    def present(self, card: Card) -> Presentation: ...

    def present_code(self, payload: bytes) -> Presentation:
        """Show the terminal a scanned e-code (only terminals declaring `ecode`): its decision, no trace."""
        ...

    def advance(self, seconds: float) -> datetime:
        """Move the terminal's clock (only DUTs declaring `clock_control`); its time after the move."""
        ...


class ReaderRole(Protocol):
    name: str
    capabilities: frozenset[str]
    functions: frozenset[str]  # the interface functions it exports

    def insert(self, card: Card | None) -> None:
        """Put a card on the reader (None: take it away)."""
        ...

    def call(self, function: str, *args: str) -> tuple[int, str]:
        """Call a function of the unified reader interface: (return code, pOutInfo)."""
        ...


class RecordingCard:
    """Wraps a card and records every exchange a terminal makes with it, on the card's side, timed
    by the harness's `clock` (when the command reached the card; `Exchange.seconds`: how long the
    card took to answer).

    This is how the harness sees a terminal's APDUs and its transaction time whether the card sits
    in-process, behind the HTTP relay or behind vpcd: the evidence does not depend on the
    terminal's cooperation, nor its timing on the terminal's own claim.
    """

    def __init__(self, card: Card, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self.card = card
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.timeline: list[float] = []

    def power_up(self) -> bytes:
        return self.card.power_up()

    def power_down(self) -> None:
        self.card.power_down()

    def reset(self) -> bytes:
        return self.card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        reached = self.clock()
        response = self.card.transmit(apdu)  # a PowerLost (tear) propagates: the exchange never completed
        self.exchanges.append(Exchange(bytes(apdu), response, self.clock() - reached))
        self.timeline.append(reached)
        return response

    def presentation(self, decision: dict) -> Presentation:
        """The terminal's `decision` with what this card recorded."""
        return Presentation(decision, list(self.exchanges), list(self.timeline))

    def __getattr__(self, name: str):
        return getattr(self.card, name)


@dataclass
class DUT:
    """The roles a DUT plays, plus what the report says about it."""

    name: str
    card: CardRole | None = None
    terminals: dict[str, TerminalRole] = field(default_factory=dict)
    reader: ReaderRole | None = None
    department: DepartmentRole | None = None
    info: dict[str, str] = field(default_factory=dict)  # for the report: secrets masked
    settings: dict[str, str] = field(default_factory=dict)  # --dut-info as given, for the suites
    #: the project's own simulated devices (reference or mutant): they declare what their kinds may,
    #: so they need no ICS; any other DUT is certified only with one
    simulated: bool = False

    @property
    def capabilities(self) -> frozenset[str]:
        roles = [self.card, self.reader, self.department, *self.terminals.values()]
        return frozenset(c for role in roles if role is not None for c in role.capabilities)

    def identity(self) -> dict:
        """The sample's identity as measured by the harness, for the certificate: each role's own
        `identity()` (the card's ATR, a terminal's /info, the SM3 of a reader library), else its name.
        An adapter that connects lazily meets its device here, so a link error is raised here."""
        roles = {"card": self.card, "reader": self.reader, "department": self.department} | {
            f"terminal {n}": t for n, t in self.terminals.items()}
        return {"name": self.name, **{where: (role.identity() if hasattr(role, "identity") else {"name": role.name})
                                     for where, role in roles.items() if role is not None}}

    def close(self) -> None:
        for role in (self.card, self.reader, self.department, *self.terminals.values()):
            close = getattr(role, "close", None)
            if close is not None:
                close()


#: --dut-info keys whose values are secrets (a test PIN): masked wherever the DUT info is shown
SECRET_INFO = frozenset({"pin"})

#: scheme -> "module:function" building a DUT from the rest of the spec, --dut-info and the run's profile
ADAPTERS = {
    "sim": "conformance.adapters.sim:make",
    "pcsc": "conformance.adapters.pcsc:make",
    "vpcd": "conformance.adapters.vpcd:make",
    "http": "conformance.adapters.http:make",
    "lib": "conformance.adapters.lib:make",
}


def make_dut(spec: str, *, info: dict[str, str] | None = None, profile: Profile | None = None) -> DUT:
    """The DUT of `spec` for a run against `profile` (the plugin passes the run's; the national
    profile by default)."""
    scheme, _, rest = spec.partition(":")
    if scheme not in ADAPTERS:
        raise ValueError(f"unknown DUT {spec!r}; valid schemes: {', '.join(ADAPTERS)} (e.g. sim, pcsc:<reader>)")
    module, _, function = ADAPTERS[scheme].partition(":")
    dut = getattr(importlib.import_module(module), function)(rest, info=dict(info or {}), profile=profile or national())
    shown = {k: ("*" * len(v) if k in SECRET_INFO else v) for k, v in (info or {}).items()}
    dut.info = {"spec": spec, **shown, **dut.info}
    dut.settings = dict(info or {})
    return dut
