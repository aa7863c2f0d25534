"""The reference bank's logic (simulator/backend/bank.py, disbursement.py, ledger.py, cryptogram.py).

The oracles: the card itself (a genuine cryptogram is what the card computed, captured from a
POS; the bank's own code path must agree with it and refuse anything changed), the ledger's
double entry (every balance sums to zero), and the sums a test adds up itself.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signed_requests import genuine

from simulator.backend.bank import ACQUIRER, TRANSIT, Bank
from simulator.backend.cryptogram import CryptogramRule
from simulator.backend.disbursement import Disbursements, payer_account
from simulator.backend.ledger import AFTER_COMMIT, BEFORE_COMMIT, Ledger
from simulator.backend.ports import (
    AccountOpening,
    Authorisation,
    Batch,
    IdConflict,
    Item,
    ItemReturn,
    NotFound,
    Refused,
    Reversal,
    TransitCharge,
)
from simulator.card.apps import qpboc
from simulator.faults import FaultPlan, PowerLost
from simulator.profile import national

PAN, OTHER = "6299990000000017", "6299990000000025"


@pytest.fixture
def bank() -> Bank:
    bank = Bank()
    bank.ledger.open_account(AccountOpening(PAN, 1, 10_000))
    return bank


def postings(ledger: Ledger, kind: str) -> list:
    return [tuple(r) for r in ledger.store.query("SELECT debit, credit, amount FROM postings WHERE kind = ?", (kind,))]


# -- the cryptogram ---------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["bank", "bank_sm4"])
def test_the_banks_own_check_accepts_what_the_card_signed_and_nothing_changed(persona):
    rule = CryptogramRule.from_profile()
    request = genuine(persona)[0]
    assert rule.verifies(pan=request.pan, pan_sequence=request.pan_sequence, tags=request.tags) == (True, "")
    for tag in (0x9F02, 0x9F37, 0x9F36, 0x9A, 0x9F26):
        changed = {**request.tags, tag: bytes([request.tags[tag][0] ^ 1]) + request.tags[tag][1:]}
        assert not rule.verifies(pan=request.pan, pan_sequence=request.pan_sequence, tags=changed)[0], hex(tag)
    assert not rule.verifies(pan=OTHER, pan_sequence=1, tags=request.tags)[0]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["3des", "sm4"]), st.binary(min_size=4, max_size=4), st.binary(min_size=2, max_size=2),
       st.integers(0, 10**12 - 1))
def test_the_banks_cryptogram_equals_the_cards_on_any_field55(algorithm, unpredictable, atc, amount):
    """Differential: the card's code (qpboc.compute_cryptogram) and the bank's, written apart."""
    tags = {**genuine()[0].tags, 0x9F37: unpredictable, 0x9F36: atc, 0x9F02: bytes.fromhex(f"{amount:012d}")}
    master = bytes.fromhex(national()["qpboc"]["test_keys"]["ac"][algorithm])
    card = qpboc.compute_cryptogram(algorithm=algorithm, master_key=master, pan=PAN, pan_sequence=1, tags=tags)
    assert CryptogramRule.from_profile().expected(algorithm=algorithm, pan=PAN, pan_sequence=1, tags=tags) == card


# -- authorisation ----------------------------------------------------------------------------
def test_an_authorisation_is_approved_once_and_paid_to_the_acquirer(bank):
    request = genuine()[0]
    first = bank.authorise(request)
    assert (first.approved, first.response_code) == (True, "00")
    assert bank.authorise(request) == first  # the retry gets the saved answer
    assert bank.ledger.account(PAN).balance == 10_000 - 500
    assert postings(bank.ledger, "purchase") == [(PAN, ACQUIRER, 500)]
    assert bank.ledger.total() == 0


def test_the_same_request_id_with_other_content_is_a_conflict(bank):
    request = genuine()[0]
    bank.authorise(request)
    with pytest.raises(IdConflict, match=request.request_id):
        bank.authorise(dataclasses.replace(request, terminal_id="POS9"))
    assert bank.ledger.account(PAN).balance == 10_000 - 500


@pytest.mark.parametrize(("change", "code", "why"), [
    (dict(pan=OTHER), "14", "no such account"),
    (dict(pan_sequence=2), "14", "no such account"),
    (dict(amount=499), "30", "amount"),
    (dict(tags={0x9F02: bytes.fromhex("000000000500")}), "30", "format error"),
])
def test_authorisations_the_bank_refuses(bank, change, code, why):
    request = dataclasses.replace(genuine()[0], **change)
    answer = bank.authorise(request)
    assert (answer.approved, answer.response_code) == (False, code) and why in answer.detail
    assert bank.ledger.account(PAN).balance == 10_000


def test_a_closed_account_an_empty_one_and_an_unknown_algorithm_are_refused(bank):
    first, second, third = genuine(count=3, amount=20_000)
    assert bank.authorise(first).response_code == "51"
    iad = bytearray(second.tags[0x9F10])
    iad[7] = 0x09  # an algorithm id the profile does not list
    odd = bank.authorise(dataclasses.replace(second, tags={**second.tags, 0x9F10: bytes(iad)}))
    assert odd.response_code == "05" and "algorithm" in odd.detail
    bank.ledger.close_account(PAN)
    assert bank.authorise(third).response_code == "62"
    assert bank.ledger.account(PAN).balance == 10_000


def test_a_cryptogram_is_accepted_once_whatever_the_request_id(bank):
    request = genuine()[0]
    bank.authorise(request)
    replay = bank.authorise(dataclasses.replace(request, request_id="another"))
    assert replay.response_code == "05" and "replayed" in replay.detail
    assert bank.ledger.account(PAN).balance == 10_000 - 500


# -- reversal ---------------------------------------------------------------------------------
def test_a_reversal_pays_back_once_however_often_it_comes(bank):
    request = genuine()[0]
    bank.authorise(request)
    reversal = Reversal("r1", request.request_id, 500, "POS1")
    assert bank.reverse(reversal).acknowledged and bank.reverse(reversal).acknowledged
    again = bank.reverse(dataclasses.replace(reversal, request_id="r2"))
    assert again.acknowledged and "already reversed by r1" in again.detail
    assert bank.ledger.account(PAN).balance == 10_000
    assert postings(bank.ledger, "reversal") == [(ACQUIRER, PAN, 500)]


def test_a_reversal_before_its_original_declines_the_late_original(bank):
    request = genuine()[0]
    early = bank.reverse(Reversal("r1", request.request_id, 500, "POS1"))
    assert early.acknowledged and "no such authorisation" in early.detail
    late = bank.authorise(request)
    assert (late.approved, late.response_code) == (False, "05") and "reversed by r1" in late.detail
    assert bank.ledger.account(PAN).balance == 10_000


def test_a_reversal_must_match_its_original(bank):
    request = genuine()[0]
    bank.authorise(request)
    with pytest.raises(IdConflict, match="500"):
        bank.reverse(Reversal("r1", request.request_id, 400, "POS1"))
    assert bank.ledger.account(PAN).balance == 10_000 - 500


def test_a_declined_original_needs_no_money_back(bank):
    request = dataclasses.replace(genuine()[0], pan_sequence=2)
    bank.authorise(request)
    assert "nothing to reverse" in bank.reverse(Reversal("r1", request.request_id, 500, "POS1")).detail
    assert bank.ledger.account(PAN).balance == 10_000


# -- deferred transit charge ------------------------------------------------------------------
def test_a_transit_charge_is_checked_and_charged_once(bank):
    ride = genuine()[0]
    charge = TransitCharge(ride.request_id, ride.pan, ride.pan_sequence, 500, "BUS1", ride.tags)
    assert bank.charge_transit(charge).charged and bank.charge_transit(charge).charged
    assert postings(bank.ledger, "transit") == [(PAN, TRANSIT, 500)]
    forged = dataclasses.replace(charge, request_id="t2", tags={**ride.tags, 0x9F26: bytes(8)})
    assert bank.charge_transit(forged).response_code == "05"
    assert bank.ledger.account(PAN).balance == 10_000 - 500


# -- disbursement -----------------------------------------------------------------------------
@pytest.fixture
def office(bank) -> Disbursements:
    office = Disbursements(bank.ledger)
    bank.ledger.open_account(AccountOpening(OTHER, 1, 0))
    office.open_batch(Batch("B1", "office", 3, 600))
    return office


def test_a_batch_pays_each_item_once_and_refuses_unknown_accounts(office):
    items = (Item("i1", PAN, 100), Item("i2", OTHER, 200), Item("i3", "6299990000000033", 300))
    results = office.pay("B1", items)
    assert [(r.status, r.detail[:16]) for r in results] == [("paid", ""), ("paid", ""), ("refused", "no such account:")]
    assert office.pay("B1", items) == results  # the replay: saved results, nothing paid again
    assert office.ledger.account(OTHER).balance == 200
    assert office.ledger.account(PAN).balance == 10_100
    r = office.reconcile("B1")
    assert (r.received_count, r.received_amount, r.paid_count, r.paid_amount) == (3, 600, 2, 300)
    assert (r.refused_count, r.refused_amount, r.ledger_amount, r.balanced) == (1, 300, 300, True)
    assert office.ledger.total() == 0


def test_a_conflicting_item_refuses_its_whole_call(office):
    office.pay("B1", (Item("i1", PAN, 100),))
    with pytest.raises(IdConflict, match="i1"):
        office.pay("B1", (Item("i2", OTHER, 200), Item("i1", PAN, 101)))
    assert office.reconcile("B1").received_count == 1  # i2 was not applied either
    assert office.ledger.account(OTHER).balance == 0


def test_items_past_the_announced_totals_are_refused(office):
    with pytest.raises(Refused, match="announced"):
        office.pay("B1", (Item("i1", PAN, 100), Item("i2", PAN, 501)))
    with pytest.raises(IdConflict):
        office.open_batch(Batch("B1", "office", 3, 601))
    with pytest.raises(NotFound):
        office.pay("B2", (Item("i1", PAN, 100),))


def test_a_returned_item_is_paid_back_and_reissued_once(office):
    office.pay("B1", (Item("i1", OTHER, 200),))
    office.ledger.close_account(OTHER)  # cancelled card: the payment is sent back
    assert office.return_items("B1", (ItemReturn("i1", "account closed"),))[0].returned
    assert office.return_items("B1", (ItemReturn("i1", "account closed"),))[0].returned  # replay
    with pytest.raises(IdConflict):
        office.return_items("B1", (ItemReturn("i1", "name mismatch"),))
    assert office.ledger.account(OTHER).balance == 0
    reissue = Item("i1-r", PAN, 200, reissue_of="i1")
    assert office.pay("B1", (reissue,))[0].status == "paid"
    twice = office.pay("B1", (Item("i1-r2", PAN, 200, reissue_of="i1"),))[0]
    assert twice.status == "refused" and "already re-issued as 'i1-r'" in twice.detail
    assert office.pay("B1", (Item("x", PAN, 5, reissue_of="i9"),))[0].status == "refused"
    r = office.reconcile("B1")
    assert (r.returned_count, r.reissued_count, r.outstanding_count, r.paid_amount, r.ledger_amount) == (1, 1, 0, 200,
                                                                                                        200)
    assert office.ledger.account(PAN).balance == 10_200
    assert office.ledger.store.query("SELECT balance FROM accounts WHERE id = ?", (payer_account("office"),))[0][0] \
        == -200


# -- crash between any two steps --------------------------------------------------------------
def _scenario(ledger: Ledger, request: Authorisation) -> None:
    """A day's work, each step retried as a client would after losing the answer."""
    bank, office = Bank(ledger), Disbursements(ledger)
    steps = [
        lambda: ledger.open_account(AccountOpening(PAN, 1, 10_000)),
        lambda: ledger.open_account(AccountOpening(OTHER, 1, 0)),
        lambda: bank.authorise(request),
        lambda: bank.reverse(Reversal("r1", request.request_id, 500, "POS1")),
        lambda: office.open_batch(Batch("B1", "office", 2, 300)),
        lambda: office.pay("B1", (Item("i1", PAN, 100), Item("i2", OTHER, 200))),
        lambda: office.return_items("B1", (ItemReturn("i2", "account closed"),)),
        lambda: office.pay("B1", (Item("i2-r", PAN, 200, reissue_of="i2"),)),
    ]
    for step in steps:
        step()


def test_a_crash_at_any_fault_point_never_pays_twice_nor_loses_a_payment(tmp_path):
    request = genuine()[0]
    counting = FaultPlan()
    _scenario(Ledger(tmp_path / "count.db", crash=counting.hit), request)
    assert set(counting.hits) == {BEFORE_COMMIT, AFTER_COMMIT, "bank.between_items"}
    for n in range(counting.total):
        path, plan = tmp_path / f"crash{n}.db", FaultPlan().arm(at=n)
        with pytest.raises(PowerLost):
            _scenario(Ledger(path, crash=plan.hit), request)
        _scenario(Ledger(path), request)  # restarted: the client replays everything from the start
        ledger = Ledger(path)
        assert ledger.account(PAN).balance == 10_000 + 100 + 200, f"crash at hit {n} ({plan.trail[-1]})"
        assert ledger.account(OTHER).balance == 0
        assert ledger.total() == 0
        assert len(ledger.store.query("SELECT * FROM postings WHERE kind = 'disbursement'")) == 3
