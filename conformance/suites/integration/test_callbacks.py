"""The department's callback endpoint, sent what the platform sends and what an attacker would:
its acknowledgement and its effect are judged (DEPT-CB-*). A negative case passes only if the
department refuses it, holds what it held, and does nothing further."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.requires("callbacks")


def _lost(session) -> tuple[dict, str, bytes]:
    """A served holder whose card the platform then reports lost: the card and that event."""
    card = session.served()
    session.transition(card, "report_lost")
    (event_id, body), = session.events(card)
    return card, event_id, body


def _lost_then_found(session) -> tuple[dict, tuple[str, bytes], tuple[str, bytes]]:
    """A served holder whose card the platform reports lost, then normal again: the card and both events."""
    card = session.served()
    session.transition(card, "report_lost")
    session.transition(card, "unreport")
    lost, unreported = session.events(card)
    return card, lost, unreported


def _holds(session, card: dict, status: str, why: str) -> None:
    held = session.held(card)
    assert held is not None and held["status"] == status, (
        f"{session.department.name} {why}, but holds the card as {held and held['status']}; it is {status}")


def _acknowledged(session, event_id: str, body: bytes, headers: dict | None = None) -> int:
    status = session.department.notify(headers or session.signed(event_id, body), body)
    assert 200 <= status < 300, (
        f"{session.department.name} answered {status} to the platform's signed callback {event_id}: the platform "
        f"retries what is not acknowledged with a 2xx")
    return status


@pytest.mark.clause("DEPT-CB-001")
def test_a_signed_callback_is_acknowledged_and_applied(session):
    card, event_id, body = _lost(session)
    _acknowledged(session, event_id, body)
    _holds(session, card, "lost", f"acknowledged the report of loss {event_id}")


@pytest.mark.clause("DEPT-CB-001")
def test_the_platforms_own_delivery_is_acknowledged(session):
    """The platform's delivery queue sends the callback itself (its signing, its HTTP client):
    the delivery must end `delivered` on the first attempt."""
    card = session.served()
    session.transition(card, "report_lost")
    (event_id, _), = session.events(card)
    session.platform.deliver_callbacks()
    delivery = next(d for d in session.platform.platform.deliveries(session.department_id) if d["event_id"] == event_id)
    assert delivery["state"] == "delivered", (
        f"the platform's delivery of {event_id} to {session.department.name} is {delivery['state']} after "
        f"{delivery['attempts']} attempt(s), last answered {delivery['last_status']}")
    _holds(session, card, "lost", f"acknowledged the platform's report of loss {event_id}")


@pytest.mark.clause("DEPT-CB-002")
def test_a_repeated_callback_is_applied_once(session):
    card, event_id, body = _lost(session)
    _acknowledged(session, event_id, body)
    _acknowledged(session, event_id, body, session.signed(event_id, body))
    times = session.applied().count(event_id)
    assert times == 1, f"{session.department.name} applied the callback {event_id} {times} times; the platform's " \
                       f"retry repeats its id so that it is applied once"


@pytest.mark.clause("DEPT-CB-003")
def test_an_older_callback_does_not_undo_a_newer_one(session):
    card, (lost_id, lost), (unreported_id, unreported) = _lost_then_found(session)
    _acknowledged(session, unreported_id, unreported)
    _acknowledged(session, lost_id, lost)
    _holds(session, card, "normal", f"was sent the report of loss {lost_id} after its lifting {unreported_id} "
                                    f"(which happened later)")


def _refused_and_nothing_followed(session, card: dict, headers: dict, body: bytes, what: str) -> None:
    before, mark = session.held(card), session.platform.mark()
    status = session.department.notify(headers, body)
    after = session.quiet_after(mark)
    assert 400 <= status < 500, f"{session.department.name} answered {status} to {what}; it must refuse it (4xx)"
    held = session.held(card)
    unchanged = held == before  # compared whole, shown by status only (what it keeps is personal data)
    assert unchanged, (f"{session.department.name} refused {what} but changed what it holds of the card (status "
                       f"{before and before['status']} -> {held and held['status']})")
    assert not after, (f"{session.department.name} called the platform after {what}: "
                       f"{', '.join(f'{r.method} {r.path}' for r in after)}; it must do nothing further")


@pytest.mark.clause("DEPT-CB-004")
@pytest.mark.parametrize("left_out", ["webhook-signature", "webhook-timestamp", "webhook-id", "all"])
def test_an_unsigned_callback_is_refused_and_nothing_follows(session, left_out):
    card = session.served()
    event_id, body = session.crafted(card)
    headers = {k: v for k, v in session.signed(event_id, body).items() if left_out not in ("all", k)}
    _refused_and_nothing_followed(session, card, headers, body, f"a callback without {left_out} header(s)")


@pytest.mark.clause("DEPT-CB-005")
@pytest.mark.parametrize("forgery", ["another key", "body changed after signing", "signature of another id"])
def test_a_forged_callback_is_refused_and_nothing_follows(session, forgery):
    card = session.served()
    event_id, body = session.crafted(card)
    if forgery == "another key":
        headers = session.signed(event_id, body, secret=bytes(32))
    elif forgery == "body changed after signing":
        _, genuine = session.crafted(card, status="normal", action="unreport")
        headers = session.signed(event_id, genuine)
    else:
        headers = {**session.signed("evt-other", body), "webhook-id": event_id}
    _refused_and_nothing_followed(session, card, headers, body, f"a callback signed with {forgery}")


@pytest.mark.clause("DEPT-CB-006")
@pytest.mark.parametrize("off", [-1, 1])
def test_a_stale_callback_is_refused_and_nothing_follows(session, off):
    card = session.served()
    event_id, body = session.crafted(card)
    tolerance = session.platform_profile["callbacks"]["tolerance_seconds"]
    now = int(session.platform.platform.now())
    headers = session.signed(event_id, body, timestamp=now + off * (tolerance + 60))
    when = f"{tolerance + 60} s {'ahead' if off > 0 else 'ago'}"
    _refused_and_nothing_followed(session, card, headers, body, f"a rightly signed callback stamped {when}")


@pytest.mark.clause("DEPT-CB-007")
def test_a_replayed_callback_changes_nothing(session):
    card, (lost_id, lost), (unreported_id, unreported) = _lost_then_found(session)
    captured = session.signed(lost_id, lost)
    _acknowledged(session, lost_id, lost, captured)
    _acknowledged(session, unreported_id, unreported)
    session.department.notify(captured, lost)  # the very bytes seen on the wire, sent again
    _holds(session, card, "normal", f"was sent a replay of {lost_id} after {unreported_id}")
    assert session.applied().count(lost_id) == 1, f"{session.department.name} applied {lost_id} again when replayed"
