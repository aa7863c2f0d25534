"""`sim`: the built-in reference devices as the DUT (the embedded default), or one seeded-defect
mutant in place of its reference device (`sim:mutant=NAME`).

Options after the colon, comma-separated: `mutant=NAME`, `terminals=bus,gate_exit` (which
reference terminals to certify; default all kinds of ics.yaml), `department=library|hospital|subsidy`
(the reference department, default library, served over HTTP from a thread of this process: the
integration suite reaches it as it reaches a served one).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime

from conformance.adapters.department import ServedDepartment
from conformance.adapters.reader import SimReader
from conformance.dut import DUT, Presentation, RecordingCard
from simulator.backend.bank import Bank
from simulator.backend.loopback import serving
from simulator.backend.ports import AccountOpening, CardPaymentPort, PlatformPort, VoucherPort
from simulator.card import personas
from simulator.card.apps import qpboc
from simulator.card.cardos import CardOS
from simulator.card.interface import Card
from simulator.clock import AS_OF, Clock
from simulator.departments import Department
from simulator.departments.api import make_app
from simulator.departments.serve import make_department
from simulator.devices.pos import QuickPassPOS
from simulator.devices.psam import psam_image
from simulator.devices.scenic import ScenicGate
from simulator.devices.terminal import Terminal
from simulator.devices.terminal import certification_blacklist as blacklist
from simulator.devices.transit import BusValidator, MetroGate
from simulator.profile import Profile, national
from simulator.transport import InProcessTransport

#: fen in each test card's bank account when the reference bank opens it
OPENING_BALANCE = 100_000


def reference_bank(profile: Profile | None = None) -> Bank:
    """A fresh in-memory reference bank of `profile` (the national one by default) holding an
    account for the financial application of every persona card that has one and whose holder
    activated it (the bank refuses cards it holds no account for)."""
    profile = profile or national()
    bank = Bank(profile=profile)
    found = (personas.resolve(name, as_of=AS_OF, profile=profile) for name in sorted(profile.personas))
    for persona in found:
        if qpboc.KIND in persona.applications and qpboc.account_activated(persona):
            pan, pan_sequence = qpboc.account_of(persona, profile)
            bank.ledger.open_account(AccountOpening(pan, pan_sequence, OPENING_BALANCE))
    return bank


def reference_psam(terminal_id: str, profile: Profile | None = None) -> InProcessTransport:
    """A PSAM numbered `terminal_id` (hex), personalised by `profile` (the national one by default)."""
    profile = profile or national()
    return InProcessTransport(CardOS(psam_image(terminal_id=bytes.fromhex(terminal_id), psam_profile=profile["psam"],
                                                purse_profile=profile["epurse"])))


#: terminal kind -> factory(*, profile=None, clock, blacklist, ...) of the reference terminal: the
#: terminal and its PSAM follow `profile` (the national one when None)
TerminalFactory = Callable[..., Terminal]


def reference_pos(bank: Callable[[Profile | None], CardPaymentPort] = reference_bank,
                  cls: type[QuickPassPOS] = QuickPassPOS) -> TerminalFactory:
    """The factory of the reference POS (or of `cls`, a seeded-defect one), each POS it builds paying
    through the port `bank(profile)` gives (default: a fresh in-memory reference bank; `ykt terminal
    serve --bank URL`: the HTTP client of a served bank), or through `payments` when the harness
    plays the bank (`SimTerminal.connect_bank`)."""
    def build(profile=None, payments: CardPaymentPort | None = None, **kw) -> QuickPassPOS:
        return cls(terminal_id="POS0001", bank=payments or bank(profile), amount=1500,
                   rng=random.Random(20261123), profile=profile, **kw)

    return build


REFERENCE_TERMINALS: dict[str, TerminalFactory] = {
    "bus": lambda profile=None, **kw: BusValidator(terminal_id="B0001", psam=reference_psam("000000000201", profile),
                                                   profile=profile, **kw),
    "gate_entry": lambda profile=None, **kw: MetroGate(terminal_id="G0101", station="0101", direction="entry",
                                                       psam=reference_psam("000000000101", profile), profile=profile,
                                                       **kw),
    "gate_exit": lambda profile=None, **kw: MetroGate(terminal_id="G0105", station="0105", direction="exit",
                                                      psam=reference_psam("000000000105", profile), profile=profile,
                                                      **kw),
    "scenic": lambda profile=None, **kw: ScenicGate(terminal_id="S0001", profile=profile, **kw),
    "pos": reference_pos(),
}


#: `build(persona, rng, profile)`: a powered-off card of `persona` of `profile` drawing its randoms from `rng`
CardFactory = Callable[[str, random.Random], Card]


class SimCard:
    """Reference cards by persona, each a fresh card in-process.

    Each card is another sample with a random generator of its own (a real card's RNG), seeded
    from `seed`: no two cards, and so no two links, draw the same challenges (CARD-AUTH-003), and
    a run is the same every time.
    """

    name = "reference card"

    def __init__(self, build: CardFactory | None = None, *, profile: Profile, name: str = "reference card",
                 seed: int = 20261123) -> None:
        """`build`: the cards (default: the reference card of each persona of `profile`)."""
        self.build = build or (lambda persona, rng, profile: CardOS(
            personas.image(persona, as_of=AS_OF, profile=profile), rng=rng))
        self.profile = profile
        self.name = name
        self._seeds = random.Random(seed)
        self.capabilities = frozenset(profile["ics"]["card"]) | {"persona_choice", "tear_control"}

    def open(self, persona: str) -> InProcessTransport:
        return InProcessTransport(self.build(persona, random.Random(self._seeds.getrandbits(64)), self.profile))


class SimTerminal:
    """A reference (or mutant) terminal in-process; the card it is shown is recorded on the card side."""

    def __init__(self, name: str, kind: str, factory: TerminalFactory, *, profile: Profile) -> None:
        ics = profile["ics"]
        self.name, self.kind, self.profile = name, kind, profile
        self.capabilities = frozenset(ics["terminal_kinds"][kind]) | set(ics["harness_facilities"])
        self.clock = Clock()
        self.factory = factory
        #: the back-end ports the harness connected the terminal to (platform, payments, vouchers)
        self.ports: dict[str, object] = {}
        self.terminal = factory(clock=self.clock, blacklist=blacklist(profile), profile=profile)

    def connect_platform(self, port: PlatformPort | None) -> None:
        """Serve a fresh terminal (same factory, same clock) that reaches the platform through `port`
        (None: no platform): the harness plays the platform and holds it reachable or not."""
        self._connect(platform=port)

    def connect_vouchers(self, port: VoucherPort) -> None:
        """Serve a fresh POS (same factory, same clock) that redeems vouchers through `port`: the
        harness plays the voucher service and judges by what it holds afterwards."""
        self._connect(vouchers=port)

    def _connect(self, **ports) -> None:
        """Serve a fresh terminal with the ports connected so far and `ports`."""
        self.ports.update(ports)
        self.terminal = self.factory(clock=self.clock, blacklist=blacklist(self.profile), profile=self.profile,
                                     **self.ports)

    @property
    def merchant_category(self) -> str:
        """The merchant category (ISO 18245) of the POS, as a vendor declares its merchant's."""
        return self.terminal.merchant_category

    def connect_bank(self, port: CardPaymentPort | None) -> None:
        """Serve a fresh POS (same factory, same clock) that pays through `port` (None: its own
        reference bank again): the harness plays the bank and reads its books (`bank_control`)."""
        self._connect(payments=port)

    def present(self, card: Card) -> Presentation:
        return self._recorded(card, self.terminal.present)

    def redeem_voucher(self, card: Card, *, pin: str | None) -> Presentation:
        """The card pays by a voucher at the POS; `pin` is what the holder types (None: nothing)."""
        return self._recorded(card, lambda transport: self.terminal.redeem_voucher(transport, pin=pin))

    @staticmethod
    def _recorded(card: Card, present: Callable) -> Presentation:
        recorder = RecordingCard(card)
        decision = present(InProcessTransport(recorder))
        return recorder.presentation(decision.as_dict())

    def present_code(self, payload: bytes) -> Presentation:
        return Presentation(self.terminal.present_code(payload).as_dict())

    def advance(self, seconds: float) -> datetime:
        self.clock.advance(seconds)
        return self.clock()


class SimDepartment(ServedDepartment):
    """A reference (or seeded-defect) department served from a thread of this process."""

    def __init__(self, department: Department) -> None:
        self.serving = ExitStack()
        super().__init__(self.serving.enter_context(serving(make_app(department))), department.info(), timeout=60,
                         profile=department.profile)
        #: the reference department's declaration is the profile's for its kind (a library lends)
        self.capabilities = frozenset(department.profile["ics"]["reference_departments"][department.kind])

    def close(self) -> None:
        super().close()
        self.serving.close()


def _options(rest: str) -> dict[str, str]:
    options = {}
    for part in filter(None, rest.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"sim options are KEY=VALUE, got {part!r} (e.g. sim:mutant=skips_expiry)")
        options[key] = value
    unknown = set(options) - {"mutant", "terminals", "department"}
    if unknown:
        raise ValueError(f"unknown sim option(s) {sorted(unknown)}; valid: mutant, terminals, department")
    return options


def make(rest: str, *, info: dict[str, str], profile: Profile) -> DUT:
    """The reference devices (or one mutant in place of its reference device) of `profile`."""
    options = _options(rest)
    kinds = options.get("terminals", ",".join(REFERENCE_TERMINALS)).split(",")
    unknown = [k for k in kinds if k not in REFERENCE_TERMINALS]
    if unknown:
        raise ValueError(f"unknown terminal kinds {unknown}; valid: {', '.join(REFERENCE_TERMINALS)}")
    card: SimCard = SimCard(profile=profile)
    terminals = {kind: SimTerminal(kind, kind, REFERENCE_TERMINALS[kind], profile=profile) for kind in kinds}
    reader = SimReader(profile=profile)
    department = make_department(options.get("department", "library"), seed=1, profile=profile)
    name = "reference devices"
    if "mutant" in options:
        from conformance.mutants import all_mutants

        mutants = all_mutants()
        mutant = mutants.get(options["mutant"])
        if mutant is None:
            raise ValueError(f"unknown mutant {options['mutant']!r}; known: {', '.join(sorted(mutants))}")
        name = f"mutant {mutant.name}: {mutant.defect}"
        if mutant.role == "card":
            card, terminals, reader = SimCard(mutant.build, profile=profile, name=name), {}, None
        elif mutant.role == "terminal":
            card, reader = None, None
            terminals = {mutant.name: SimTerminal(mutant.name, mutant.kind, mutant.build, profile=profile)}
        elif mutant.role == "department":
            card, terminals, reader = None, {}, None
            department = make_department(mutant.kind, seed=1, cls=mutant.build, profile=profile)
        else:
            card, terminals, reader = None, {}, mutant.build(profile)
        department = department if mutant.role == "department" else None
    return DUT(name=name, card=card, terminals=terminals, reader=reader,
               department=SimDepartment(department) if department is not None else None,
               info={"dut_name": name}, simulated=True)

