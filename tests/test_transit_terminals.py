"""Reference transit terminals: gate, bus validator, purchase terminal and load kiosk over the purse
with a PSAM, judged by their decision records and by the card's own state."""

from datetime import date, datetime, timedelta

import pytest

from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.devices.psam import psam_image
from simulator.devices.purse_client import PurseInfo
from simulator.devices.transit import BusValidator, LoadKiosk, MetroGate, PurchaseTerminal
from simulator.profile import build, national
from simulator.transport import InProcessTransport
from simulator.transport.timing import limits

AS_OF = date(2026, 11, 23)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 8, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ForgedDebit:
    """A card whose DEBIT answer has MAC2 or TAC flipped: a cloned or tampered card."""

    def __init__(self, card: CardOS, field: str) -> None:
        self.card, self.field = card, field

    def __getattr__(self, name):
        return getattr(self.card, name)

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.card.transmit(apdu)
        if apdu[:2] == b"\x80\x54" and answer[-2:] == b"\x90\x00":
            at = 0 if self.field == "tac" else 4
            answer = answer[:at] + bytes([answer[at] ^ 0xFF]) + answer[at + 1 :]
        return answer


def card(persona="normal"):
    return CardOS(personas.image(persona, as_of=AS_OF))


def balance(c: CardOS) -> int:
    app = next(a for a in c.image.applications.values() if a.kind == "epurse")
    return int.from_bytes(c.nvm[epurse.balance_key(app.path)], "big", signed=True)


def psam(terminal_id="000000000101"):
    return InProcessTransport(CardOS(psam_image(terminal_id=bytes.fromhex(terminal_id))))


@pytest.fixture
def clock():
    return Clock()


def test_a_metro_journey_charges_the_distance_fare_once(clock):
    c = card()
    entry = MetroGate(terminal_id="G1", station="0101", direction="entry", psam=psam(), clock=clock)
    exit_ = MetroGate(terminal_id="G2", station="0106", direction="exit", psam=psam("000000000106"), clock=clock)
    assert entry.present(InProcessTransport(c)).reason == "OK"
    clock.advance(1800)
    out = exit_.present(InProcessTransport(c))
    assert (out.reason, out.fare, out.debited) == ("OK", exit_.fare_between("0101", "0106"), 500)
    assert balance(c) == 5000 - 500
    assert exit_.present(InProcessTransport(c)).reason == "NO_ENTRY"  # the journey is closed
    assert balance(c) == 4500


def test_distance_fares_follow_the_profile_table(clock):
    gate = MetroGate(terminal_id="G", station="0107", direction="exit", psam=psam(), clock=clock)
    assert gate.fare_between("0101", "0102") == 300
    assert gate.fare_between("0101", "0105") == 500
    assert gate.fare_between("0101", "0107") == 700  # 33.2 km: beyond the table, one 20 km step


@pytest.mark.parametrize(("persona", "charged", "concession"),
                         [("normal", 200, "normal"), ("minor", 100, "student"), ("elderly", 0, "elderly")])
def test_bus_flat_fare_with_concessions(clock, persona, charged, concession):
    c = card(persona)
    before = balance(c)
    out = BusValidator(terminal_id="B1", psam=psam(), clock=clock).present(InProcessTransport(c))
    assert (out.reason, out.amount, out.evidence["concession"]) == ("OK", charged, concession)
    assert balance(c) == before - charged == out.balance_after


@pytest.mark.parametrize(("persona", "charged", "concession"),
                         [("chengdu_elderly", 0, "elderly"), ("chongqing_elderly", 0, "elderly"),
                          ("elderly", 200, "non_resident"), ("normal", 200, "non_resident")])
def test_sichuan_concessions_are_for_sichuan_and_chongqing_cards(clock, persona, charged, concession):
    """Sichuan's residency rule (SC-XR-001): the issuer of 0x15 says whose card it is; a Kaifeng card
    of the elderly type pays the full fare, a Chongqing one rides free as a Chengdu one does."""
    sichuan = build("national", "sichuan")
    c = CardOS(personas.image(persona, as_of=AS_OF, profile=sichuan))
    out = BusValidator(terminal_id="B1", psam=psam(), clock=clock, profile=sichuan).present(InProcessTransport(c))
    assert (out.reason, out.amount, out.evidence["concession"]) == ("OK", charged, concession)


@pytest.mark.parametrize(("persona", "division"),
                         [("normal", "410200"), ("minor", "440100"), ("wrong_region", "330300")])
def test_the_issuer_division_is_read_from_0x15(persona, division):
    issuer, _serial = epurse.identity(personas.resolve(persona, as_of=AS_OF).values["card_identifier"][:3].hex(),
                                      bytes(8))
    info = PurseInfo(issuer + bytes(22))
    assert info.issuer_division(national()["epurse"]["identity"]) == division


@pytest.mark.parametrize(("persona", "reason"), [
    ("expired", "EXPIRED"), ("not_yet_valid", "NOT_YET_VALID"), ("transit_locked", "APP_LOCKED"),
    ("second_generation", "NO_APPLICATION"), ("transit_low_balance", "INSUFFICIENT_FUNDS"),
])
def test_rejected_cards_are_not_charged(clock, persona, reason):
    c = card(persona)
    before = c.nvm.data.copy()
    out = BusValidator(terminal_id="B1", psam=psam(), clock=clock).present(InProcessTransport(c))
    assert (out.reason, out.accepted, out.debited) == (reason, False, 0)
    assert c.nvm.data == before


def test_a_blacklisted_card_is_refused_before_any_debit(clock):
    c = card()
    serial = personas.resolve("normal", as_of=AS_OF).values["card_identifier"]
    info = epurse.identity(serial[:3].hex(), serial[-8:])[1].hex().upper()
    bus = BusValidator(terminal_id="B1", psam=psam(), clock=clock, blacklist={info})
    out = bus.present(InProcessTransport(c))
    assert (out.reason, out.debited) == ("BLACKLISTED", 0)
    assert balance(c) == 5000


@pytest.mark.parametrize(("field", "reason"), [("mac2", "MAC2_INVALID"), ("tac", "TAC_INVALID")])
def test_a_forged_mac2_or_tac_is_refused_and_recorded_as_debited(clock, field, reason):
    c = card()
    out = BusValidator(terminal_id="B1", psam=psam(), clock=clock).present(InProcessTransport(ForgedDebit(c, field)))
    assert (out.reason, out.accepted, out.debited) == (reason, False, 200)  # money moved: the record says so
    assert balance(c) == 4800


def test_a_plain_purchase_and_a_load(clock):
    c = card()
    shop = PurchaseTerminal(terminal_id="P1", fare=1234, psam=psam(), clock=clock)
    assert shop.present(InProcessTransport(c)).debited == 1234
    kiosk = LoadKiosk(terminal_id="000000000301", amount=3000, clock=clock)
    out = kiosk.present(InProcessTransport(c))
    assert (out.reason, out.loaded, out.balance_after) == ("OK", 3000, 5000 - 1234 + 3000)
    assert balance(c) == out.balance_after


def test_a_torn_debit_is_proven_on_retap_and_not_charged_twice(clock):
    c = card()
    bus = BusValidator(terminal_id="B1", psam=psam(), clock=clock)
    # cut power right after the commit flag: the debit committed, the answer never came back
    c.faults.arm(point="nvm.clear", at=0)
    first = bus.present(InProcessTransport(c))
    assert first.reason == "RETAP" and first.debited == 0
    assert balance(c) == 4800
    clock.advance(20)
    second = bus.present(InProcessTransport(c))
    assert (second.reason, second.debited, second.evidence["recovered"]) == ("RECOVERED", 200, True)
    assert balance(c) == 4800


def test_a_debit_torn_before_its_commit_is_charged_afresh(clock):
    c = card()
    bus = BusValidator(terminal_id="B1", psam=psam(), clock=clock)
    c.faults.arm(point="nvm.commit", at=0)
    assert bus.present(InProcessTransport(c)).reason == "RETAP"
    assert balance(c) == 5000
    out = bus.present(InProcessTransport(c))
    assert (out.reason, out.debited) == ("OK", 200)
    assert balance(c) == 4800


def test_after_the_recovery_window_the_torn_debit_is_recorded_incomplete(clock):
    c = card()
    bus = BusValidator(terminal_id="B1", psam=psam(), clock=clock)
    c.faults.arm(point="nvm.clear", at=0)
    bus.present(InProcessTransport(c))
    clock.advance(bus.terminals["recovery"]["window_seconds"] + 1)
    out = bus.present(InProcessTransport(c))
    assert out.reason == "OK"
    assert [d.reason for d in bus.journal] == ["RETAP", "INCOMPLETE", "OK"]


def test_the_modelled_purchase_time_is_within_the_profile_limit(clock):
    """DB31/T 239-2020 §6.3.2: a purchase including its record in <= 400 ms."""
    limit = limits()["purchase"]
    c = card()
    gate = MetroGate(terminal_id="G1", station="0101", direction="entry", psam=psam(), clock=clock)
    gate.present(InProcessTransport(c))
    out = MetroGate(terminal_id="G2", station="0105", direction="exit", psam=psam(), clock=clock).present(
        InProcessTransport(c))
    print(f"metro exit purchase: modelled {out.modelled_ms:.1f} ms (limit {limit.seconds * 1e3:.0f} ms, "
          f"{limit.source}); wall {out.wall_ms:.2f} ms")
    assert out.reason == "OK"
    assert 50 < out.modelled_ms <= limit.seconds * 1e3


def test_a_torn_zero_fare_entry_is_proven_not_written_twice(clock):
    """A 0-fen entry moves no money, so only the card's proof tells that the torn DEBIT committed."""
    c = card()
    app = next(a for a in c.image.applications.values() if a.kind == "epurse")
    atc_before = c.nvm[epurse.atc_key(app.path, "offline")]
    gate = MetroGate(terminal_id="G1", station="0101", direction="entry", psam=psam(), clock=clock)
    c.faults.arm(point="nvm.clear", at=0)
    assert gate.present(InProcessTransport(c)).reason == "RETAP"
    assert gate.present(InProcessTransport(c)).reason == "RECOVERED"
    assert int.from_bytes(c.nvm[epurse.atc_key(app.path, "offline")], "big") == int.from_bytes(atc_before, "big") + 1
