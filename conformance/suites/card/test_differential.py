"""Differential test (CARD-REF-001): the card under test and the reference card OS of the same
persona, driven by the same random command sequences, must answer alike.

A simulated card and the reference start as the `normal` persona, each sequence on fresh cards.
A real sample goes on from sequence to sequence as it is, so its reference is one replica card
(`simulator.card.replica`) personalised from what the sample reports before the run (卡识别码,
generation, records, PIN tries, purse files, balance, counters and logs, read with ordinary
commands and the issuer's keys) and driven alongside it. A sequence never spends a key's last
try (no command gives a blocked key back); what it spends of the PIN and the purse is given
back when the test ends.

Hypothesis draws the sequences (from a fixed seed: the same ones every run; 30 sequences of up to 20
commands, starting in the SSSE or the purse; a command of an application only while it is
selected) and stops at the first divergence of status word or data, reporting the whole sequence
that led to it, which a vendor can replay as is. Challenges, card randoms and cryptograms differ
between two genuine cards: those are compared by status word and length, and each card's
authentication cryptogram and MAC1 is computed from its own challenge or random. The card's own
challenges and INITIALIZE randoms must be fresh: none may repeat in the whole run, across its
sequences (each a new connection) and their power cycles.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from conformance.evidence import attach_trace
from conformance.suites.card._host import DATE, PPSE_NAME, TERMINAL, TIME, CardLayout, Host, expect, sw_text
from simulator.apdu import SW, CommandAPDU, ResponseAPDU
from simulator.backend.issuer import IssuerKeys
from simulator.card import personas, replica
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.card.commands_security import encode_pin
from simulator.clock import AS_OF
from simulator.crypto import purse
from simulator.transport import InProcessTransport
from simulator.transport.base import TraceRecorder, Transport

PERSONA = "normal"
#: the sequences come from this seed, not from a digest of this file's code (which `derandomize`
#: uses), so that editing the file does not silently change which sequences run
SEED = 1
#: no shrinking: a divergence is reported with the whole sequence that led to it (shrinking a
#: stateful run costs seconds per defect; the sequence is at most 20 commands)
SETTINGS = settings(max_examples=30, stateful_step_count=20, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=False,
                    phases=(Phase.explicit, Phase.generate))


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    return CommandAPDU(cla, ins, p1, p2, data, le).to_bytes()


#: the SELECTs a sequence sends, each made for the run's layout (the applications' AIDs)
SELECTS: dict[str, Callable[[CardLayout], bytes]] = {
    "SELECT SSSE": lambda layout: apdu(0x00, 0xA4, 0x04, 0x00, layout.ssse_aid, 0),
    "SELECT purse": lambda layout: apdu(0x00, 0xA4, 0x04, 0x00, layout.purse_aid, 0),
    "SELECT PPSE": lambda layout: apdu(0x00, 0xA4, 0x04, 0x00, PPSE_NAME, 0),
    "SELECT qPBOC": lambda layout: apdu(0x00, 0xA4, 0x04, 0x00, layout.qpboc_aid, 0),
    "SELECT unknown AID": lambda layout: apdu(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("D156000005FF"), 0),
    "SELECT DF04": lambda layout: apdu(0x00, 0xA4, 0x00, 0x00, bytes.fromhex("DF04"), 0),
    "SELECT EF05": lambda layout: apdu(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("EF05")),
    "SELECT MF": lambda layout: apdu(0x00, 0xA4, 0x00, 0x00, bytes.fromhex("3F00"), 0),
}
#: which SELECT makes the SSSE's or the purse's commands worth sending
APPS = {"SELECT SSSE": "ssse", "SELECT DF04": "ssse", "SELECT EF05": "ssse", "SELECT purse": "purse"}
#: the applications most commands need come up more often
SELECT_WEIGHTS = ["SELECT SSSE"] * 3 + ["SELECT purse"] * 2 + sorted(SELECTS)
#: malformed commands; like the fuzzer's (test_apdu), none of 1 byte or of class FF, which not every
#: reader path carries to the card (vpcd takes 1 byte for a control byte, PC/SC readers keep FF)
JUNK = [bytes.fromhex(h) for h in ("00B2", "00A404000F7378", "00FE0000", "80B2012C00", "00A4040800", "00B2012D00",
                                   "0084010008", "0020000003123F", "00820A0A00")]


def _purse_keys(lab, card_id: bytes | None = None, identity: tuple[bytes, bytes] | None = None) -> dict:
    """The card's purchase key (DPK) under each purse algorithm, from its 0x15 identity (or that
    the profile gives its 卡识别码)."""
    purse_profile = lab.issuer.document("epurse", "DPK")
    issuer_id, serial = identity or epurse.identity(card_id[:3].hex(), card_id[-8:], purse_profile)
    return {alg: {"DPK": epurse.card_key(purse_profile, "DPK", issuer_id, serial, alg)}
            for alg in lab.layout.purse_algorithm_of_id.values()}


def _facts(lab) -> dict:
    """What the host knows of a fresh `normal` card: its persona's values and the issuer's keys."""
    persona = personas.resolve(PERSONA, as_of=AS_OF, profile=lab.profile)
    card_id = persona.values["card_identifier"]
    return {
        "card_id": card_id,
        "algorithm": lab.layout.ssse_profile["generations"][str(persona.generation)]["algorithm"],
        "pin": persona.pin,
        "card_type": persona.values["card_type"],
        "purse_keys": _purse_keys(lab, card_id),
    }


def _report(host: Host, capabilities: frozenset[str]) -> replica.Report:
    """What the card behind `host` reports of itself (EF06 opened with key 0A or its PIN)."""
    __tracebackhide__ = True
    host.select_ssse()
    generation = host.layout.generation_of_version.get(host.element("spec_version"), host.generation)
    tries = host.pin_tries()
    host.open_ef06(host.pin)
    values, records = {}, {}
    for name, element in host.layout.elements.items():
        answer = host.read_record(host.layout.sfi[element.file], element.record)
        if answer.sw == SW.RECORD_NOT_FOUND:
            continue
        records[name] = expect(answer, SW.OK, f"READ RECORD {element.file} {element.zh}").data
        values[name] = host.element(name, by_tag=False)
    applications = ("ssse", *(app for cap, app in (("purse", "epurse"), ("qpboc", "qpboc")) if cap in capabilities))
    if "purse" not in capabilities:
        return replica.Report(generation, values, records, host.pin, tries, applications)
    host.select_purse()
    files = {sfi: host.ok(f"READ BINARY of purse file 0x{sfi:02X}", 0x00, 0xB0, 0x80 | sfi, 0x00, le=0)
             for sfi in (0x15, 0x16, 0x17)}
    offline = expect(host.init_purchase(1), SW.OK, "INITIALIZE FOR PURCHASE of 1 fen (the offline ATC)").data
    online = expect(host.init_load(1), SW.OK, "INITIALIZE FOR LOAD of 1 fen (the online ATC)").data
    state = replica.Purse(files, host.balance(), int.from_bytes(offline[6:9], "big"),
                          int.from_bytes(offline[4:6], "big"), int.from_bytes(online[4:6], "big"),
                          {f["sfi"]: host.records(f["sfi"]) for f in host.layout.purse_profile["files"]
                           if "record_size" in f})
    return replica.Report(generation, values, records, host.pin, tries, applications, state)


class Side:
    """One of the two cards, and what the host knows of its session (challenge, INITIALIZE)."""

    def __init__(self, name: str, transport: Transport) -> None:
        self.name = name
        self.transport = transport
        self.challenge: bytes | None = None
        self.init: bytes | None = None
        self.atr = transport.connect()

    def send(self, command: bytes) -> ResponseAPDU:
        __tracebackhide__ = True
        response = self.transport.transmit(command)
        assert len(response) >= 2, f"{self.name} answered {command.hex().upper()} without a status word"
        return ResponseAPDU.parse(response)


def machine(lab, reference, facts: dict, traces: list[TraceRecorder], randoms: dict[bytes, str],
            findings: list[str]) -> type[RuleBasedStateMachine]:
    """The state machine class for one DUT card role and `reference()` (the reference card of a
    sequence), with what the host knows of the card (`facts`); `traces` keeps the last sequence's
    trace, `randoms` every challenge and INITIALIZE random the card gave in the run, and where,
    `findings` every divergence found."""
    layout: CardLayout = lab.layout
    keys = IssuerKeys(ssse_profile=lab.issuer.document("ssse", "0A", "04"))
    sequences = itertools.count(1)
    #: the tries the card has left of each key, as its last EXTERNAL AUTHENTICATE answer showed
    key_tries = {int(kid, 16): spec["tries"] for kid, spec in layout.ssse_profile["keys"].items()
                 if isinstance(spec, dict) and spec.get("tries")}

    class Differential(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            recorder = TraceRecorder()
            traces[:] = [recorder]
            self.sequence = next(sequences)
            self.steps: list[str] = []
            self.app: str | None = None  # the application both cards answered SELECT for
            self.dut = Side("the card", lab.open(PERSONA if lab.persona_choice else None).transport)
            self.dut.transport.add_tracer(recorder)
            self.ref = Side("the reference card", InProcessTransport(reference()))
            self.key_tries = key_tries if lab.persistent else dict(key_tries)
            self.check(self.dut.atr == self.ref.atr, (
                f"the card answers reset with {self.dut.atr.hex().upper()}, the reference card with "
                f"{self.ref.atr.hex().upper()}"))

        def teardown(self) -> None:
            self.dut.transport.disconnect()
            self.ref.transport.disconnect()

        # -- comparing ----------------------------------------------------------------------
        def check(self, ok: bool, finding: str) -> None:
            """Fail the sequence with `finding` unless `ok`, and keep it: Hypothesis replays a failing
            sequence to report it, which a real sample (it goes on as it is) cannot replay alike."""
            __tracebackhide__ = True
            if not ok:
                findings.append(finding)
                raise AssertionError(finding)

        def both(self, what: str, command, *, compare: str = "all") -> tuple[ResponseAPDU, ResponseAPDU]:
            """Send `command` (bytes, or a function of the side) to both cards and compare:
            `all` (status word and data), `length` (status word and data length), or `init`
            (all but the card random of an INITIALIZE answer, bytes 11-14)."""
            __tracebackhide__ = True
            self.steps.append(what)
            commands = {side.name: command(side) if callable(command) else command for side in (self.dut, self.ref)}
            got, want = self.dut.send(commands[self.dut.name]), self.ref.send(commands[self.ref.name])
            context = f"sequence: {' → '.join(self.steps)}"
            self.check(got.sw == want.sw, f"{what}: the card answered {sw_text(got.sw)}, the reference card "
                                          f"{sw_text(want.sw)} ({context})")
            if compare == "length" or (compare == "init" and len(got.data) != 15):
                self.check(len(got.data) == len(want.data),
                           f"{what}: the card answered {len(got.data)} bytes, the reference card {len(want.data)} "
                           f"({context})")
                return got, want
            masked = (got.data[:11] + got.data[15:], want.data[:11] + want.data[15:]) if compare == "init" \
                else (got.data, want.data)
            if masked[0] != masked[1]:
                shown = layout.masker.response(commands[self.dut.name], got.data + b"\x90\x00")[:-2]
                expected = layout.masker.response(commands[self.ref.name], want.data + b"\x90\x00")[:-2]
                self.check(False, f"{what}: the card answered {shown.hex().upper()}, the reference card "
                                  f"{expected.hex().upper()} ({context})")
            return got, want

        def fresh(self, what: str, value: bytes) -> None:
            """The card's random `value` must not repeat one it gave before in this run."""
            __tracebackhide__ = True
            where = f"{what} at step {len(self.steps)} of sequence {self.sequence}"
            self.check(value not in randoms, f"{where} repeats the value of {randoms.get(value)}: a card's challenges "
                                             f"and randoms must not repeat (sequence: {' → '.join(self.steps)})")
            randoms[value] = where

        # -- rules: Hypothesis tries the earlier rules and values first, so they come first ----
        @initialize(name=st.sampled_from(["SELECT SSSE", "SELECT purse"]))
        def start_in(self, name: str) -> None:
            self.select(name)

        @precondition(lambda self: self.app == "ssse")
        @rule(kind=st.sampled_from(["wrong", "right", "wrong", "query", "too short"]), times=st.integers(1, 3))
        def verify(self, kind: str, times: int) -> None:
            pin = facts["pin"]
            data = {"right": encode_pin(pin), "wrong": encode_pin(pin[::-1] + "9"), "query": b"",
                    "too short": encode_pin("123")}[kind]
            for _ in range(times):
                self.both(f"VERIFY {kind} PIN", apdu(0x00, 0x20, 0x00, 0x00, data))

        @precondition(lambda self: self.app == "ssse")
        @rule(file=st.sampled_from(["EF05", "EF06"]), by_tag=st.booleans())
        def read_file(self, file: str, by_tag: bool) -> None:
            """All records of EF05 or EF06, as a department terminal reads them."""
            for element in layout.elements.values():
                if element.file == file:
                    self.read_record(layout.sfi[file], element.tag if by_tag else element.record, by_tag, 0)

        @precondition(lambda self: self.app == "ssse")
        @rule(kid=st.sampled_from([0x0A, 0x04]), right=st.sampled_from([True, False]), fresh=st.booleans())
        def external_authenticate(self, kid: int, right: bool, fresh: bool) -> None:
            if fresh:
                self.get_challenge(8)
            right = right or self.key_tries[kid] <= 1  # never the last try: nothing unblocks a key

            def command(side: Side) -> bytes:
                challenge = side.challenge or bytes(8)
                side.challenge = None
                cryptogram = keys.external_auth(kid, facts["card_id"], facts["algorithm"], challenge)
                if not right:
                    cryptogram = bytes((cryptogram[0] ^ 0x5A,)) + cryptogram[1:]
                return apdu(0x00, 0x82, 0x00, kid, cryptogram)

            got, _ = self.both(f"EXTERNAL AUTHENTICATE key {kid:02X} ({'right' if right else 'wrong'} cryptogram)",
                               command)
            if got.sw == SW.OK or got.sw & 0xFFF0 == 0x63C0:
                full = layout.ssse_profile["keys"][f"{kid:02X}"]["tries"]
                self.key_tries[kid] = full if got.sw == SW.OK else got.sw & 0x0F

        @precondition(lambda self: self.app == "purse")
        @rule(amount=st.sampled_from([1, 150]), right=st.sampled_from([True, False]))
        def purchase(self, amount: int, right: bool) -> None:
            self.init_purchase(amount, 1)
            self.debit(right)

        @precondition(lambda self: self.app == "purse")
        @rule(amount=st.sampled_from([1, 0, 150, 5000, 5001]), index=st.sampled_from([1, 1, 2]))
        def init_purchase(self, amount: int, index: int) -> None:
            data = bytes((index,)) + amount.to_bytes(4, "big") + TERMINAL
            got, want = self.both(f"INITIALIZE FOR PURCHASE {amount} fen key {index}",
                                  apdu(0x80, 0x50, 0x01, 0x02, data, 0x0F), compare="init")
            if got.sw == 0x9000:
                self.fresh("the INITIALIZE random", got.data[11:15])
                self.dut.init, self.ref.init = (got.data, amount), (want.data, amount)

        @precondition(lambda self: self.app == "purse")
        @rule(right=st.sampled_from([True, False]))
        def debit(self, right: bool) -> None:
            def command(side: Side) -> bytes:
                serial4, mac1 = bytes.fromhex("00000001"), bytes(4)
                if side.init is not None and side.init[0][10] in layout.purse_algorithm_of_id:
                    init, amount = side.init
                    algorithm = layout.purse_algorithm_of_id[init[10]]
                    dpk = facts["purse_keys"][algorithm]["DPK"]
                    session = purse.purchase_session_key(dpk, init[11:15], init[4:6], serial4, algorithm=algorithm)
                    mac1 = purse.purchase_mac1(session, amount, layout.purchase, TERMINAL, DATE, TIME,
                                               algorithm=algorithm)
                if not right:
                    mac1 = bytes((mac1[0] ^ 0x01,)) + mac1[1:]
                return apdu(0x80, 0x54, 0x01, 0x00, serial4 + DATE + TIME + mac1, 0x08)

            self.both(f"DEBIT FOR PURCHASE ({'right' if right else 'wrong'} MAC1)", command, compare="length")

        @precondition(lambda self: self.app == "purse")
        @rule(p1=st.sampled_from([0, 1, 2]))
        def get_balance(self, p1: int) -> None:
            self.both(f"GET BALANCE P1={p1:02X}", apdu(0x80, 0x5C, p1, 0x02, le=4))

        @precondition(lambda self: self.app == "purse")
        @rule(sfi=st.sampled_from([0x15, 0x16, 0x17, 0x18]), offset=st.sampled_from([0, 10, 60]),
              le=st.sampled_from([4, 0, None]))
        def read_binary(self, sfi: int, offset: int, le: int | None) -> None:
            self.both(f"READ BINARY SFI {sfi:02X} offset {offset} Le={le}", apdu(0x00, 0xB0, 0x80 | sfi, offset, le=le))

        @precondition(lambda self: self.app == "ssse")
        @rule()
        def update_card_type(self) -> None:
            record = b"\x02\x01" + facts["card_type"].encode("ascii")
            self.both("UPDATE RECORD EF05 卡类别 (same value)", apdu(0x00, 0xDC, 0x02, 5 << 3 | 0b100, record))

        @rule(sfi=st.sampled_from([5, 6, 0x18, 0, 0x0F]), p1=st.integers(0, 9), by_tag=st.booleans(),
              le=st.sampled_from([0, 5, None]))
        def read_record(self, sfi: int, p1: int, by_tag: bool, le: int | None) -> None:
            p2 = sfi << 3 | (0b000 if by_tag else 0b100)
            self.both(f"READ RECORD SFI {sfi:02X} {'tag' if by_tag else 'record'} {p1} Le={le}",
                      apdu(0x00, 0xB2, p1, p2, le=le))

        @rule(name=st.sampled_from(SELECT_WEIGHTS))
        def select(self, name: str) -> None:
            got, _ = self.both(name, SELECTS[name](layout))
            if got.sw == 0x9000:
                self.app = APPS.get(name, "other")

        @rule(le=st.sampled_from([8, 4, 5]))
        def get_challenge(self, le: int) -> None:
            got, want = self.both(f"GET CHALLENGE Le={le}", apdu(0x00, 0x84, 0x00, 0x00, le=le), compare="length")
            if got.sw == 0x9000:
                self.fresh("the challenge", got.data)
            self.dut.challenge, self.ref.challenge = (got.data, want.data) if got.sw == 0x9000 else (None, None)

        @rule(then=st.sampled_from(["SELECT SSSE", "SELECT purse", ""]))
        def power_cycle(self, then: str) -> None:
            """Power down and up (a cold reset), then SELECT an application again."""
            self.steps.append("power cycle")
            for side in (self.dut, self.ref):
                side.atr = side.transport.connect()
            self.app = None
            self.check(self.dut.atr == self.ref.atr, f"after a power cycle the card answers reset with "
                                                     f"{self.dut.atr.hex().upper()}, the reference card otherwise")
            if then:
                self.select(then)

        @rule(junk=st.one_of(st.sampled_from(JUNK), st.binary(min_size=2, max_size=9).filter(lambda b: b[0] != 0xFF)))
        def malformed(self, junk: bytes) -> None:
            self.both(f"junk {junk.hex().upper() or '(empty)'}", junk)

    return seed(SEED)(Differential)


def _replica(card) -> tuple[CardOS, dict, Host, replica.Report]:
    """The sample's replica card, what the host knows of the sample, the link it was read on and
    the sample's report."""
    __tracebackhide__ = True
    host = card.open()
    report = _report(host, card.capabilities)
    facts = {"card_id": report.values["card_identifier"],
             "algorithm": card.layout.ssse_profile["generations"][str(report.generation)]["algorithm"], "pin": host.pin,
             "card_type": report.values["card_type"],
             "purse_keys": _purse_keys(card, identity=host.purse_identity) if report.purse else {}}
    return CardOS(replica.image(report, as_of=AS_OF, profile=card.profile)), facts, host, report


@pytest.mark.clause("CARD-REF-001")
def test_the_card_answers_as_the_reference_card_to_any_sequence(card):
    card.issuer.require("ssse.0A", "ssse.04", *(["epurse.DPK"] if "purse" in card.capabilities else []))
    traces: list[TraceRecorder] = []
    findings: list[str] = []
    host = report = None
    if card.persistent:
        twin, facts, host, report = _replica(card)
        state_machine = machine(card, lambda: twin, facts, traces, {}, findings)
    else:
        reference = personas.image(PERSONA, as_of=AS_OF, profile=card.profile)
        state_machine = machine(card, lambda: CardOS(reference), _facts(card), traces, {}, findings)
    try:
        run_state_machine_as_test(state_machine, settings=SETTINGS)
    except HypothesisException as exc:  # the replay of a failing sequence on a sample that went on
        if not findings:
            raise
        raise AssertionError(findings[0]) from exc
    finally:
        if traces:
            attach_trace("APDU trace of the last sequence (the shrunk divergence, if any)", traces[0].exchanges,
                         card.layout.masker)
        if host is not None:  # a sample: its PIN and its money back
            card.restore_pin(host)
            if report.purse is not None:
                card.give_back_balance(host, report.purse.balance)
