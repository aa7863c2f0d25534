"""The QuickPass POS with the reference bank through the bank's port, and the scenic-spot gate."""

import dataclasses
import random
from datetime import date, datetime

import pytest

from conformance.adapters.sim import OPENING_BALANCE, reference_bank
from simulator.backend.bank import Bank
from simulator.backend.ports import AccountOpening, Authorisation, Reversal, Unavailable
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.devices.pos import QuickPassPOS
from simulator.devices.scenic import ScenicGate, age_on
from simulator.privacy import TraceMasker
from simulator.transport import InProcessTransport, TraceRecorder

AS_OF = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, 0)
OFFLINE, ONLINE = bytes.fromhex("26000000"), bytes.fromhex("26800000")
PAN = "6299990000000017"  # the "bank" persona's (synthetic) PAN


def card(persona):
    return CardOS(personas.image(persona, as_of=AS_OF))


def pos(bank, amount, ttq=OFFLINE, terminal_id="POS1"):
    return QuickPassPOS(terminal_id=terminal_id, clock=lambda: NOON, bank=bank, amount=amount, ttq=ttq,
                        rng=random.Random(7))


class Recorder:
    """The bank's port with a record of what the POS sent through it; `lose` answers of a kind are
    lost after the bank acted (`Unavailable`, a timeout), `down` requests never reach it."""

    def __init__(self, bank, *, lose=(), down=()):
        self.bank, self.sent, self.lose, self.down = bank, [], list(lose), list(down)

    def _call(self, request, method):
        self.sent.append(request)
        if self.down and isinstance(request, self.down[0]):
            self.down.pop(0)
            raise Unavailable("the bank did not answer in time")
        answer = method(request)
        if self.lose and isinstance(request, self.lose[0]):
            self.lose.pop(0)
            raise Unavailable("the answer was lost")
        return answer

    def authorise(self, request):
        return self._call(request, self.bank.authorise)

    def reverse(self, request):
        return self._call(request, self.bank.reverse)

    def charge_transit(self, request):
        return self._call(request, self.bank.charge_transit)


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
    bank = Recorder(reference_bank())
    out = pos(bank, amount, ttq).present(InProcessTransport(card(persona)))
    assert out.reason == reason
    assert bool(bank.sent) == online


def test_an_offline_approval_debits_the_card_and_goes_nowhere():
    c = card("bank")
    bank = Recorder(reference_bank())
    out = pos(bank, 500).present(InProcessTransport(c))
    assert (out.reason, out.debited, bank.sent) == ("APPROVED_OFFLINE", 500, [])


def test_an_online_approval_debits_the_account_once():
    bank = reference_bank()
    out = pos(bank, 500, ONLINE).present(InProcessTransport(card("bank")))
    assert (out.reason, out.evidence["response_code"]) == ("APPROVED_ONLINE", "00")
    assert bank.ledger.account(PAN).balance == OPENING_BALANCE - 500
    assert bank.ledger.total() == 0


def test_the_bank_refuses_a_replayed_cryptogram():
    bank = reference_bank()
    pos(bank, 500, ONLINE).present(InProcessTransport(card("bank")))
    # a clone of the card at another POS: new request id, the same ATC and cryptogram again
    again = pos(bank, 500, ONLINE, terminal_id="POS2").present(InProcessTransport(card("bank")))
    assert (again.reason, again.evidence["response_code"]) == ("DECLINED", "05") and "replayed" in again.detail
    assert bank.ledger.account(PAN).balance == OPENING_BALANCE - 500


def test_the_bank_refuses_a_card_it_holds_no_account_for():
    bank = Recorder(Bank())
    out = pos(bank, 500, ONLINE).present(InProcessTransport(card("bank")))
    assert (out.reason, out.evidence["response_code"]) == ("DECLINED", "14")


def test_the_bank_refuses_a_tampered_cryptogram_and_an_empty_account():
    c = card("bank")
    bank = Bank()
    bank.ledger.open_account(AccountOpening(PAN, 1, 300))
    recorder = Recorder(bank)
    assert pos(recorder, 500, ONLINE).present(InProcessTransport(c)).evidence["response_code"] == "51"
    sent = recorder.sent[-1]
    tampered = dataclasses.replace(sent, request_id="tampered", amount=1,
                                   tags={**sent.tags, 0x9F02: bytes.fromhex("000000000001")})
    assert bank.authorise(tampered).response_code == "05"  # the amount changed after the card signed it


def test_a_lost_answer_is_reversed_until_the_bank_acknowledges():
    bank = reference_bank()
    recorder = Recorder(bank, lose=[Authorisation], down=[Reversal])
    out = pos(recorder, 500, ONLINE).present(InProcessTransport(card("bank")))
    assert out.reason == "DECLINED" and out.detail.endswith("declined, reversed")  # taken at the retry
    kinds = [type(r).__name__ for r in recorder.sent]
    assert kinds == ["Authorisation", "Reversal", "Reversal"]  # the first reversal timed out, the second landed
    assert recorder.sent[1] == recorder.sent[2]  # the retry is the same request, same id
    assert recorder.sent[1].original_id == recorder.sent[0].request_id
    assert bank.ledger.account(PAN).balance == OPENING_BALANCE  # charged, then paid back once


def test_an_unacknowledged_reversal_goes_before_the_next_authorisation():
    bank, c = reference_bank(), card("bank")
    terminal = pos(Recorder(bank, lose=[Authorisation], down=[Reversal] * 3), 500, ONLINE)
    terminal.present(InProcessTransport(c))
    assert len(terminal.unacknowledged) == 1 and bank.ledger.account(PAN).balance == OPENING_BALANCE - 500
    terminal.bank = recorder = Recorder(bank)
    assert terminal.present(InProcessTransport(c)).reason == "APPROVED_ONLINE"
    assert [type(r).__name__ for r in recorder.sent] == ["Reversal", "Authorisation"]
    assert terminal.unacknowledged == [] and bank.ledger.account(PAN).balance == OPENING_BALANCE - 500


def test_the_pan_never_appears_in_a_masked_pos_trace():
    recorder = TraceRecorder()
    bank = Recorder(reference_bank())
    pos(bank, 500, ONLINE).present(InProcessTransport(card("bank"), tracers=[recorder]))
    pan = bytes.fromhex(bank.sent[0].pan)  # what the POS read from the card and sent online
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
