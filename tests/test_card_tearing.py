"""Card tearing (CARD-NVM-001, CARD-PIN-005): power lost at every fault point of every write.

For each write command: count its fault-point hits with an unarmed plan, then for each hit
build a fresh card, cut the power there, power up again (the NVM recovers) and check that
every NVM value is one the command's writes could have left: all-old or all-new per
`NVM.write`. A command that writes twice (VERIFY and EXTERNAL AUTHENTICATE spend a try, then
restore it) may legitimately stop between its writes, so the reference states are the NVM
before the command and after each of its writes; for a one-write command those are exactly
"before" and "after". A torn PIN or key comparison must never leave more tries than before,
unless the command would have succeeded.

`NonAtomicNVM` (a mutant that writes pages in place without a journal) proves the check has
teeth: plugged into a card, the same check finds its half-written values.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from conformance.mutants.cards import NonAtomicNVM
from simulator.apdu import SW, ResponseAPDU
from simulator.card import personas
from simulator.card.apps import ssse
from simulator.card.cardos import CardOS
from simulator.card.image import CardImage, count_key, key_tries_key, pin_key, pin_tries_key, record_key
from simulator.card.nvm import NVM
from simulator.crypto.auth import external_auth_cryptogram, pin_reload_mac, pin_unblock_data
from simulator.faults import FaultPlan, PowerLost
from simulator.profile import load

pytestmark = [pytest.mark.clause("CARD-NVM-001"), pytest.mark.clause("CARD-PIN-005")]

AS_OF = date(2026, 11, 23)
APP = "3F00/DDF1"
EF05 = f"{APP}/EF05"
SSSE_AID = "7378312E73682EC9E7BBE1B1A3D5CF"
PROFILE = load("national/ssse", "ssse")
PIN_TRIES = pin_tries_key(APP)
#: At least this many tear cases over all commands (146 when written); each write has at least
#: five fault points, so a command dropped from CASES or a write lost from one shows here.
FLOOR = 140


# -- NVM variants ---------------------------------------------------------------------------
class RecordingNVM(NVM):
    """The real, journaled NVM, keeping a snapshot after every completed write."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.snapshots: list[dict[str, bytes]] = []

    def write(self, updates: dict[str, bytes]) -> None:
        super().write(updates)
        self.snapshots.append(dict(self.data))


# -- cards and the commands under test ------------------------------------------------------
@functools.cache
def image(persona: str, *, linear_room: bool = False) -> CardImage:
    """A persona's card image; `linear_room` leaves EF05 with six records, so APPEND RECORD
    has room in a linear EF (every persona's EF05 and EF06 are full)."""
    img = personas.image(persona, as_of=AS_OF)
    if not linear_room:
        return img
    contents = dict(img.contents)
    del contents[record_key(EF05, 7)]
    contents[count_key(EF05)] = b"\x06"
    return dataclasses.replace(img, contents=contents)


class Terminal:
    """Drives one card through a command's preconditions; every step must answer 9000."""

    def __init__(self, card: CardOS, persona: str) -> None:
        self.card = card
        values = personas.resolve(persona, as_of=AS_OF).values
        self.algorithm = card.image.applications[APP].algorithm
        self.keys = {kid: ssse.card_key(PROFILE, kid, values["card_identifier"], self.algorithm)
                     for kid in (0x01, 0x04, 0x06, 0x07, 0x0A)}

    def ok(self, apdu: str) -> bytes:
        resp = ResponseAPDU.parse(self.card.transmit(bytes.fromhex(apdu)))
        assert resp.sw == SW.OK, f"setup {apdu} answered {resp}"
        return resp.data

    def challenge(self) -> bytes:
        return self.ok("0084000008")

    def cryptogram(self, kid: int) -> bytes:
        return external_auth_cryptogram(self.algorithm, self.keys[kid], self.challenge())

    def authenticate(self, kid: int) -> None:
        self.ok(f"008200{kid:02X}" + lc(self.cryptogram(kid).hex()))


def lc(data_hex: str) -> str:
    return f"{len(data_hex) // 2:02X}" + data_hex


def bcd(digits: str) -> str:
    return digits + "F" * (len(digits) % 2)


@dataclass(frozen=True)
class WriteCase:
    """A write command: `prepare` brings a fresh card to just before it and returns its APDU."""

    name: str
    persona: str
    prepare: Callable[[Terminal], str]
    sw: int
    linear_room: bool = False
    counter: str | None = None  # the tries counter a comparison spends, if any

    def card(self, nvm: type[NVM] = NVM) -> tuple[CardOS, str]:
        img = image(self.persona, linear_room=self.linear_room)
        card = CardOS(img, faults=FaultPlan(), rng=random.Random(5))
        card.nvm = nvm(img.contents, page_size=img.page_size, faults=card.faults)
        card.power_up()
        term = Terminal(card, self.persona)
        term.ok("00A404000F" + SSSE_AID)
        return card, self.prepare(term)


def in_df04(term: Terminal, *, pin: bool = True, key04: bool = False) -> None:
    term.ok("00A4000002DF04")
    if pin:
        term.ok("00200000" + lc("123456"))
    if key04:
        term.authenticate(0x04)


def ef15_update(term: Terminal, offset: int, data: bytes) -> str:
    in_df04(term, key04=True)
    term.ok("00A4020C02EF15")
    return f"00D6{offset:04X}" + lc(data.hex())


def ef16_append(term: Terminal, earlier: int) -> str:
    in_df04(term)
    for n in range(earlier):
        term.ok("00E200B010" + f"{n:02X}" * 16)
    return "00E200B010" + "AB" * 16


def name_update(term: Terminal) -> str:
    term.authenticate(0x04)
    long_name = "测试更新" * 3 + "姓名长"  # 30 bytes of GBK: both pages of the record change
    return "00DC0234" + lc(ssse.elements(PROFILE)["name"].to_record(long_name).hex())


def change_pin(old: str) -> Callable[[Terminal], str]:
    return lambda term: "805E0100" + lc(bcd(old) + "FF" + bcd("13579"))


def reload_pin(term: Terminal) -> str:
    new = bytes.fromhex(bcd("2468"))
    mac = pin_reload_mac(term.algorithm, term.keys[0x06], new, term.challenge())
    return "805E0000" + lc((new + mac).hex())


def unblock_pin(term: Terminal) -> str:
    data = pin_unblock_data(term.algorithm, term.keys[0x07], bytes.fromhex(bcd("97531")), term.challenge())
    return "84240000" + lc(data.hex())


def external_auth(kid: int, *, right: bool) -> Callable[[Terminal], str]:
    def prepare(term: Terminal) -> str:
        cryptogram = term.cryptogram(kid)
        if not right:
            cryptogram = bytes((cryptogram[0] ^ 0xFF,)) + cryptogram[1:]
        return f"008200{kid:02X}" + lc(cryptogram.hex())

    return prepare


CASES = [
    WriteCase("UPDATE BINARY EF15 whole (3 pages)", "normal",
              lambda t: ef15_update(t, 0, bytes(range(1, 49))), SW.OK),
    WriteCase("UPDATE BINARY EF15 offset 10 (2 pages)", "normal",
              lambda t: ef15_update(t, 10, b"\x5A" * 20), SW.OK),
    WriteCase("UPDATE RECORD EF06 name (2 pages)", "normal", name_update, SW.OK),
    WriteCase("UPDATE RECORD EF05 by tag", "normal",
              lambda t: (t.authenticate(0x04), "00DC0628" + lc("060420361123"))[1], SW.OK),
    WriteCase("UPDATE RECORD EF16 cyclic", "normal",
              lambda t: (ef16_append(t, 3), "00DC02B410" + "CD" * 16)[1], SW.OK),
    WriteCase("APPEND RECORD EF05 linear", "normal",
              lambda t: (t.authenticate(0x04), "00E20028" + lc("0709" + "4B30303030303031" "3034"))[1],
              SW.OK, linear_room=True),
    WriteCase("APPEND RECORD EF16 cyclic, empty", "normal", lambda t: ef16_append(t, 0), SW.OK),
    WriteCase("APPEND RECORD EF16 cyclic, full (wraps)", "normal", lambda t: ef16_append(t, 5), SW.OK),
    WriteCase("VERIFY right", "normal", lambda t: "00200000" + lc("123456"), SW.OK, counter=PIN_TRIES),
    WriteCase("VERIFY right, last try", "pin_last_try", lambda t: "00200000" + lc("246810"), SW.OK,
              counter=PIN_TRIES),
    WriteCase("VERIFY wrong", "normal", lambda t: "00200000" + lc("654321"), 0x63C2, counter=PIN_TRIES),
    WriteCase("VERIFY wrong, last try", "pin_last_try", lambda t: "00200000" + lc("123456"),
              SW.AUTH_METHOD_BLOCKED, counter=PIN_TRIES),
    WriteCase("CHANGE PIN", "normal", change_pin("123456"), SW.OK, counter=PIN_TRIES),
    WriteCase("CHANGE PIN, wrong old PIN", "normal", change_pin("111111"), 0x63C2, counter=PIN_TRIES),
    WriteCase("RELOAD PIN", "pin_blocked", reload_pin, SW.OK, counter=PIN_TRIES),
    WriteCase("UNBLOCK PIN", "pin_blocked", unblock_pin, SW.OK, counter=PIN_TRIES),
    WriteCase("EXTERNAL AUTH 0A right", "normal", external_auth(0x0A, right=True), SW.OK,
              counter=key_tries_key(APP, 0x0A)),
    WriteCase("EXTERNAL AUTH 04 wrong", "normal", external_auth(0x04, right=False), 0x63C2,
              counter=key_tries_key(APP, 0x04)),
    WriteCase("EXTERNAL AUTH 0A right, gen 2 (3DES)", "second_generation", external_auth(0x0A, right=True),
              SW.OK, counter=key_tries_key(APP, 0x0A)),
]


# -- the check ------------------------------------------------------------------------------
def reference(case: WriteCase) -> tuple[list[dict[str, bytes]], ResponseAPDU]:
    """The NVM before the command and after each of its writes, from an untorn run."""
    card, apdu = case.card(RecordingNVM)
    before = dict(card.nvm.data)
    card.nvm.snapshots = [before]
    resp = ResponseAPDU.parse(card.transmit(bytes.fromhex(apdu)))
    return card.nvm.snapshots, resp


def count_hits(case: WriteCase, nvm: type[NVM] = NVM) -> int:
    """Fault-point hits of the command alone (its preparation not counted), unarmed."""
    card, apdu = case.card(nvm)
    start = card.faults.total
    card.transmit(bytes.fromhex(apdu))
    return card.faults.total - start


def problems_after_tear(case: WriteCase, nvm_data: dict[str, bytes],
                        states: list[dict[str, bytes]], succeeded: bool) -> list[str]:
    """What is wrong with the NVM after a torn command and recovery (empty: nothing)."""
    problems = []
    for key in sorted(nvm_data.keys() | states[0].keys()):
        if all(nvm_data.get(key) != state.get(key) for state in states):
            values = " or ".join(sorted({(s.get(key) or b"").hex().upper() for s in states}))
            problems.append(f"{key} = {(nvm_data.get(key) or b'').hex().upper()}, "
                            f"neither old nor new ({values})")
    if not problems and nvm_data not in states:
        problems.append("every value is old or new, but not from the same write: a torn multi-value write")
    if case.counter and not succeeded:
        before, now = states[0][case.counter][0], nvm_data[case.counter][0]
        if now > before:
            problems.append(f"{case.counter} rose from {before} to {now}: the tear bought a try")
    return problems


def tear_everywhere(case: WriteCase, nvm: type[NVM] = NVM) -> tuple[int, list[str]]:
    """Cut the power at each fault point of the command; returns (cases, problems found)."""
    states, resp = reference(case)
    assert resp.sw == case.sw, f"{case.name}: the untorn command answered {resp}"
    n = count_hits(case, nvm)
    problems = []
    for i in range(n):
        card, apdu = case.card(nvm)
        assert card.nvm.data == states[0], "preparation must be deterministic"
        card.faults.arm(at=card.faults.total + i)
        with pytest.raises(PowerLost):
            card.transmit(bytes.fromhex(apdu))
        assert not card.powered
        card.power_up()  # recovery runs here
        recovered = dict(card.nvm.data)
        problems += [f"{case.name}, tear {i}/{n} at {card.faults.trail[-1]}: {p}"
                     for p in problems_after_tear(case, recovered, states, resp.ok)]
        card.power_down()
        card.power_up()
        if card.nvm.data != recovered:
            problems.append(f"{case.name}, tear {i}/{n}: a second recovery changed the NVM")
        if ResponseAPDU.parse(card.transmit(bytes.fromhex("00A404000F" + SSSE_AID))).sw != SW.OK:
            problems.append(f"{case.name}, tear {i}/{n}: the card no longer selects the SSSE")
    return n, problems


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_tear_at_every_fault_point_leaves_old_or_new(case):
    n, problems = tear_everywhere(case)
    print(f"{case.name}: {n} tear cases")
    assert n >= 5, "a write passes at least journal, commit, apply, clear and done"
    assert problems == []


def test_number_of_tear_cases_is_above_the_floor():
    total = sum(count_hits(case) for case in CASES)
    print(f"tearing: {len(CASES)} write commands, {total} tear cases")
    assert total >= FLOOR


def test_reads_pass_no_fault_point():
    """Reading never writes: nothing to tear (and no 'touched' counter on a read)."""
    case = WriteCase("READ RECORD EF06", "normal",
                     lambda t: (t.authenticate(0x0A), "00B2013400")[1], SW.OK)
    assert count_hits(case) == 0


def test_torn_wrong_pin_costs_the_try_once_compared():
    """CARD-PIN-005 directly: tear right after the decrement is committed (before the answer)
    and the try is gone; tear before the commit and the PIN was never compared."""
    case = next(c for c in CASES if c.name == "VERIFY wrong")
    card, apdu = case.card()
    card.faults.arm(at=0, point="nvm.done")
    with pytest.raises(PowerLost):
        card.transmit(bytes.fromhex(apdu))
    card.power_up()
    assert card.nvm[PIN_TRIES] == b"\x02"
    card, apdu = case.card()
    card.faults.arm(at=0, point="nvm.commit")
    with pytest.raises(PowerLost):
        card.transmit(bytes.fromhex(apdu))
    card.power_up()
    assert card.nvm[PIN_TRIES] == b"\x03"


class SpyNVM(NVM):
    """Notes the committed PIN tries counter whenever the PIN reference is read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tries_when_compared: list[int] = []

    def __getitem__(self, key: str) -> bytes:
        if key == pin_key(APP):
            self.tries_when_compared.append(self.data[PIN_TRIES][0])
        return super().__getitem__(key)


@pytest.mark.parametrize("name", ["VERIFY right", "VERIFY wrong", "CHANGE PIN", "CHANGE PIN, wrong old PIN"])
def test_pin_is_compared_only_after_the_try_is_committed(name):
    """CARD-PIN-005: when the card reads its PIN to compare, NVM already holds one try less."""
    case = next(c for c in CASES if c.name == name)
    card, apdu = case.card(SpyNVM)
    card.transmit(bytes.fromhex(apdu))
    assert card.nvm.tries_when_compared == [2]
    assert not card.nvm.journal  # committed and applied, not merely journaled


# -- the check has teeth --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "finds"),
    [
        ("UPDATE BINARY EF15 whole (3 pages)", "neither old nor new"),  # a half-written value
        ("UPDATE RECORD EF06 name (2 pages)", "neither old nor new"),
        ("APPEND RECORD EF16 cyclic, full (wraps)", "a torn multi-value write"),  # record, head, count
    ],
)
def test_non_atomic_nvm_is_caught(name, finds):
    case = next(c for c in CASES if c.name == name)
    n, problems = tear_everywhere(case, NonAtomicNVM)
    print(f"{name} on NonAtomicNVM: {n} tear cases, {len(problems)} problems")
    assert any(finds in p for p in problems), problems
