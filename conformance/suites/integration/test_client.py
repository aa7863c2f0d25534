"""The department as a client: its own flow runs against the platform the suite plays, and the
record of what it sent is judged (DEPT-SIGN, DEPT-IDEM, DEPT-RETRY, DEPT-CARD, DEPT-PURP, and the
regional clauses ZZ-FIN, HB-ID, SC-DR, SC-ID, GD-CARD, and for a library's loans SC-LIB and GD-LIB, when the
run's region adds them)."""

from __future__ import annotations

import pytest

from conformance.verdicts import not_applicable

from ._harness import SLACK_SECONDS, requests_to
from ._platform import Injection

pytestmark = pytest.mark.requires("card_status")


def _flow(session, card: dict):
    """Run the department's flow for `card`: (its outcome, what it sent the platform meanwhile)."""
    mark = session.platform.mark()
    outcome = session.department.run_flow(card)
    return outcome, session.platform.since(mark)


def _listing(requests) -> str:
    return ", ".join(f"{r.method} {r.target} -> {r.status}" for r in requests) or "nothing"


@pytest.mark.clause("DEPT-SIGN-001")
def test_every_request_is_signed(session):
    outcome, sent = _flow(session, session.holder())
    assert sent, f"{session.department.name} served ({outcome['outcome']}) without asking the platform anything"
    wrong = [p for r in sent for p in session.signature_problems(r)]
    assert not wrong, f"{session.department.name}'s requests are not signed as the profile says: {'; '.join(wrong)}"


@pytest.mark.clause("DEPT-SIGN-002")
def test_timestamps_are_fresh_and_nonces_unique(session):
    _flow(session, session.holder())
    _flow(session, session.holder())
    sent = session.platform.since(0)
    tolerance = session.platform_profile["request_signing"]["tolerance_seconds"]
    stale = [f"{r.method} {r.path} stamped {r.headers.get('x-timestamp')!r}, arrived {r.at:.0f}" for r in sent
             if not (r.headers.get("x-timestamp", "").isdigit() and abs(int(r.headers["x-timestamp"]) - r.at)
                     <= tolerance)]
    assert not stale, f"{session.department.name} sent requests outside the {tolerance} s tolerance: {'; '.join(stale)}"
    nonces = [r.headers.get("x-nonce") for r in sent if r.headers.get("x-nonce")]
    repeated = sorted({n for n in nonces if nonces.count(n) > 1})
    assert not repeated, f"{session.department.name} used the X-Nonce(s) {', '.join(repeated)} more than once"


@pytest.mark.clause("DEPT-IDEM-001")
@pytest.mark.requires("data_return")
def test_a_report_is_retried_with_its_own_event_id(session):
    card = session.holder()
    session.platform.inject(Injection("POST", "/usage-events", 503, retry_after=1, applied=True))
    outcome, sent = _flow(session, card)
    reports = [r.json() for r in requests_to(sent, "POST", "/usage-events")]
    assert len(reports) >= 2, (f"{session.department.name} did not send its data-return report again after a 503 "
                               f"(it sent {_listing(sent)})")
    ids = {report.get("event_id") for report in reports}
    assert len(ids) == 1 and None not in ids, (
        f"{session.department.name} retried its report with event_id(s) {sorted(map(str, ids))}: a retry keeps "
        f"the id so the platform holds the use once")
    assert all(report == reports[0] for report in reports), \
        f"{session.department.name} changed the report's content between attempts (same event_id)"
    held = session.platform.usage_events(session.department_id, card["card_number"])
    assert len(held) == 1, f"the platform holds {len(held)} uses of one service from {session.department.name}"
    assert outcome["outcome"] == "served", (
        f"{session.department.name} answered {outcome['outcome']} ({outcome['reason']}) though its retried "
        f"report was taken")


@pytest.mark.clause("DEPT-RETRY-001")
@pytest.mark.parametrize("status", [429, 503])
def test_it_waits_out_retry_after(session, status):
    card = session.holder()
    path = f"/cards/{card['card_number']}"
    session.platform.inject(Injection("GET", path, status, retry_after=1))
    outcome, sent = _flow(session, card)
    looked = requests_to(sent, "GET", path)
    assert len(looked) >= 2, f"{session.department.name} did not try again after a {status} ({_listing(sent)})"
    waited = looked[1].at - looked[0].at
    assert waited >= 1 - SLACK_SECONDS, (
        f"{session.department.name} asked again {waited:.2f} s after a {status} with Retry-After: 1")
    assert outcome["outcome"] == "served", f"{session.department.name} did not serve once the platform answered " \
                                           f"({outcome['outcome']}: {outcome['reason']})"


@pytest.mark.clause("DEPT-RETRY-001")
def test_it_gives_up_after_the_attempts_allowed(session):
    card = session.holder()
    path, attempts = f"/cards/{card['card_number']}", session.platform_profile["clients"]["max_attempts"]
    session.platform.inject(Injection("GET", path, 503, retry_after=1, times=attempts + 5))
    outcome, sent = _flow(session, card)
    looked = requests_to(sent, "GET", path)
    assert len(looked) <= attempts, (f"{session.department.name} asked {len(looked)} times for a card the platform "
                                     f"kept answering 503; the profile allows {attempts}")
    assert outcome["outcome"] != "served", f"{session.department.name} served a card whose status it never learnt"


@pytest.mark.clause("DEPT-RETRY-002")
@pytest.mark.parametrize(("method", "where", "status"), [("GET", "card", 404), ("POST", "/usage-events", 422)])
def test_a_4xx_is_final(session, method, where, status):
    card = session.holder()
    path = f"/cards/{card['card_number']}" if where == "card" else where
    session.platform.inject(Injection(method, path, status, times=10))
    outcome, sent = _flow(session, card)
    tried = requests_to(sent, method, path)
    assert tried, f"{session.department.name}'s flow never sent {method} {path} ({_listing(sent)})"
    assert len(tried) == 1, f"{session.department.name} sent {method} {path} {len(tried)} times after a {status}"
    assert outcome["outcome"] != "served", (
        f"{session.department.name} answered served though the platform refused {method} {path} with {status}")


def _not_served(session, card: dict, why: str) -> None:
    outcome, sent = _flow(session, card)
    assert outcome["outcome"] == "refused", (
        f"{session.department.name} answered {outcome['outcome']} ({outcome['reason']}) for {why}; it must refuse")
    reported = [r for r in requests_to(sent, "POST", "/usage-events")
                if (r.json() or {}).get("card_number") == card["card_number"]]
    assert not reported, f"{session.department.name} reported a use of {why}"


@pytest.mark.clause("DEPT-CARD-001")
def test_a_lost_card_is_not_served(session):
    session.served()
    card = session.served()
    session.transition(card, "report_lost")
    _not_served(session, card, "a card the platform reports lost")


@pytest.mark.clause("DEPT-CARD-002")
def test_a_cancelled_card_is_not_served(session):
    card = session.served()
    session.transition(card, "cancel")
    _not_served(session, card, "a cancelled card")


@pytest.mark.clause("DEPT-CARD-002")
def test_a_reissued_card_supersedes_the_old_one(session):
    card = session.served()
    new = session.transition(card, "reissue")
    _not_served(session, card, "a card superseded by a reissue")
    outcome, sent = _flow(session, new)
    assert outcome["outcome"] == "served", (
        f"{session.department.name} did not serve the card that superseded the holder's old one "
        f"({outcome['outcome']}: {outcome['reason']}; it sent {_listing(sent)})")


@pytest.mark.clause("DEPT-PURP-001")
def test_it_calls_only_what_its_purpose_permits_about_its_holder(session):
    card = session.holder()
    outcome, sent = _flow(session, card)
    forbidden = [r for r in sent if r.status == 403]
    assert not forbidden, (f"{session.department.name} (purpose {session.department.purpose}) asked the platform "
                           f"for what its purpose does not permit: {_listing(forbidden)}")
    others = sorted({n for r in sent for n in session.cards_named(r)} - {card["card_number"]})
    assert not others, f"{session.department.name} asked about {len(others)} card(s) other than its holder's"
    assert outcome["outcome"] == "served", f"{session.department.name} did not serve a usable card " \
                                           f"({outcome['outcome']}: {outcome['reason']})"


@pytest.mark.clause("DEPT-PURP-002")
def test_it_keeps_only_what_its_purpose_may_read(session):
    card = session.served()
    held = session.held(card)
    assert held is not None, f"{session.department.name} served a holder and holds nothing of the card"
    beyond = sorted(set(held["kept"]) - set(session.purpose["fields"]))
    allowed = ", ".join(session.purpose["fields"])
    assert not beyond, (f"{session.department.name} (purpose {session.department.purpose}) keeps "
                        f"{', '.join(beyond)} of its holder; the purpose may read {allowed}")


# -- regional clauses (collected for the region whose profile adds them) ----------------------------------

@pytest.mark.clause("ZZ-FIN-001")
def test_nothing_is_paid_into_a_card_whose_financial_account_is_not_activated(session):
    purpose = session.department.purpose
    if "financial_active" not in session.purpose["fields"]:
        not_applicable(f"the declared purpose {purpose} does not pay into the card's financial account (its fields "
                       f"in platform.yaml purposes have no financial_active)")
    session.served()
    card = session.holder(financial_active=False)
    _not_served(session, card, "a card whose financial account is not activated")


@pytest.mark.clause("HB-ID-001")
@pytest.mark.requires("identity")
def test_the_holder_is_verified_at_every_service(session):
    card = session.served()
    for visit in ("a second", "a third"):
        outcome, sent = _flow(session, card)
        assert outcome["outcome"] == "served", (f"{session.department.name} did not serve {visit} visit of a usable "
                                                f"card ({outcome['outcome']}: {outcome['reason']})")
        assert requests_to(sent, "POST", "/identity/verifications"), (
            f"{session.department.name} served {visit} visit of a holder without verifying the holder's identity "
            f"at the platform (it sent {_listing(sent)}); the region checks holder data at every service")


@pytest.mark.clause("SC-DR-001")
@pytest.mark.requires("data_return")
def test_every_service_is_returned_to_the_platform(session):
    card = session.served()
    for _ in range(2):
        outcome, _sent = _flow(session, card)
        assert outcome["outcome"] == "served", (f"{session.department.name} did not serve a usable card again "
                                                f"({outcome['outcome']}: {outcome['reason']})")
    held = session.platform.usage_events(session.department_id, card["card_number"])
    assert len(held) == 3, (f"{session.department.name} served the holder 3 times; the platform holds {len(held)} "
                            f"use(s) of it: every card use is returned")


@pytest.mark.clause("GD-CARD-001")
def test_a_sealed_card_is_not_served_until_it_is_unsealed(session):
    card = session.served()
    session.transition(card, "seal")
    _not_served(session, card, "a card sealed in a cleanup (封存)")
    session.transition(card, "unseal")
    outcome, sent = _flow(session, card)
    assert outcome["outcome"] == "served", (f"{session.department.name} did not serve the card once it was unsealed "
                                            f"({outcome['outcome']}: {outcome['reason']}; it sent {_listing(sent)})")


def _only_the_current_card_is_served(session, persona: str, why: str) -> None:
    """One person one card: the holder's card the platform holds beside the current one (`persona`'s,
    imported) is refused with nothing returned, and the holder's current card is served."""
    current, other = session.beside_current_card(persona)
    _not_served(session, other, why)
    outcome, sent = _flow(session, current)
    assert outcome["outcome"] == "served", (f"{session.department.name} did not serve the holder's current card "
                                            f"({outcome['outcome']}: {outcome['reason']}; it sent {_listing(sent)})")


@pytest.mark.clause("GD-CARD-002")
def test_a_zombie_card_is_paid_nothing_and_the_current_card_is_paid(session):
    if "financial_active" not in session.purpose["fields"]:
        not_applicable(f"the declared purpose {session.department.purpose} pays nothing into a card (its fields in "
                       f"platform.yaml purposes have no financial_active)")
    _only_the_current_card_is_served(session, "guangdong_zombie",
                                     "a zombie card: one the platform holds that is not the holder's current card")


@pytest.mark.clause("SC-ID-001")
def test_a_duplicate_card_is_refused_and_the_current_card_served(session):
    _only_the_current_card_is_served(session, "sichuan_duplicate",
                                     "a duplicate card: one the platform holds beside the holder's current card")


# -- a library's loans (departments declaring `lending`): judged by the uses the platform holds ------------

def _lent(session, card: dict, item: str) -> None:
    """Positive control: the department lends `item` to the holder of a usable `card`."""
    outcome = session.department.lend(card, item)
    assert outcome["outcome"] == "served", (
        f"{session.department.name} did not lend {item} to a reader whose card is usable "
        f"({outcome['outcome']}: {outcome['reason']}): nothing else can be judged of its loans")


def _kinds(session, card: dict) -> list[str]:
    return [use["kind"] for use in session.platform.usage_events(session.department_id, card["card_number"])]


@pytest.mark.clause("SC-LIB-001")
@pytest.mark.requires("lending", "data_return")
def test_a_borrow_and_a_return_are_each_returned_and_the_return_closes_the_loan(session):
    reader, next_reader, item = session.holder(), session.holder(), session.item()
    _lent(session, reader, item)
    outcome = session.department.take_back(item)
    assert outcome["outcome"] == "served", (f"{session.department.name} did not take back {item}, which it lent "
                                            f"({outcome['outcome']}: {outcome['reason']})")
    uses = session.platform.usage_events(session.department_id, reader["card_number"])
    assert [use["kind"] for use in uses] == ["loan", "return"], (
        f"the platform holds {[use['kind'] for use in uses]} from {session.department.name} for a reader who "
        f"borrowed an item and returned it: the borrow and the return are each returned, as loan then return")
    assert len({use["event_id"] for use in uses}) == 2, \
        f"{session.department.name} reported the borrow and the return under one event_id"
    again = session.department.lend(next_reader, item)
    assert again["outcome"] == "served" and _kinds(session, next_reader) == ["loan"], (
        f"{session.department.name} answered {again['outcome']} ({again['reason']}) to the next reader's borrow of "
        f"a returned item and the platform holds {_kinds(session, next_reader)} for it: the return closes the loan, "
        f"so the item is lent again and that loan returned")


@pytest.mark.clause("GD-LIB-001")
@pytest.mark.requires("lending", "data_return")
def test_a_lost_card_cannot_borrow_but_the_item_it_holds_comes_back(session):
    reader, item = session.holder(), session.item()
    _lent(session, reader, item)
    session.transition(reader, "report_lost")
    refused = session.department.lend(reader, session.item())
    assert _kinds(session, reader) == ["loan"], (
        f"the platform holds {_kinds(session, reader)} from {session.department.name} for a reader who borrowed and "
        f"then tried to borrow again on the card reported lost: a lost card borrows nothing")
    assert refused["outcome"] == "refused", (f"{session.department.name} answered {refused['outcome']} "
                                             f"({refused['reason']}) for a borrow on a card reported lost")
    outcome = session.department.take_back(item, reader)
    assert _kinds(session, reader) == ["loan", "return"], (
        f"the platform holds {_kinds(session, reader)} from {session.department.name} for a lost card whose "
        f"reader brought back the item it held: the item is taken back and that return reported (loan, return)")
    assert outcome["outcome"] == "served", (f"{session.department.name} answered {outcome['outcome']} "
                                            f"({outcome['reason']}) to the return of an item held by a lost card")
    next_reader = session.holder()
    again = session.department.lend(next_reader, item)
    assert again["outcome"] == "served" and _kinds(session, next_reader) == ["loan"], (
        f"{session.department.name} answered {again['outcome']} ({again['reason']}) to the next reader's borrow of "
        f"the item the lost card held and the platform holds {_kinds(session, next_reader)} for it: the return "
        f"ended the lost card's loan, so the item is lent again")
