"""The QuickPass POS with the reference bank, and the scenic-spot gate."""

import random
from datetime import date, datetime

import pytest

from simulator.backend.bank import ReferenceBank
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.devices.pos import QuickPassPOS
from simulator.devices.scenic import ScenicGate, age_on
from simulator.privacy import TraceMasker
from simulator.transport import InProcessTransport, TraceRecorder

AS_OF = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, 0)
OFFLINE, ONLINE = bytes.fromhex("26000000"), bytes.fromhex("26800000")


def card(persona):
    return CardOS(personas.image(persona, as_of=AS_OF))


def pos(bank, amount, ttq=OFFLINE):
    return QuickPassPOS(terminal_id="POS1", clock=lambda: NOON, bank=bank, amount=amount, ttq=ttq,
                        rng=random.Random(7))


@pytest.mark.parametrize(("persona", "amount", "ttq", "reason", "online"), [
    ("bank", 500, OFFLINE, "APPROVED_OFFLINE", False),
    ("bank", 500, ONLINE, "APPROVED_ONLINE", True),
    ("bank", 50_000, OFFLINE, "APPROVED_ONLINE", True),  # over the offline limit: the card asks for ARQC
    ("bank_sm4", 800, ONLINE, "APPROVED_ONLINE", True),
    ("bank_expired_app", 500, OFFLINE, "DECLINED", False),
    ("bank_locked", 100, OFFLINE, "APP_LOCKED", False),
    ("second_generation", 100, ONLINE, "NO_APPLICATION", False),
])
def test_quickpass_decisions(persona, amount, ttq, reason, online):
    bank = ReferenceBank()
    out = pos(bank, amount, ttq).present(InProcessTransport(card(persona)))
    assert out.reason == reason
    assert bool(bank.log) == online


def test_an_offline_approval_debits_the_card_and_goes_nowhere():
    c = card("bank")
    bank = ReferenceBank()
    out = pos(bank, 500).present(InProcessTransport(c))
    assert (out.reason, out.debited, bank.log) == ("APPROVED_OFFLINE", 500, [])


def test_the_bank_refuses_a_tampered_cryptogram_and_an_empty_account():
    c = card("bank")
    bank = ReferenceBank(opening_balance=300)
    assert pos(bank, 500, ONLINE).present(InProcessTransport(c)).evidence["response_code"] == "51"
    request, _ = bank.log[-1]
    request.tags[0x9F02] = bytes.fromhex("000000000001")  # the amount changed after the card signed it
    assert bank.authorise(request).response_code == "05"


def test_the_pan_never_appears_in_a_masked_pos_trace():
    recorder = TraceRecorder()
    bank = ReferenceBank()
    pos(bank, 500, ONLINE).present(InProcessTransport(card("bank"), tracers=[recorder]))
    pan = bytes.fromhex(bank.log[0][0].pan)  # what the POS read from the card and sent online
    masker = TraceMasker.from_profiles()
    raw = b"".join(x.response for x in recorder.exchanges)
    masked = b"".join(masker.response(x.command, x.response) for x in recorder.exchanges)
    assert pan in raw and pan not in masked


@pytest.mark.parametrize(("persona", "reason"), [
    ("elderly", "ENTITLED"), ("normal", "NOT_ENTITLED"), ("expired", "EXPIRED"),
    ("not_yet_valid", "NOT_YET_VALID"), ("app_locked", "APP_LOCKED"), ("garbled", "CARD_ERROR"),
])
def test_scenic_gate_entitlement(persona, reason):
    gate = ScenicGate(terminal_id="S1", clock=lambda: NOON)
    assert gate.present(InProcessTransport(card(persona))).reason == reason


def test_scenic_gate_reads_no_name_and_no_citizen_id():
    """Data minimisation (terminals.yaml minimisation.scenic): only 卡识别码, dates and 出生日期."""
    recorder = TraceRecorder()
    ScenicGate(terminal_id="S1", clock=lambda: NOON).present(InProcessTransport(card("elderly"), tracers=[recorder]))
    record_reads = {x.command[2] for x in recorder.exchanges if x.command[1] == 0xB2}
    assert record_reads == {0x01, 0x05, 0x06, 0x0D}  # EF05 records 1, 5, 6; EF06 tag 0D (出生日期)


def test_a_blacklisted_card_is_not_let_in():
    card_id = personas.resolve("elderly", as_of=AS_OF).values["card_identifier"].hex().upper()
    gate = ScenicGate(terminal_id="S1", clock=lambda: NOON, blacklist={card_id})
    assert gate.present(InProcessTransport(card("elderly"))).reason == "BLACKLISTED"


def test_age_is_counted_in_whole_years():
    assert age_on(date(1954, 11, 24), date(2026, 11, 23)) == 71
    assert age_on(date(1954, 11, 23), date(2026, 11, 23)) == 72
