"""Properties of the card OS under any input (CARD-APDU-001) and any command sequence.

Two parts: a fuzzer sending one arbitrary byte string to a card in a prepared state (a malformed
one must get a status word the profile allows for its fault, judged by ISO/IEC 7816-4 rules in
`conformance.suites.card._malformed`, not by the card's parser), and a
small `RuleBasedStateMachine` whose model (PIN tries, verified PIN, authenticated keys, pending
challenge, record contents) predicts the status word of every command. Both derandomized, so
CI sees the same examples every run.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from card_faults import CardFaults
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conformance.suites.card._host import CardLayout
from simulator.apdu import SW, CardError, CommandAPDU, ResponseAPDU, counter_sw, describe
from simulator.card import personas
from simulator.card.apps import ssse
from simulator.card.cardos import CardOS
from simulator.card.commands import COMMANDS, KNOWN_INS
from simulator.card.image import key_tries_key, pin_key, pin_tries_key, record_key
from simulator.crypto.auth import external_auth_cryptogram, pin_reload_mac
from simulator.faults import FaultPlan
from simulator.profile import load, national

#: what may answer a malformed command, as the card suite reads the national profile
MALFORMED = CardLayout.of(national()).malformed

AS_OF = date(2026, 11, 23)
APP = "3F00/DDF1"
SSSE_AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
PROFILE = load("national/ssse", "ssse")
IMAGE = personas.image("normal", as_of=AS_OF)
PERSONA = personas.resolve("normal", as_of=AS_OF)
RIGHT_PIN = PERSONA.pin
EFS = {"EF05": 5, "EF06": 6}
PIN_TRIES, TRIES_0A, TRIES_04 = pin_tries_key(APP), key_tries_key(APP, 0x0A), key_tries_key(APP, 0x04)
#: (CLA, INS) of the commands that may write NVM.
WRITES = {(0x00, 0xD6), (0x00, 0xDC), (0x00, 0xE2), (0x00, 0x20), (0x80, 0x5E), (0x84, 0x24), (0x00, 0x82)}
#: ... and those that spend a try before comparing (63Cx / 6983 after a decrement).
SPENDS_TRY = {(0x00, 0x20), (0x80, 0x5E), (0x00, 0x82)}


def key(kid: int) -> bytes:
    return ssse.card_key(PROFILE, kid, PERSONA.values["card_identifier"], "sm4")


def bcd(digits: str) -> bytes:
    return bytes.fromhex(digits + "F" * (len(digits) % 2))


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    return CommandAPDU(cla, ins, p1, p2, data, le).to_bytes()


def known_sw(sw: int) -> bool:
    """9000, the 61xx / 6Cxx / 63Cx families, or a status word of the SW table."""
    return sw >> 8 in (0x61, 0x6C) or sw & 0xFFF0 == 0x63C0 or sw in {s.value for s in SW}


# -- one arbitrary command ------------------------------------------------------------------
def _send_ok(card: CardOS, raw: bytes) -> bytes:
    resp = ResponseAPDU.parse(card.transmit(raw))
    assert resp.sw == SW.OK, f"setup {raw.hex()} answered {resp}"
    return resp.data


def prepared_card(state: str) -> CardOS:
    """A normal card at the MF, in the SSSE (with a pending challenge), or in DF04 with the PIN
    verified, key 04 authenticated and EF15 current (so that writes can succeed)."""
    card = CardOS(IMAGE, faults=FaultPlan(), rng=random.Random(3))
    card.power_up()
    if state == "mf":
        return card
    _send_ok(card, apdu(0x00, 0xA4, 0x04, 0x00, SSSE_AID))
    if state == "df04":
        _send_ok(card, apdu(0x00, 0xA4, 0x00, 0x00, bytes.fromhex("DF04")))
        _send_ok(card, apdu(0x00, 0x20, 0x00, 0x00, bcd(RIGHT_PIN)))
        challenge = _send_ok(card, apdu(0x00, 0x84, 0x00, 0x00, le=8))
        _send_ok(card, apdu(0x00, 0x82, 0x00, 0x04, external_auth_cryptogram("sm4", key(0x04), challenge)))
        _send_ok(card, apdu(0x00, 0xA4, 0x02, 0x00, bytes.fromhex("EF15")))
    _send_ok(card, apdu(0x00, 0x84, 0x00, 0x00, le=8))  # leave a challenge pending
    return card


PARAMETERS = st.just(0x00) | st.sampled_from([0x01, 0x04, 0x0A, 0x2C, 0x34, 0x95]) | st.integers(0, 255)


@st.composite
def commands(draw) -> bytes:
    """Well-formed APDUs, mostly of commands the card knows, with arbitrary parameters."""
    if draw(st.integers(0, 3)):
        cla, ins = draw(st.sampled_from(sorted(COMMANDS)))
    else:
        cla, ins = draw(st.integers(0, 255)), draw(st.sampled_from(sorted(KNOWN_INS) + [0x00, 0xCA]))
    p1, p2 = draw(PARAMETERS), draw(PARAMETERS)
    size = draw(st.sampled_from([None, 0, 3, 6, 12, 16, 20, 36, 260, 270]))
    data = draw(st.binary(max_size=20) if size is None else st.binary(min_size=size, max_size=size))
    le = draw(st.sampled_from([0, 8, 256]) | st.integers(1, 255)) if draw(st.booleans()) else None
    return CommandAPDU(cla, ins, p1, p2, data, le).to_bytes()


@pytest.mark.clause("CARD-APDU-001")
@settings(max_examples=2000, derandomize=True, database=None, deadline=None)
@given(state=st.sampled_from(["mf", "ssse", "df04"]), raw=st.binary(max_size=300) | commands())
@example(state="ssse", raw=bytes.fromhex("002000000399999F"))  # wrong PIN: a try spent, 63C2
@example(state="df04", raw=bytes.fromhex("00D6000403112233"))  # a write, 9000
@example(state="ssse", raw=bytes.fromhex("0082000A10") + bytes(16))  # wrong cryptogram, 63C2
def test_any_bytes_get_a_known_status_word_and_leave_nvm_alone(state, raw):
    card = prepared_card(state)
    before = dict(card.nvm.data)
    with CardFaults() as faults:
        resp = ResponseAPDU.parse(card.transmit(raw))  # never raises
    after = dict(card.nvm.data)
    event(f"{state}: {describe(resp.sw)}{', NVM written' if after != before else ''}")
    shown = raw.hex().upper()[:80]
    assert known_sw(resp.sw), f"{shown} answered {resp.sw:04X}, not a known status word"
    found = MALFORMED.faults(raw)
    assert not found or resp.sw in MALFORMED.allowed(found), (
        f"{shown} ({', '.join(sorted(found))}) answered {resp.sw:04X}; the profile allows "
        f"{sorted(f'{sw:04X}' for sw in MALFORMED.allowed(found))}")
    assert not faults.records, f"{shown} raised inside the card: {faults.records[0].exc_info[1]!r}"

    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    if changed:
        cmd = CommandAPDU.parse(raw)  # whatever wrote NVM was a well-formed command
        pair = (cmd.cla, cmd.ins)
        if resp.sw == SW.OK:
            assert pair in WRITES, f"{shown} changed {sorted(changed)} though it writes nothing"
        else:  # a failed comparison spends exactly one try, and writes nothing else
            assert pair in SPENDS_TRY and (resp.sw & 0xFFF0 == 0x63C0 or resp.sw == SW.AUTH_METHOD_BLOCKED)
            (counter,) = changed
            assert counter in (PIN_TRIES, TRIES_0A, TRIES_04)
            assert after[counter][0] == before[counter][0] - 1
    assert ResponseAPDU.parse(card.transmit(apdu(0x00, 0xA4, 0x00, 0x00))).sw == SW.OK  # still alive


# -- the state machine ----------------------------------------------------------------------
def junk_sw(raw: bytes) -> int:
    """What the dispatcher answers to bytes that reach no command handler (CARD-APDU-001)."""
    try:
        cmd = CommandAPDU.parse(raw)
    except CardError:
        return SW.WRONG_LENGTH
    if cmd.cla == 0xFF or cmd.cla & 0x60 == 0x20:
        return SW.CLA_NOT_SUPPORTED
    if cmd.cla & 0x03:
        return SW.LOGICAL_CHANNEL_NOT_SUPPORTED
    return SW.CLA_NOT_SUPPORTED if cmd.ins in KNOWN_INS else SW.INS_NOT_SUPPORTED


def reaches_a_handler(raw: bytes) -> bool:
    try:
        cmd = CommandAPDU.parse(raw)
    except CardError:
        return False
    return (cmd.cla, cmd.ins) in COMMANDS


PINS = st.from_regex(r"[0-9]{4,16}", fullmatch=True)
KIDS = st.sampled_from([0x0A, 0x04])


def flipped(data: bytes) -> bytes:
    return bytes((data[0] ^ 0x01,)) + data[1:]


class CardMachine(RuleBasedStateMachine):
    """The SSSE of a normal card: every rule predicts its status word from the model."""

    def __init__(self) -> None:
        super().__init__()
        self.card = CardOS(IMAGE, faults=FaultPlan(), rng=random.Random(11))
        self.card.power_up()
        self.card.transmit(apdu(0x00, 0xA4, 0x04, 0x0C, SSSE_AID))
        # the model: powered, the SSSE selected
        self.in_ssse = True
        self.current_ef: str | None = None
        self.pin, self.pin_tries, self.pin_verified = RIGHT_PIN, 3, False
        self.key_tries = {0x0A: 3, 0x04: 3}
        self.authenticated: set[int] = set()
        self.challenge: bytes | None = None
        self.records = {(ef, n): IMAGE.contents[record_key(f"{APP}/{ef}", n)]
                        for ef in EFS for n in range(1, 8)}
        # for "tries never rise unless restored"
        self.seen = {PIN_TRIES: 3, TRIES_0A: 3, TRIES_04: 3}
        self.may_rise: set[str] = set()

    def send(self, raw: bytes, expected: int) -> ResponseAPDU:
        resp = ResponseAPDU.parse(self.card.transmit(raw))
        label = f"{raw[:2].hex().upper()}" if reaches_a_handler(raw) else "junk"
        event(f"{label} {expected:04X}")
        assert resp.sw == expected, (
            f"{raw.hex().upper()} answered {resp.sw:04X}, the model says {expected:04X} ({describe(expected)})")
        return resp

    def forget_security(self) -> None:
        self.pin_verified, self.challenge = False, None
        self.authenticated.clear()

    # -- selection
    @rule()
    def select_ssse(self):
        self.send(apdu(0x00, 0xA4, 0x04, 0x0C, SSSE_AID), SW.OK)
        if not self.in_ssse:  # another application: its security state starts afresh
            self.forget_security()
        self.in_ssse, self.current_ef = True, None

    @rule()
    def select_mf(self):
        self.send(apdu(0x00, 0xA4, 0x00, 0x0C), SW.OK)
        if self.in_ssse:
            self.forget_security()
        self.in_ssse, self.current_ef = False, None

    @rule(ef=st.sampled_from(sorted(EFS)))
    def select_ef(self, ef):
        self.send(apdu(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex(ef)),
                  SW.OK if self.in_ssse else SW.FILE_NOT_FOUND)
        if self.in_ssse:
            self.current_ef = ef

    # -- records
    @rule(ef=st.none() | st.sampled_from(sorted(EFS)), number=st.integers(1, 8))
    def read_record(self, ef, number):
        """By SFI when `ef` is given, else in the current EF."""
        target = ef or self.current_ef
        if ef is not None and not self.in_ssse:
            expected = SW.FILE_NOT_FOUND
        elif target is None:
            expected = SW.COMMAND_NOT_ALLOWED
        elif target == "EF06" and 0x0A not in self.authenticated:
            expected = SW.SECURITY_NOT_SATISFIED  # access is checked before the record exists
        elif number > 7:
            expected = SW.RECORD_NOT_FOUND
        else:
            expected = SW.OK
        p2 = (EFS[ef] << 3 if ef else 0) | 0x04
        resp = self.send(apdu(0x00, 0xB2, number, p2, le=0), expected)
        if ef is not None and self.in_ssse:
            self.current_ef = ef
        if expected == SW.OK:
            assert resp.data == self.records[(target, number)]

    @rule(ef=st.sampled_from(sorted(EFS)), number=st.integers(1, 7), body=st.binary(min_size=1, max_size=40),
          with_auth=st.booleans())
    def update_record(self, ef, number, body, with_auth):
        """UPDATE RECORD by SFI and number, keeping the record's tag; needs key 04, which
        `with_auth` first authenticates (GET CHALLENGE, EXTERNAL AUTHENTICATE)."""
        if with_auth:
            self.challenge_and_authenticate(0x04, True, 1)
        data = self.records[(ef, number)][:1] + bytes((len(body),)) + body
        if not self.in_ssse:
            expected = SW.FILE_NOT_FOUND
        elif 0x04 not in self.authenticated:
            expected = SW.SECURITY_NOT_SATISFIED
        else:
            expected = SW.OK
            self.records[(ef, number)] = data
        if self.in_ssse:
            self.current_ef = ef
        self.send(apdu(0x00, 0xDC, number, EFS[ef] << 3 | 0x04, data), expected)

    # -- PIN
    def _spend_pin_try(self, *, right: bool) -> int:
        if not self.in_ssse:
            return SW.CONDITIONS_NOT_SATISFIED
        if self.pin_tries == 0:
            return SW.AUTH_METHOD_BLOCKED
        if right:
            self.pin_tries, self.pin_verified = 3, True
            self.may_rise.add(PIN_TRIES)
            return SW.OK
        self.pin_tries -= 1
        self.pin_verified = False
        return counter_sw(self.pin_tries) if self.pin_tries else SW.AUTH_METHOD_BLOCKED

    @rule()
    def verify_right_pin(self):
        pin = self.pin
        self.send(apdu(0x00, 0x20, 0x00, 0x00, bcd(pin)), self._spend_pin_try(right=True))

    @rule(pin=PINS, times=st.integers(1, 3))
    def verify_wrong_pin(self, pin, times):
        if pin == self.pin:
            pin = pin[:-1] + str((int(pin[-1]) + 1) % 10)
        for _ in range(times):
            self.send(apdu(0x00, 0x20, 0x00, 0x00, bcd(pin)), self._spend_pin_try(right=False))

    @rule(new=PINS, right=st.booleans(), fresh=st.booleans())
    def reload_pin(self, new, right, fresh):
        """RELOAD PIN with key 06's MAC over the pending (or, if `fresh`, a new) challenge."""
        if fresh:
            self.get_challenge()
        mac = pin_reload_mac("sm4", key(0x06), bcd(new), self.challenge or bytes(8))
        if not self.in_ssse or self.challenge is None:
            expected = SW.CONDITIONS_NOT_SATISFIED
        else:
            self.challenge = None
            expected = SW.OK if right else SW.SM_DATA_INCORRECT
        if expected == SW.OK:
            self.pin, self.pin_tries = new, 3
            self.may_rise.add(PIN_TRIES)
        self.send(apdu(0x80, 0x5E, 0x00, 0x00, bcd(new) + (mac if right else flipped(mac))), expected)

    # -- keys
    @rule()
    def get_challenge(self):
        self.challenge = self.send(apdu(0x00, 0x84, 0x00, 0x00, le=8), SW.OK).data
        assert len(self.challenge) == 8

    @rule(kid=KIDS, right=st.booleans())
    def external_authenticate(self, kid, right):
        """EXTERNAL AUTHENTICATE over whatever challenge is pending (maybe none)."""
        cryptogram = external_auth_cryptogram("sm4", key(kid), self.challenge or bytes(8))
        if not self.in_ssse:
            expected = SW.CONDITIONS_NOT_SATISFIED
        elif self.key_tries[kid] == 0:
            expected = SW.AUTH_METHOD_BLOCKED
        elif self.challenge is None:
            expected = SW.CONDITIONS_NOT_SATISFIED
        else:
            self.challenge = None
            self.key_tries[kid] -= 1
            if right:
                expected, self.key_tries[kid] = SW.OK, 3
                self.authenticated.add(kid)
                self.may_rise.add(key_tries_key(APP, kid))
            else:
                self.authenticated.discard(kid)
                tries = self.key_tries[kid]
                expected = counter_sw(tries) if tries else SW.AUTH_METHOD_BLOCKED
        self.send(apdu(0x00, 0x82, 0x00, kid, cryptogram if right else flipped(cryptogram)), expected)

    @rule(kid=KIDS, right=st.booleans(), times=st.integers(1, 3))
    def challenge_and_authenticate(self, kid, right, times):
        for _ in range(times):
            self.get_challenge()
            self.external_authenticate(kid, right)

    # -- contacts and noise
    @rule()
    def power_cycle(self):
        self.card.power_down()
        self.card.power_up()
        self.in_ssse, self.current_ef = False, None
        self.forget_security()

    @rule(raw=st.binary(max_size=300).filter(lambda raw: not reaches_a_handler(raw)))
    def junk(self, raw):
        self.send(raw, junk_sw(raw))

    # -- invariants
    @invariant()
    def nvm_matches_the_model(self):
        nvm = self.card.nvm
        assert nvm[PIN_TRIES][0] == self.pin_tries
        assert nvm[pin_key(APP)] == bcd(self.pin)
        assert (nvm[TRIES_0A][0], nvm[TRIES_04][0]) == (self.key_tries[0x0A], self.key_tries[0x04])
        for (ef, number), record in self.records.items():
            assert nvm[record_key(f"{APP}/{ef}", number)] == record, f"{ef} record {number}"

    @invariant()
    def security_state_matches_the_model(self):
        assert self.card.security.pin_verified == self.pin_verified
        assert self.card.security.authenticated == self.authenticated

    @invariant()
    def tries_rise_only_after_a_right_pin_key_or_reload(self):
        for counter, seen in self.seen.items():
            now = self.card.nvm[counter][0]
            assert now <= seen or counter in self.may_rise, f"{counter} rose from {seen} to {now}"
            self.seen[counter] = now
        self.may_rise.clear()


CardMachine.TestCase.settings = settings(
    max_examples=250, stateful_step_count=50, derandomize=True, database=None, deadline=None)
TestCardMachine = pytest.mark.clause("CARD-PIN-001")(CardMachine.TestCase)
