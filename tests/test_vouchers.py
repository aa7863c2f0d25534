"""The voucher service (simulator/backend/vouchers.py): issued and redeemed exactly once, never spent
twice, value never created or lost, state surviving a reopen; rules from the run's profile. And the
reference POS resending a redemption whose answer was lost, spending once."""

from __future__ import annotations

import random

import pytest

from conformance.adapters.sim import REFERENCE_TERMINALS
from simulator.backend.ports import IdConflict, Invalid, NotFound, Redemption, Unavailable, VoucherIssue, VoucherQuery
from simulator.backend.vouchers import VoucherService
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF, Clock
from simulator.profile import build
from simulator.transport import InProcessTransport

CARD, OTHER = "440100D1560000055A3C7E0000000441", "440100D1560000055A3C7E0000000442"


@pytest.fixture
def service():
    s = VoucherService(profile=build("national", "guangdong"))
    yield s
    s.close()


def _redemption(request_id: str, voucher_id: str = "V1", amount: int = 1500, card: str = CARD) -> Redemption:
    return Redemption(request_id=request_id, voucher_id=voucher_id, card_identifier=card, amount=amount,
                      terminal_id="POS0001", merchant_category="5942")


def test_the_national_profile_issues_no_voucher():
    with pytest.raises(Invalid, match="issues no vouchers"):
        VoucherService().issue(VoucherIssue("V1", CARD, "reading", 5000))


def test_an_issue_is_applied_once(service):
    first = service.issue(VoucherIssue("V1", CARD, "reading", 5000))
    again = service.issue(VoucherIssue("V1", CARD, "reading", 5000))
    assert first == again and service.totals() == {"issued": 5000, "remaining": 5000, "redeemed": 0}
    with pytest.raises(IdConflict):
        service.issue(VoucherIssue("V1", CARD, "reading", 9000))
    with pytest.raises(Invalid, match="category"):
        service.issue(VoucherIssue("V2", CARD, "gambling", 5000))


def test_a_redemption_is_applied_once_and_a_retry_gets_its_answer(service):
    service.issue(VoucherIssue("V1", CARD, "reading", 5000))
    first = service.redeem(_redemption("R1"))
    assert first.redeemed and first.remaining == 3500
    assert service.redeem(_redemption("R1")) == first
    assert service.voucher("V1").remaining == 3500
    with pytest.raises(IdConflict):
        service.redeem(_redemption("R1", amount=100))


def test_no_double_spend_and_no_other_cards_voucher(service):
    service.issue(VoucherIssue("V1", CARD, "tourism", 2000))
    assert service.redeem(_redemption("R1", amount=2000)).redeemed
    spent = service.redeem(_redemption("R2", amount=1))
    assert not spent.redeemed and spent.remaining == 0
    assert service.voucher("V1").status == "spent" and service.open_vouchers(VoucherQuery("Q", CARD)) == ()
    service.issue(VoucherIssue("V2", CARD, "tourism", 2000))
    stolen = service.redeem(_redemption("R3", "V2", amount=100, card=OTHER))
    assert not stolen.redeemed and "another card" in stolen.detail and service.voucher("V2").remaining == 2000
    assert not service.redeem(_redemption("R4", "V9")).redeemed
    with pytest.raises(NotFound):
        service.voucher("V9")


def test_value_is_never_created_or_lost(service):
    rng = random.Random(20261202)
    for n in range(20):
        service.issue(VoucherIssue(f"V{n}", rng.choice((CARD, OTHER)), rng.choice(("reading", "training")),
                                   rng.randrange(100, 5000)))
    for n in range(300):
        voucher = f"V{rng.randrange(20)}"
        card = service.voucher(voucher).card_identifier if rng.random() < 0.9 else OTHER
        request = _redemption(f"R{rng.randrange(200)}", voucher, rng.randrange(1, 3000), card)
        try:
            service.redeem(request)
        except IdConflict:
            continue
        totals = service.totals()
        assert totals["issued"] == totals["remaining"] + totals["redeemed"], (n, totals)
    assert all(service.voucher(f"V{n}").remaining >= 0 for n in range(20))


def test_the_state_survives_a_reopen(tmp_path):
    path, profile = tmp_path / "vouchers.sqlite3", build("national", "guangdong")
    first = VoucherService(path, profile=profile)
    first.issue(VoucherIssue("V1", CARD, "training", 5000))
    first.redeem(_redemption("R1"))
    first.close()
    again = VoucherService(path, profile=profile)
    assert again.voucher("V1").remaining == 3500 and again.redeem(_redemption("R1")).remaining == 3500
    again.close()


class AnswerLost:
    """The service behind a link that loses the answer of the first redemption, after it was applied."""

    def __init__(self, service: VoucherService) -> None:
        self.service, self.lost = service, 0

    def __getattr__(self, name: str):
        return getattr(self.service, name)

    def redeem(self, request: Redemption):
        answer = self.service.redeem(request)
        if not self.lost:
            self.lost += 1
            raise Unavailable("timeout")
        return answer


def test_the_pos_resends_a_redemption_whose_answer_was_lost_and_spends_once(service):
    profile = build("national", "guangdong")
    persona = personas.resolve("guangdong_voucher_holder", as_of=AS_OF, profile=profile)
    card_id = personas.chip_identifiers(persona, profile)[0]
    service.issue(VoucherIssue("V1", card_id, "reading", 5000))
    link = AnswerLost(service)
    pos = REFERENCE_TERMINALS["pos"](profile=profile, clock=Clock(), vouchers=link)
    card = CardOS(personas.image("guangdong_voucher_holder", as_of=AS_OF, profile=profile))
    decision = pos.redeem_voucher(InProcessTransport(card), pin=persona.pin)
    assert link.lost == 1 and decision.reason == "VOUCHER_REDEEMED"
    assert service.voucher("V1").remaining == 5000 - pos.amount
    assert service.totals()["redeemed"] == pos.amount
