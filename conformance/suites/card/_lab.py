"""The DUT's card role as the suite uses it: which card a test gets, and what it may do to it.

With a simulated card (`persona_choice`) every link is a fresh card of the persona the test asks
for: a test may do anything to it. A real card is one of the product's *samples* (ICS `samples`:
id, reader, purpose, persona, PIN): the one in the `--dut` reader (the sample under test) and any
other the declaration lists with its reader (several in one reader through the lab's sample
changer, `conformance.adapters.pcsc`). What a test may do to a sample:

- any sample: change what it restores before it ends: a wrong PIN or cryptogram followed by the
  right one, a PIN changed and changed back, money moved and moved back (`keeping_balance`), a
  PIN blocked and reloaded with the issuer's key (`open_blockable`);
- only a sample declared `purpose: destructive` (`open_to_destroy`): what no command gives back:
  a key blocked for good, a purse locked by APPLICATION BLOCK, electronic cash spent, a PIN
  blocked when the issuer's reload and unblock keys are not declared.

A test needing a sample the declaration does not provide is *not tested*, naming the sample a
lab would need. What only moves forward on any card: transaction counters (purse ATCs, the
qPBOC ATC) and the cyclic logs they feed (0x18, 0x1E).

Cutting the power mid-command (`tear_control`): a simulated card's fault plan, or for a card in a
reader the lab's tear rig (`--dut-info tear=`, `conformance.adapters.pcsc.TearRig`). Tests sweep the
cut over every step of a command (`sweep_tears`) and judge what the card holds after each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from conformance.evidence import attach_trace
from conformance.suites.card._host import CardLayout, Host, Pin, expect, sw_text
from conformance.suites.card._issuer import Issuer, synthetic
from conformance.verdicts import not_applicable, not_tested
from simulator.apdu import SW
from simulator.card.commands_security import encode_pin
from simulator.crypto.auth import pin_reload_mac, pin_unblock_data
from simulator.faults import FaultPlan
from simulator.profile import Profile
from simulator.transport import CardRemovedError, LinkError

#: the key of the SSSE the harness reloads (06) or unblocks (07) a PIN with, by preference
PIN_RESET_KEYS = ("ssse.06", "ssse.07")


@dataclass(frozen=True)
class Sample:
    """A card of the product the harness can reach (ICS `samples`), `reader` None for the DUT's own."""

    id: str
    reader: str | None
    destructive: bool
    persona: str | None
    pin: Pin | None

    @classmethod
    def declared(cls, entry: dict) -> Sample:
        pin = entry.get("pin")
        return cls(entry["id"], entry.get("reader"), entry.get("purpose") == "destructive", entry.get("persona"),
                   None if pin is None else Pin(pin))

    def shown(self) -> str:
        return f"sample {self.id}" + (f" in {self.reader!r}" if self.reader else "")


T = TypeVar("T")
#: the steps of one command a tear sweep tries at most (more: the rig or the card is broken)
TEAR_SWEEP_LIMIT = 256


class _SimulatedTear:
    """A simulated card's fault plan as a tear rig: step n is the n-th fault point from now."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan

    def arm(self, position: int) -> None:
        self.plan.arm(at=self.plan.total + position)

    def fired(self) -> bool:
        fired = not self.plan.armed
        self.plan.disarm()
        return fired


@dataclass(frozen=True)
class _LabTear:
    """The lab's tear rig (`conformance.adapters.pcsc.TearRig`) over one reader."""

    rig: object
    reader: str

    def arm(self, position: int) -> None:
        self.rig.arm(self.reader, position)

    def fired(self) -> bool:
        return self.rig.fired(self.reader)


class CardLab:
    """Opens traced links to the card under test (see the module's docstring for which card)."""

    def __init__(self, role, dut, declaration=None, *, profile: Profile, layout: CardLayout) -> None:
        """`profile`: the run's; `layout`: the card suite's reading of it (the `layout` fixture)."""
        self.role = role
        self.dut = dut
        self.profile, self.layout = profile, layout
        self.capabilities = frozenset(role.capabilities)  # what the card carries, not the DUT's terminals
        self.persona_choice = "persona_choice" in self.capabilities
        self.hosts: list[Host] = []
        if dut.simulated:
            self.issuer = Issuer(synthetic(profile), source="the profiles' synthetic test keys (a simulated card)",
                                 profile=profile)
        elif declaration is not None:
            self.issuer = Issuer(declaration.test_keys, source=f"ICS {declaration.path.name}", profile=profile)
        else:
            self.issuer = Issuer({}, source="no ICS (--ics)", profile=profile)
        declared = [Sample.declared(s) for s in (declaration.samples if declaration is not None else ())]
        self.declared_generation = declaration.product.get("generation") if declaration is not None else None
        here = getattr(role, "reader", None)
        main = [s for s in declared if s.reader == here] or [s for s in declared if s.reader is None][:1]
        pin = dut.settings.get("pin")
        self.main = main[0] if main else Sample("in the reader", here, False, None, None if pin is None else Pin(pin))
        self.samples = [self.main]
        if hasattr(role, "open_reader"):  # other readers; a shared one only through the lab's changer
            for sample in declared:
                shared = any(s.reader == sample.reader for s in self.samples)
                if sample is not self.main and sample.reader and (not shared or getattr(role, "changer", None)):
                    self.samples.append(sample)

    # -- links ------------------------------------------------------------------------------
    def _link(self, sample: Sample | None, persona: str) -> Host:
        if sample is None or sample.reader is None or not hasattr(self.role, "open_reader"):
            transport = self.role.open(persona)
        else:
            transport = self.role.open_reader(sample.reader, sample=sample.id)
        pin = self.facts(persona).pin if sample is None else sample.pin
        host = Host(transport, persona=persona, issuer=self.issuer, layout=self.layout, pin=pin, sample=sample,
                    declared_generation=self._generation(sample, persona))
        self.hosts.append(host)
        return host

    def _generation(self, sample: Sample | None, persona: str) -> int | None:
        """The generation the card behind a link must report (its 规范版本): a fresh card's or a
        sample's persona's, else the product's in the declaration; None when nothing states it."""
        if sample is None or sample.persona is not None:
            return self.facts(sample.persona if sample else persona).generation
        return self.declared_generation

    def open(self, persona: str | None = None) -> Host:
        """A link to a card of `persona`: a fresh one when the harness chooses, else the sample under
        test (no persona named) or a sample declared as that persona."""
        if self.persona_choice:
            return self._link(None, persona or "normal")
        if persona is None:
            return self._link(self.main, "normal")
        found = [s for s in self.samples if s.persona == persona]
        if not found:
            not_tested(f"no sample of {self.role.name} within reach is declared as the persona {persona!r}",
                       need=f"a sample personalised as the persona {persona!r}, listed in the ICS `samples` with "
                            f"its reader")
        return self._link(found[0], persona)

    def open_to_destroy(self, persona: str = "normal") -> Host:
        """A link to a card the test may leave changed for good: a fresh one of `persona` when the
        harness chooses, else a sample declared destructive (one of `persona` first)."""
        if self.persona_choice:
            return self._link(None, persona)
        found = sorted((s for s in self.samples if s.destructive), key=lambda s: s.persona != persona)
        if not found:
            not_tested(f"no sample of {self.role.name} within reach is declared destructive",
                       need="a sample the harness may leave changed for good, listed in the ICS `samples` with "
                            "its reader and `purpose: destructive`")
        return self._link(found[0], found[0].persona or persona)

    def open_blockable(self) -> Host:
        """A link to a card whose PIN (known to the harness) the test may block: a fresh one, a
        destructive sample, or the sample under test when the issuer's reload or unblock key is
        declared (then `restore_pin` gives the PIN back)."""
        if self.persona_choice:
            return self._link(None, "normal")
        found = [s for s in self.samples if s.destructive and s.pin is not None]
        if not found and self.main.pin is not None and any(self.issuer.has(k) for k in PIN_RESET_KEYS):
            found = [self.main]
        if not found:
            not_tested(f"no sample of {self.role.name} within reach may have its PIN blocked",
                       need="a sample with its PIN listed in the ICS `samples` with `purpose: destructive`, or the "
                            "issuer's PIN reload or unblock key (ssse.06, ssse.07) in the ICS `test_keys`")
        return self._link(found[0], found[0].persona or "normal")

    def open_pin_blocked(self) -> Host:
        """A link to a card whose PIN is blocked, the SSSE selected: a fresh `pin_blocked` card,
        else a card the harness may block (`open_blockable`), blocked with wrong PINs
        (`restore_pin` after)."""
        __tracebackhide__ = True
        host = self._link(None, "pin_blocked") if self.persona_choice else self.open_blockable()
        host.select_ssse()
        if self.persona_choice:
            return host
        tries = self.layout.ssse_profile["pin"]["tries"]
        for _ in range(tries):
            if host.verify(wrong_pin(host.pin)).sw == SW.AUTH_METHOD_BLOCKED:
                return host
        raise AssertionError(f"{tries} wrong PINs did not block the PIN (the profile's counter is {tries})")

    # -- what the harness knows -------------------------------------------------------------
    def declares(self, persona: str) -> bool:
        """Whether a sample within reach is declared as `persona`."""
        return any(s.persona == persona for s in self.samples)

    def facts(self, persona: str):
        """What the profile's persona file says of a card of `persona` (its values, PIN, tries):
        a card the harness chose, or a sample the declaration says was personalised as it."""
        if not self.persona_choice and not self.declares(persona):
            not_tested(f"{self.role.name} does not let the harness choose the persona {persona!r}",
                       need=self.profile["ics"]["harness_needs"]["persona_choice"])
        from simulator.card import personas
        from simulator.clock import AS_OF

        return personas.resolve(persona, as_of=AS_OF, profile=self.profile)

    # -- tearing ----------------------------------------------------------------------------
    def _tear(self, host: Host) -> _SimulatedTear | _LabTear:
        """What cuts the power of the card behind `host` (capability `tear_control`): a simulated
        card's own fault plan, or the lab's tear rig over the reader (`--dut-info tear=`)."""
        plan = getattr(getattr(host.transport, "card", None), "faults", None)
        if isinstance(plan, FaultPlan):
            return _SimulatedTear(plan)
        rig = getattr(self.role, "tear_rig", None)
        reader = getattr(host.transport, "reader", None)
        if rig is None or reader is None:
            not_tested(f"{self.role.name} does not let the harness cut its power mid-write",
                       need=self.profile["ics"]["harness_needs"]["tear_control"])
        return _LabTear(rig, reader)

    def cut_power(self, host: Host, position: int, command: Callable[[], object]) -> bool:
        """Run `command` with the card's power cut `position` steps into it (a simulated card's
        fault points, or the rig's own steps); True when the cut came (the power is back and `host`
        reconnected: a cold reset), False when the command ended before it."""
        __tracebackhide__ = True
        rig = self._tear(host)
        rig.arm(position)
        try:
            command()
        except CardRemovedError:
            if not rig.fired():
                raise  # a removal the harness did not cause: the link failed
            host.reconnect()
            return True
        if rig.fired():
            raise LinkError(f"the tear rig reports a power cut at step {position}, but the card answered the command")
        return False

    def sweep_tears(self, prepare: Callable[[], Host], command: Callable[[Host], object],
                    read: Callable[[Host], T]) -> tuple[list[T], T]:
        """Cut the power at each step of `command` in turn, each time on the card `prepare` gives,
        until the command ends before the cut: what `read` finds after each torn run, and after the
        run that ended (every step of the command covered)."""
        __tracebackhide__ = True
        torn = []
        for position in range(TEAR_SWEEP_LIMIT):
            host = prepare()
            cut = self.cut_power(host, position, lambda host=host: command(host))
            state = read(host)
            if not cut:
                if position == 0:
                    raise RuntimeError("the command passed no tear point: the card's tear control is not wired")
                return torn, state
            torn.append(state)
        raise RuntimeError(f"the power was cut at each of {TEAR_SWEEP_LIMIT} steps and the command never ended")

    @property
    def persistent(self) -> bool:
        """Whether a link reaches the same card as the one before (a real sample: the suite must
        give back what it changed); a simulated card is fresh on every link."""
        return not self.persona_choice

    # -- restoring ---------------------------------------------------------------------------
    def restore_pin(self, host: Host) -> None:
        """Give the card behind `host` its PIN and full try counter back, VERIFY with the right
        PIN, else RELOAD PIN or UNBLOCK PIN with the issuer's key (a blocked PIN)."""
        __tracebackhide__ = True
        if not self.persistent or host.pin is None:
            return
        host.reconnect()
        host.select_ssse()
        if host.pin_tries() and host.verify(host.pin).sw == SW.OK:
            return
        usable = [k for k in PIN_RESET_KEYS if self.issuer.has(k)]
        if not usable:
            return  # a destructive sample without the issuer's keys stays blocked: what it is for
        reset_pin(host, usable[0], host.pin)

    def keeping_balance(self, host: Host):
        """Fixture body: the purse selected on `host`; when the test ends, the purse's balance as
        it was before (`give_back_balance`)."""
        host.select_purse()
        before = host.balance()
        yield host
        self.give_back_balance(host, before)

    def give_back_balance(self, host: Host, before: int) -> None:
        """On a sample, bring the purse of the card behind `host` back to `before` fen by a load
        or a purchase of the difference, on a fresh link."""
        __tracebackhide__ = True
        if not self.persistent:
            return
        again = self._link(host.sample, host.persona)
        again.select_purse()
        difference = before - again.balance()
        if difference > 0:
            again.load(difference)
        elif difference < 0:
            again.purchase(-difference)
        assert again.balance() == before, (
            f"the purse could not be given back its balance ({again.balance()} fen, was {before})")

    # -- the suite's helpers -----------------------------------------------------------------
    def select_another_application(self, host: Host) -> None:
        """SELECT an application besides the SSSE that the card declares (purse, qpboc), or skip."""
        __tracebackhide__ = True
        applications = (("purse", self.layout.purse_aid), ("qpboc", self.layout.qpboc_aid))
        other = next((aid for cap, aid in applications if cap in self.capabilities), None)
        if other is None:
            not_applicable("the card declares no application besides the SSSE (capabilities purse, qpboc)")
        answer = host.select(other)
        assert answer.sw in (SW.OK, SW.FILE_DEACTIVATED), f"SELECT {other.hex().upper()} answered {sw_text(answer.sw)}"

    def attach_traces(self) -> None:
        """Attach the traces of the first two links and the last two (a test that loops over fresh
        cards fails, if it does, on the last one)."""
        shown = range(len(self.hosts)) if len(self.hosts) <= 4 else [0, 1, len(self.hosts) - 2, len(self.hosts) - 1]
        for n in shown:
            host = self.hosts[n]
            attach_trace(f"APDU trace {n + 1} of {len(self.hosts)} ({host.persona})", host.recorder.exchanges,
                         self.layout.masker)

    def close(self) -> None:
        """Disconnect every link."""
        for host in self.hosts:
            host.close()


def wrong_pin(pin: str) -> str:
    """A PIN of the same length differing from `pin` in every digit."""
    return "".join(str((int(d) + 1) % 10) for d in pin)


def reset_pin(host: Host, key: str, new: str):
    """RELOAD PIN (key ssse.06) or UNBLOCK PIN (ssse.07) to `new` with the issuer's MAC over a
    fresh challenge (the SSSE selected); asserts 9000 and the full try counter."""
    __tracebackhide__ = True
    expect(host.send(*pin_reset_command(host, key, new, host.challenge())), SW.OK,
           f"{PIN_RESET_NAMES[key]} with the issuer's MAC over a fresh challenge")


#: the PIN reset commands by the key that authorises them
PIN_RESET_NAMES = {"ssse.06": "RELOAD PIN", "ssse.07": "UNBLOCK PIN"}


def pin_reset_command(host: Host, key: str, new: str, challenge: bytes, *, spoil: bool = False) -> tuple:
    """(CLA, INS, P1, P2, data) of RELOAD PIN (`ssse.06`: 80 5E 00 00, new PIN ‖ MAC) or UNBLOCK
    PIN (`ssse.07`: 84 24 00 00, enciphered new PIN ‖ MAC) under the card's key diversified from
    the issuer's master and the card's 卡识别码; `spoil` flips a bit of the MAC."""
    __tracebackhide__ = True
    from simulator.card.apps import ssse

    kid = int(key.split(".")[1], 16)
    algorithm = host.algorithm
    assert algorithm is not None, "SELECT SSSE gave no algorithm indicator (9F0C)"
    card_key = ssse.card_key(host.issuer.document("ssse", f"{kid:02X}"), kid, host.card_identifier, algorithm)
    pin = encode_pin(new)
    if key == "ssse.06":
        header, data = (0x80, 0x5E, 0x00, 0x00), pin + pin_reload_mac(algorithm, card_key, pin, challenge)
    else:
        header, data = (0x84, 0x24, 0x00, 0x00), pin_unblock_data(algorithm, card_key, pin, challenge)
    if spoil:
        data = data[:-1] + bytes((data[-1] ^ 0x01,))
    return (*header, data)
