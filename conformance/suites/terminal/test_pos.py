"""The POS follows the card's decision (transit-payment.md §2 flow step 5): a TC is approved
offline and debits the electronic cash, an ARQC goes to the bank, an AAC is declined."""

from __future__ import annotations

import pytest

from conformance.verdicts import not_tested
from simulator.backend.ports import VoucherIssue

from . import _harness as h
from ._bank import HarnessBank


def _card_said(terminal, shown) -> str:
    said = h.card_decisions(shown.trace)
    assert said, f"{terminal.name} never asked the card for its decision (no GET PROCESSING OPTIONS answered)"
    return said[-1]


@pytest.mark.clause("TERM-POS-001")
@pytest.mark.requires("qpboc")
def test_a_tc_is_approved_offline_and_debits_the_electronic_cash(harness, terminal):
    c = harness.card("bank")
    before = h.money(c)
    shown = harness.show(terminal, h.CardDecides(c, "TC"), "card approving offline (TC)")
    said = _card_said(terminal, shown)
    if said != "TC":
        not_tested(f"the card answered {said}: {terminal.name}'s amount is above the card's offline limit",
                   need="a terminal amount within the test card's offline limit")
    decision, after = shown.decision, h.money(c)
    spent = before.ec - after.ec
    assert decision["reason"] == "APPROVED_OFFLINE", (
        f"{terminal.name} answered the card's offline approval (TC) with {decision['reason']}; "
        f"expected APPROVED_OFFLINE (the card has already debited {spent} fen of electronic cash)")
    assert decision["debited"] == decision["amount"] == spent, (
        f"{terminal.name} records {decision['debited']} fen debited for {decision['amount']}; the card's "
        f"electronic cash went down by {spent}")


@pytest.mark.clause("TERM-POS-002")
@pytest.mark.requires("qpboc", "online_authorisation")
def test_an_arqc_is_authorised_online(harness, terminal):
    c = harness.card("bank")
    before = h.money(c)
    shown = harness.show(terminal, h.CardDecides(c, "ARQC"), "card asking to go online (ARQC)")
    said = _card_said(terminal, shown)
    assert said == "ARQC", f"the harness's card answered {said}, not ARQC"
    decision = shown.decision
    assert decision["reason"] == "APPROVED_ONLINE", (
        f"{terminal.name} answered the card's ARQC with {decision['reason']}; expected APPROVED_ONLINE after the "
        f"bank's approval (the bank approves this account)")
    assert h.money(c) == before and decision["debited"] == 0, (
        f"{terminal.name}: an online approval moved the card's electronic cash ({before.ec} -> {h.money(c).ec}, "
        f"decision debited {decision['debited']})")


@pytest.mark.clause("TERM-POS-003")
@pytest.mark.requires("qpboc")
def test_an_expired_financial_application_is_declined(harness, terminal):
    c = harness.card("bank_expired_app")
    before = h.money(c)
    shown = harness.show(terminal, c, "card whose QuickPass application expired yesterday")
    said = _card_said(terminal, shown)
    decision = shown.decision
    assert not decision["accepted"] and decision["reason"] == "DECLINED", (
        f"{terminal.name} answered an expired application (card decision {said}) with {decision['reason']} "
        f"(accepted={decision['accepted']}); expected DECLINED")
    assert h.money(c) == before and decision["debited"] == 0, (
        f"{terminal.name} declined but the card's electronic cash changed: {before.ec} -> {h.money(c).ec}")


# -- regional clauses (collected for the region whose profile adds them) ----------------------------------

@pytest.mark.clause("ZZ-FIN-002")
@pytest.mark.requires("qpboc", "online_authorisation", "bank_control")
def test_a_card_whose_financial_account_is_not_activated_pays_nothing(harness, terminal):
    """The card decides by its own risk management (no `CardDecides`): within its offline limit it
    approves the sale itself unless the POS asks it for an online cryptogram, and only the bank
    knows that its account is not activated. Judged on the card (no offline approval, its
    electronic cash as it was) and on the books of the bank the harness plays."""
    persona = "zhengzhou_inactive_finance"
    pan, activated = harness.financial_account(persona)
    if activated:
        raise h.HarnessError(f"the {persona} persona's financial account is activated: it cannot show ZZ-FIN-002")
    c = harness.card(persona)
    before = h.money(c)
    bank = HarnessBank(harness.profile)
    terminal.connect_bank(bank)
    try:
        shown = harness.show(terminal, c, "card whose financial account is not activated")
    finally:
        terminal.connect_bank(None)
    said, offline = h.card_decisions(shown.trace), harness.profile["qpboc"]["risk"]["debit_on"]
    assert offline not in said and h.money(c) == before, (
        f"{terminal.name} let a card whose financial account is not activated approve the sale offline (card "
        f"decisions {', '.join(said) or 'none'}; electronic cash {before.ec} -> {h.money(c).ec} fen): it never "
        f"asked the card for an online cryptogram, so the bank could not refuse it")
    asked = bank.authorisations(pan)
    assert asked, f"{terminal.name} never asked the bank about the card (card decisions {', '.join(said) or 'none'})"
    paid = len(bank.paid_by(pan))  # a count: the requests carry the card's PAN, kept out of the report
    assert paid == 0, f"the bank approved {paid} debit(s) of a card whose financial account is not activated"
    decision = shown.decision
    assert not decision["accepted"] and decision["debited"] == 0, (
        f"{terminal.name} answered {decision['reason']} (accepted={decision['accepted']}, debited "
        f"{decision['debited']} fen) after the bank declined the card ({asked[-1].answer.response_code}); expected "
        f"a declined sale")


# -- consumption vouchers (Guangdong: 粤人社函〔2021〕195号), judged by what the voucher service holds --
VOUCHER_VALUE = 5000  # fen issued per voucher: more than a sale at a POS


def _issued(harness, terminal, persona: str, *, allowed: bool):
    """A fresh voucher service the terminal redeems through, holding one voucher of `persona`'s card
    of a category that may (`allowed`) or may not be spent at the terminal's merchant: (service, id)."""
    categories = harness.oracle.voucher_categories(terminal.merchant_category, allowed=allowed)
    if not categories:
        not_tested(f"no voucher category of the profile {'may' if allowed else 'may not'} be spent at merchant "
                   f"category {terminal.merchant_category}", need="a voucher category of that kind")
    service = harness.voucher_service(terminal)
    voucher_id = f"{persona}-{categories[0]}"
    service.issue(VoucherIssue(voucher_id, harness.card_identifier(persona), categories[0], VOUCHER_VALUE))
    return service, voucher_id


def _unspent(service, voucher_id: str, terminal, shown, what: str) -> None:
    remaining = service.voucher(voucher_id).remaining
    assert remaining == VOUCHER_VALUE, (
        f"{terminal.name} spent {VOUCHER_VALUE - remaining} fen of a voucher {what} (its answer: "
        f"{shown.decision['reason']}); the voucher service holds {remaining} of {VOUCHER_VALUE}")


@pytest.mark.clause("GD-VOUCH-001")
@pytest.mark.requires("vouchers")
def test_a_voucher_is_redeemed_only_after_the_holders_pin(harness, terminal):
    persona = "guangdong_voucher_holder"
    service, voucher_id = _issued(harness, terminal, persona, allowed=True)
    c = harness.card(persona)
    right = harness.pin(persona)
    wrong = "".join(str((int(digit) + 1) % 10) for digit in right)
    for pin, what in ((None, "without a PIN"), (wrong, "with a PIN the card refused")):
        shown = harness.redeem(terminal, c, f"voucher card {what}", pin=pin)
        _unspent(service, voucher_id, terminal, shown, what)
    shown = harness.redeem(terminal, c, "voucher card with the holder's PIN", pin=right)
    remaining = service.voucher(voucher_id).remaining
    assert remaining < VOUCHER_VALUE, (
        f"{terminal.name} redeemed nothing of a voucher its merchant accepts with the holder's PIN (its answer: "
        f"{shown.decision['reason']} {shown.decision['detail']})")


@pytest.mark.clause("GD-VOUCH-002")
@pytest.mark.requires("vouchers")
def test_a_lost_cards_vouchers_are_not_spent(harness, terminal):
    _judge_unspent_with_pin(harness, terminal, "guangdong_voucher_lost", allowed=True, what="of a card reported lost")


@pytest.mark.clause("GD-VOUCH-003")
@pytest.mark.requires("vouchers")
def test_a_voucher_is_spent_only_where_its_category_allows(harness, terminal):
    _judge_unspent_with_pin(harness, terminal, "guangdong_voucher_holder", allowed=False,
                            what=f"whose category may not be spent at merchant category {terminal.merchant_category}")


def _judge_unspent_with_pin(harness, terminal, persona: str, *, allowed: bool, what: str) -> None:
    """A voucher (of a category the merchant may, `allowed`, or may not take) of `persona`'s card,
    presented with the holder's PIN, is left as it was issued."""
    service, voucher_id = _issued(harness, terminal, persona, allowed=allowed)
    shown = harness.redeem(terminal, harness.card(persona), f"voucher {what}, with the holder's PIN",
                           pin=harness.pin(persona))
    _unspent(service, voucher_id, terminal, shown, what)
