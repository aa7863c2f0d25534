"""What the terminal suite shares: the harness's own cards, showing them to a terminal under test,
and reading what happened from the decision record, the card-side APDU trace and the card itself.

The suite certifies a terminal through the `terminals` role only (`present(card)` ->
`Presentation(decision, trace, timeline)`, `advance(seconds)`): it works the same for the
reference terminals in-process and for a terminal in another process behind vpcd or the HTTP
relay. The cards are always the harness's own virtual cards (`CardOS`), so the harness judges
money by reading the card's NVM: what the card holds, not what the terminal says it did.

Every presentation (`show`) is judged twice besides what its test asks: the money an accepted
decision claims against what the card lost (TERM-MONEY-001), and the decision record's fields
against what the terminal's kind may record (TERM-PRIV-004). Those findings fail the test under
their own clause after the test's own judgement (conftest.py), and the record is masked by field
name before it is attached or handed to the test, so no assertion can print a holder's data.

What depends on the run's profile (the harness's cards, the applications' AIDs, the suite's oracle,
the reference entry gate) is a `Harness` (the suite's `harness` fixture); the rest, reading traces
and cards, is plain functions here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from conformance.adapters.sim import REFERENCE_TERMINALS
from conformance.dut import Presentation
from conformance.evidence import attach_decision, attach_json, attach_trace
from conformance.verdicts import not_applicable, not_tested
from simulator.apdu import SW
from simulator.backend.vouchers import VoucherService
from simulator.card import personas
from simulator.card.apps import epurse, qpboc, ssse
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF, Clock
from simulator.faults import FaultPlan
from simulator.privacy import TraceMasker
from simulator.profile import Profile
from simulator.tlv import parse_tlv
from simulator.transport import InProcessTransport
from simulator.transport.base import Exchange

from ._timing import real_card
from .oracle import Oracle

PPSE = b"2PAY.SYS.DDF01"
UNIONPAY_RID = bytes.fromhex("A000000333")  # transit-payment.md §2 AIDs [V]
#: SW of a SELECT that reaches a locked application: the purse's 9303, the SSSE's and qPBOC's 6283
LOCKED_SWS = frozenset((0x9303, 0x6283))
#: capability -> the application family a terminal declaring it works with
FAMILIES = {"purse": "purse", "ssse_identity": "ssse", "qpboc": "qpboc"}
#: application family -> the `Money` balance its terminals report as balance_after (none: no balance)
BALANCES = {"purse": "purse", "qpboc": "ec"}
MONEY_CLAUSE, RECORD_CLAUSE = "TERM-MONEY-001", "TERM-PRIV-004"


class HarnessError(RuntimeError):
    """The harness's own reference device or card misbehaved: the verdict is *broken*, never *fail*."""


class Finding(AssertionError):
    """A judgement of the harness under a clause that need not be the test's own: a check every
    presentation gets. The plugin reports the verdict under `yikatong_clause`."""

    def __init__(self, clause: str, message: str) -> None:
        super().__init__(f"{clause}: {message}")
        self.yikatong_clause = clause


#: findings of the running test's presentations, raised after its own judgement (`settle`)
_findings: list[Finding] = []


def forget_findings() -> None:
    _findings.clear()


def settle() -> None:
    """Raise the first finding of the test's presentations, if any (its own assertions passed)."""
    found = _findings[:1]
    _findings.clear()
    if found:
        raise found[0]


def _family_of(terminal) -> str | None:
    return next((name for capability, name in FAMILIES.items() if capability in terminal.capabilities), None)


def family(terminal) -> str:
    """The application family the terminal works with: purse, ssse or qpboc (by its capabilities)."""
    name = _family_of(terminal)
    if name is None:
        not_applicable(f"{terminal.name} declares none of {', '.join(FAMILIES)}")
    return name


def _app(c: CardOS, kind: str):
    return next((a for a in c.image.applications.values() if a.kind == kind), None)


@dataclass(frozen=True)
class Money:
    """The value a card holds, read from its NVM (None: the card has no such application)."""

    purse: int | None  # fen, signed (negative = overdraft used)
    purchases: int | None  # the purse's offline ATC: one per committed purchase
    ec: int | None  # qPBOC electronic cash, fen


def money(c: CardOS) -> Money:
    purse, fin = _app(c, epurse.KIND), _app(c, qpboc.KIND)
    return Money(
        purse=int.from_bytes(c.nvm[epurse.balance_key(purse.path)], "big", signed=True) if purse else None,
        purchases=int.from_bytes(c.nvm[epurse.atc_key(purse.path, "offline")], "big") if purse else None,
        ec=qpboc.amount_of(c.nvm[qpboc.ec_balance_key(fin.path)]) if fin else None,
    )


def arm_tear(c: CardOS, point: str) -> FaultPlan:
    """Cut the card's power at the first `point` from now on (counting starts afresh)."""
    plan = c.faults
    plan.hits.clear()
    plan.total = 0
    return plan.arm(point=point, at=0)


class _CraftedCard:
    """A harness card that changes some exchanges of the card it wraps (the card's own state, e.g.
    its NVM and fault plan, stays reachable through it)."""

    card: CardOS

    def __getattr__(self, name: str):
        return getattr(self.card, name)

    def power_up(self) -> bytes:
        return self.card.power_up()

    def power_down(self) -> None:
        self.card.power_down()

    def reset(self) -> bytes:
        return self.card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.transmit(apdu)


class ForgedDebit(_CraftedCard):
    """A card whose DEBIT answer carries a forged TAC or MAC2 (one byte flipped): a cloned or
    tampered card. The debit itself commits on the card: the money has moved."""

    def __init__(self, c: CardOS, field: str) -> None:
        if field not in ("tac", "mac2"):
            raise ValueError(f"ForgedDebit forges 'tac' or 'mac2', not {field!r}")
        self.card, self.field = c, field

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.card.transmit(apdu)
        if apdu[:2] == b"\x80\x54" and answer[-2:] == b"\x90\x00" and len(answer) >= 10:
            at = 0 if self.field == "tac" else 4  # DEBIT answers TAC 4 ‖ MAC2 4
            answer = answer[:at] + bytes([answer[at] ^ 0xFF]) + answer[at + 1:]
        return answer


class CardDecides(_CraftedCard):
    """A qPBOC card whose risk management is set to answer TC (offline) or ARQC (online) whatever
    the terminal's TTQ asks: it sees the GPO's TTQ (9F66, the PDOL's first 4 bytes) with the
    'online cryptogram required' bit (byte 2, 80) cleared or set. The cryptogram does not cover
    9F66 (QP-AC-001), so it stays genuine."""

    def __init__(self, c: CardOS, decision: str) -> None:
        if decision not in ("TC", "ARQC"):
            raise ValueError(f"CardDecides answers 'TC' or 'ARQC', not {decision!r}")
        self.card, self.decision = c, decision

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\x80\xa8" and len(apdu) > 11 and apdu[5] == 0x83:
            ttq2 = apdu[8] | 0x80 if self.decision == "ARQC" else apdu[8] & 0x7F
            apdu = apdu[:8] + bytes((ttq2,)) + apdu[9:]
        return self.card.transmit(apdu)


def _lost(before: Money, after: Money) -> int:
    """Fen the card's purse and electronic cash went down by together (negative: they went up)."""
    return sum(b - a for b, a in ((before.purse, after.purse), (before.ec, after.ec)) if b is not None)


def money_claims(terminal, shown: Presentation, before: Money, after: Money) -> list[str]:
    """What an accepted decision claims that the card's own state contradicts (TERM-MONEY-001):
    `debited` is what the card lost, `loaded` what it gained; `amount` is the money that moved
    unless the card asked to go online (ARQC: the issuer's money, not the card's);
    `balance_after`, when given, is what the card now holds."""
    decision, change = shown.decision, _lost(before, after)
    lost, gained = max(change, 0), max(-change, 0)
    wrong = []
    if decision["debited"] != lost:
        wrong.append(f"debited {decision['debited']} fen, the card lost {lost}")
    if decision["loaded"] != gained:
        wrong.append(f"loaded {decision['loaded']} fen, the card gained {gained}")
    if "ARQC" not in card_decisions(shown.trace) and decision["amount"] != abs(change):
        wrong.append(f"amount {decision['amount']} fen, the card's balance moved by {abs(change)} and the card "
                     f"never asked to go online")
    balance = BALANCES.get(_family_of(terminal) or "")
    holds = getattr(after, balance) if balance else None
    if decision["balance_after"] is not None and decision["balance_after"] != holds:
        wrong.append(f"balance after {decision['balance_after']} fen, the card holds "
                     f"{'no balance of its kind' if holds is None else f'{holds} fen'}")
    return wrong


# -- reading the card-side trace ----------------------------------------------------------------
def sw(x: Exchange) -> int:
    return int.from_bytes(x.response[-2:], "big") if len(x.response) >= 2 else -1


def body(x: Exchange) -> bytes:
    return x.response[:-2]


def command_data(command: bytes) -> bytes:
    return command[5:5 + command[4]] if len(command) > 5 else b""


@dataclass(frozen=True)
class Step:
    """One exchange and the application it addressed (the AID last selected, by name or DF FID)."""

    n: int
    command: bytes
    sw: int
    data: bytes
    app: bytes | None

    @property
    def ins(self) -> int:
        return self.command[1] if len(self.command) > 1 else -1

    @property
    def is_select(self) -> bool:
        return self.ins == 0xA4


def value_commands(trace: Iterable[Exchange]) -> list[str]:
    """INITIALIZE FOR (CAPP) PURCHASE and DEBIT commands the terminal sent, named with their answer."""
    found = []
    for x in trace:
        c = x.command
        if len(c) > 2 and c[0] & 0x80 and (c[1] == 0x54 or (c[1] == 0x50 and c[2] in (0x01, 0x03))):
            found.append(f"{'DEBIT' if c[1] == 0x54 else 'INITIALIZE FOR PURCHASE'} (answered {sw(x):04X})")
    return found


def debit_commands(trace: Iterable[Exchange]) -> list[Exchange]:
    return [x for x in trace if len(x.command) > 1 and x.command[0] & 0x80 and x.command[1] == 0x54]


def verify_commands(trace: Iterable[Exchange]) -> list[Exchange]:
    return [x for x in trace if len(x.command) > 1 and x.command[1] == 0x20]


def _constructed(tag: int) -> bool:
    return bool(tag >> (8 * ((tag.bit_length() - 1) // 8)) & 0x20)


def tlv_values(data: bytes, want: int) -> list[bytes]:
    """Values of every `want` tag at any depth of a BER-TLV answer (none when it is malformed)."""
    try:
        items = parse_tlv(data)
    except ValueError:
        return []
    found = []
    for tag, value in items:
        if tag == want:
            found.append(value)
        elif _constructed(tag):
            found += tlv_values(value, want)
    return found


def card_decisions(trace: Iterable[Exchange]) -> list[str]:
    """The card's answers to GET PROCESSING OPTIONS: TC, ARQC or AAC (CID 9F27)."""
    out = []
    for x in trace:
        if x.command[:2] == b"\x80\xa8" and sw(x) == SW.OK:
            cid = next(iter(tlv_values(body(x), 0x9F27)), b"")
            out.append({0x40: "TC", 0x80: "ARQC", 0x00: "AAC"}.get(cid[0] & 0xC0, "?") if cid else "?")
    return out


def ppse_aids(trace: Iterable[Exchange]) -> list[bytes]:
    """The AIDs the card's PPSE answer listed (4F of every 61 entry), in order."""
    for x in trace:
        if len(x.command) > 4 and x.command[1] == 0xA4 and command_data(x.command) == PPSE and sw(x) == SW.OK:
            return tlv_values(body(x), 0x4F)
    return []


def not_charged(terminal, shown: Presentation, before: Money, after: Money, what: str) -> None:
    """A refused card: refused, nothing initialised or debited, the card's value as it was."""
    decision = shown.decision
    assert not decision["accepted"], f"{terminal.name} accepted {what} (reason {decision['reason']})"
    moved = value_commands(shown.trace)
    assert not moved, f"{terminal.name} refused {what} ({decision['reason']}) but sent {', '.join(moved)} first"
    assert after == before, f"{terminal.name} refused {what} but the card's value changed: {before} -> {after}"
    assert decision["debited"] == 0, f"{terminal.name} refused {what} but records {decision['debited']} fen debited"


# -- what the run's profile decides ----------------------------------------------------------------
class Harness:
    """The harness's side of the run's profile (the suite's `harness` fixture): its cards (the
    profile's personas), the applications' AIDs and file identifiers, the suite's own reading of
    the profile (`oracle`) and the reference entry gate that opens a journey."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.oracle = Oracle(profile)
        self.masker = TraceMasker.from_profiles(profile)
        #: a real card's link and processing, whose time a presentation's judged time adds
        self.card_timing = real_card(profile)
        purse, sss = profile["epurse"]["application"], profile["ssse"]["application"]
        self.purse_aid, self.ssse_aid = bytes.fromhex(purse["aid"]), bytes.fromhex(sss["aid"])
        #: DF FID -> AID of the applications, for terminals that select a DF by its file identifier
        self.application_fids = {bytes.fromhex(purse["fid"]): self.purse_aid,
                                 bytes.fromhex(sss["fid"]): self.ssse_aid}
        elements = ssse.elements(profile["ssse"])
        self._ssse_files = {spec["sfi"]: spec["name"] for spec in profile["ssse"]["files"] if "sfi" in spec}
        self._ssse_by_record = {(e.file, e.record): name for name, e in elements.items()}
        self._ssse_by_tag = {e.tag: name for name, e in elements.items()}

    def minimisation(self, terminal) -> dict:
        """What a terminal of this kind may read and record (terminals.yaml `minimisation`)."""
        rule = self.oracle.minimisation(terminal.kind)
        if rule is None:
            not_applicable(f"terminals.yaml has no minimisation rule for kind {terminal.kind!r}")
        return rule

    # -- the harness's cards ----------------------------------------------------------------------
    def card(self, persona: str, *, overdraft_used: int = 0) -> CardOS:
        """A fresh card of `persona`, personalised on the harness's date, with `overdraft_used` fen of
        its purse's overdraft already spent: a balance below zero, as an earlier ride leaves it (no
        persona is personalised so, as no issuer would)."""
        image = personas.image(persona, as_of=AS_OF, profile=self.profile)
        if overdraft_used:
            purse = next(a for a in image.applications.values() if a.kind == epurse.KIND)
            if not 0 < overdraft_used <= purse.params["overdraft_limit"]:
                raise HarnessError(f"the {persona} card's overdraft is {purse.params['overdraft_limit']} fen; the "
                                   f"harness wanted {overdraft_used} of it used")
            image.contents[epurse.balance_key(purse.path)] = (-overdraft_used).to_bytes(4, "big", signed=True)
        return CardOS(image)

    def purse_card_type(self, persona: str) -> str:
        """The purse card type (0x16 byte 0) the persona's card carries."""
        resolved = personas.resolve(persona, as_of=AS_OF, profile=self.profile)
        return resolved.sections.get("epurse", {}).get("card_type", "01")

    def issuing_division(self, persona: str) -> str:
        """The administrative division that issued the persona's card (its region)."""
        return self.profile.persona(persona)["region"]

    def concession_card(self, persona: str) -> str:
        """A card of `persona`'s purse card type that the run's concessions are for: `persona` itself,
        or where they are for residents and its holder is not one, the region's own issue of it (a
        persona named `<place>_<persona>`, the first by name whose issuer is a resident's)."""
        if self.oracle.resident(self.issuing_division(persona)):
            return persona
        card_type = self.purse_card_type(persona)
        for name in sorted(n for n in self.profile.personas if n.endswith(f"_{persona}")):
            if self.purse_card_type(name) == card_type and self.oracle.resident(self.issuing_division(name)):
                return name
        not_tested(f"the {self.profile.label} concessions are for residents and the {persona} card is not a "
                   f"resident's", need=f"a persona <place>_{persona} of card type {card_type} issued in the region")

    def pin(self, persona: str) -> str:
        """The PIN the holder of `persona`'s card knows."""
        return personas.resolve(persona, as_of=AS_OF, profile=self.profile).pin

    def card_identifier(self, persona: str) -> str:
        """The 卡识别码 of `persona`'s card as the platform registers it (upper-case hex)."""
        return personas.chip_identifiers(personas.resolve(persona, as_of=AS_OF, profile=self.profile),
                                         self.profile)[0]

    def age(self, persona: str) -> int:
        """The holder's age in whole years on the harness's date."""
        birth = personas.resolve(persona, as_of=AS_OF, profile=self.profile).values["birth_date"]
        return AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))

    def division(self, persona: str) -> str:
        """The division code the persona's card was issued in (卡识别码's first 3 bytes, BCD)."""
        return personas.resolve(persona, as_of=AS_OF, profile=self.profile).values["card_identifier"][:3].hex()

    def financial_account(self, persona: str) -> tuple[str, bool]:
        """(PAN, activated) of the persona card's financial application: the account its bank keys
        it by, and whether the holder activated that account (the chip is the same either way)."""
        resolved = personas.resolve(persona, as_of=AS_OF, profile=self.profile)
        return qpboc.account_of(resolved, self.profile)[0], qpboc.account_activated(resolved)

    # -- showing a card ---------------------------------------------------------------------------
    def show(self, terminal, shown_card, label: str, *, after_tear: bool = False,
             present: Callable[[CardOS], Presentation] | None = None) -> Presentation:
        """Present a card to the terminal under test (`present`: how, when not by `terminal.present`,
        e.g. to pay by a voucher); attach the masked trace and decision record.

        The record is judged for what its kind may record (TERM-PRIV-004) and, when the decision is
        accepted, for the money it claims against the card's own state (TERM-MONEY-001; not for the
        presentation that settles a torn debit, `after_tear`, whose money moved in the torn one: the
        recovery tests add both up). Findings are kept for `settle`; the presentation returned
        carries the masked record.
        """
        before = money(shown_card)
        presentation = (present or terminal.present)(shown_card)
        after = money(shown_card)
        attach_trace(f"{label}: APDUs at the card", presentation.trace, self.masker)
        shown = self.recorded(terminal, presentation, label)
        attach_json(f"{label}: the card's money (read by the harness)",
                    {"before": asdict(before), "after": asdict(after)})
        decision = shown.decision
        wrong = money_claims(terminal, shown, before, after) if decision["accepted"] and not after_tear else []
        if wrong:
            _findings.append(Finding(MONEY_CLAUSE, f"{terminal.name} accepted {label} ({decision['reason']}) but "
                                                   f"its decision record contradicts the card: {'; '.join(wrong)}"))
        return shown

    def recorded(self, terminal, presentation: Presentation, label: str) -> Presentation:
        """The presentation with its decision record masked and attached; a record holding more than
        the terminal's kind may record is a finding under TERM-PRIV-004 (kept for `settle`)."""
        rule = self.oracle.record_rule(terminal.kind)
        decision = attach_decision(f"{label}: decision of {terminal.name}", presentation.decision,
                                   fields=rule.fields, evidence=rule.evidence)
        extra = rule.unpermitted(presentation.decision)
        if extra:
            _findings.append(Finding(RECORD_CLAUSE, (
                f"{terminal.name} put {', '.join(extra)} into its decision record ({label}); a {terminal.kind} "
                f"terminal may record the fields of terminals.yaml decision_record and as evidence "
                f"{', '.join(sorted(rule.evidence)) or 'nothing'} (the values are withheld from the report)")))
        return Presentation(decision, presentation.trace, presentation.timeline)

    def enter(self, c: CardOS, *, required: bool = True) -> dict:
        """Open a metro journey on the card at the reference entry gate (no blacklist: the terminal
        under test judges that). `required`: a refused entry is a harness failure (*broken*)."""
        gate = REFERENCE_TERMINALS["gate_entry"](clock=Clock(), blacklist=frozenset(), profile=self.profile)
        decision = gate.present(InProcessTransport(c)).as_dict()
        rule = self.oracle.record_rule("gate_entry")
        attach_decision("harness: entry at the reference gate", decision, fields=rule.fields,
                        evidence=rule.evidence)
        if required and not decision["accepted"]:
            raise HarnessError(f"the reference entry gate refused the harness's card: {decision['reason']}")
        return decision

    def ready(self, terminal, persona: str, *, entry_required: bool = True, overdraft_used: int = 0) -> CardOS:
        """A card of `persona` (see `card`) as a passenger brings it to this terminal: to an exit gate,
        after an entry at the reference gate (`entry_required`: a refused entry is a harness failure)."""
        c = self.card(persona, overdraft_used=overdraft_used)
        if "metro_exit" in terminal.capabilities:
            self.enter(c, required=entry_required)
        return c

    def ride(self, terminal, persona: str, label: str) -> Presentation:
        """Show a card of `persona` to the terminal as a passenger would (see `ready`)."""
        return self.show(terminal, self.ready(terminal, persona), label)

    # -- consumption vouchers ---------------------------------------------------------------------
    def voucher_service(self, terminal) -> VoucherService:
        """A fresh voucher service of the run's profile, the one the terminal under test now redeems
        through: the harness plays the service, and judges by what it holds afterwards (a terminal
        of the `sim:` path, or one served over `http:`, served the service on loopback by `PUT /vouchers`)."""
        if not hasattr(terminal, "connect_vouchers"):
            not_tested(f"{terminal.name} cannot be pointed at a voucher service the harness plays",
                       need="a control to point the POS at the harness's voucher service (sim: and http: have one)")
        service = VoucherService(profile=self.profile)
        terminal.connect_vouchers(service)
        return service

    def redeem(self, terminal, c: CardOS, label: str, *, pin: str | None) -> Presentation:
        """Show the card to pay by a voucher, the holder typing `pin` (None: nothing)."""
        return self.show(terminal, c, label, present=lambda shown: terminal.redeem_voucher(shown, pin=pin))

    # -- reading the card-side trace --------------------------------------------------------------
    def steps(self, trace: Iterable[Exchange]) -> list[Step]:
        """Each exchange with the application it addressed (the AID last selected, by name or DF FID)."""
        out, app = [], None
        for n, x in enumerate(trace, 1):
            cmd, status = x.command, sw(x)
            if len(cmd) > 4 and cmd[1] == 0xA4:
                target = app
                if cmd[2] == 0x04:
                    target = command_data(cmd)
                elif cmd[2] == 0x00 and command_data(cmd) in self.application_fids:
                    target = self.application_fids[command_data(cmd)]
                if status == SW.OK or status in LOCKED_SWS:
                    app = target
            out.append(Step(n, cmd, status, body(x), app))
        return out

    def selects_by_name(self, trace: Iterable[Exchange]) -> list[tuple[bytes, int]]:
        """(AID, SW) of every SELECT by DF name, in order."""
        return [(command_data(s.command), s.sw) for s in self.steps(trace) if s.is_select and s.command[2] == 0x04]

    def purse_reads(self, trace: Iterable[Exchange]) -> dict[int, set[int]]:
        """Purse files read by SFI while the purse was selected: SFI -> byte offsets (records: indexes)."""
        reads: dict[int, set[int]] = {}
        for s in self.steps(trace):
            if s.app != self.purse_aid or s.sw != SW.OK or len(s.command) < 4:
                continue
            if s.ins == 0xB0 and s.command[2] & 0x80:
                offset = s.command[3]
                reads.setdefault(s.command[2] & 0x1F, set()).update(range(offset, offset + len(s.data)))
            elif s.ins == 0xB2 and s.command[3] >> 3:
                reads.setdefault(s.command[3] >> 3, set()).add(s.command[2])
        return reads

    def ssse_reads(self, trace: Iterable[Exchange]) -> dict[str, int]:
        """SSSE data elements the terminal asked for (answered or not) -> the SW of the first ask."""
        asked: dict[str, int] = {}
        for s in self.steps(trace):
            if s.app != self.ssse_aid or s.ins != 0xB2 or len(s.command) < 4:
                continue
            number, sfi, mode = s.command[2], s.command[3] >> 3, s.command[3] & 0x07
            file = self._ssse_files.get(sfi)
            name = self._ssse_by_record.get((file, number)) if mode == 0b100 else self._ssse_by_tag.get(number)
            if name is None and s.sw == SW.OK and s.data:
                name = self._ssse_by_tag.get(s.data[0])  # a record carries its tag first (ssc-card.md §1)
            if name is not None:
                asked.setdefault(name, s.sw)
        return asked

    def newest_trip(self, c: CardOS) -> bytes | None:
        """Record 1 (the newest) of the purse's 0x1E trip log, read by the harness over APDUs (None:
        the log is empty)."""
        with InProcessTransport(c) as t:
            if t.send(0x00, 0xA4, 0x04, 0x00, self.purse_aid, le=0).sw != SW.OK:
                raise HarnessError("the harness could not select the purse of its own card")
            answer = t.send(0x00, 0xB2, 0x01, (0x1E << 3) | 0x04, le=0)
        return answer.data if answer.sw == SW.OK else None
