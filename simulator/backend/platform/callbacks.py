"""Status-change callbacks: a delivery queue in the store, driven by the injected clock.

Each status change enqueues one row per department that may see the card, with a stable event id
(`evt-<history row>`): a retry, or a redelivery after a crash between sending and recording, sends
the same id, so a receiver that drops ids it has seen applies each change once. `deliver_due`
sends what is due at the clock's time and schedules the next attempt from the published schedule
(platform.yaml `callbacks.retry_schedule_seconds`, seconds after the event) until a 2xx answer;
after the last attempt the delivery is `failed`. The sender is injected: an HTTP client in the
served process, a list in tests, so the whole schedule runs instantly.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from simulator.backend.store import Store
from simulator.faults import point

from .signing import callback_headers

#: (url, headers, body) -> the receiver's HTTP status, or None when it could not be reached
Sender = Callable[[str, dict[str, str], bytes], int | None]
#: crash point: the receiver has the callback, the platform has not recorded the delivery (it sends it again)
SENT = point("platform.callback.sent", "a callback was sent; its delivery is not recorded yet")


def enqueue(db, *, event_id: str, department: str, event: dict, now: int) -> None:
    """Queue one event for one department, inside the transaction that made the change."""
    body = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    db.execute("INSERT OR IGNORE INTO callbacks (event_id, department, body, created, next_at) VALUES (?, ?, ?, ?, ?)",
               (event_id, department, body, now, now))


def deliver_due(store: Store, *, now: int, schedule: list[int], send: Sender,
                crash: Callable[[str], None]) -> int:
    """Attempt every pending delivery due at `now`; the number attempted."""
    due = store.query(
        "SELECT c.event_id, c.department, c.body, c.created, c.attempts, d.secret, d.callback_url "
        "FROM callbacks c JOIN departments d ON d.id = c.department "
        "WHERE c.state = 'pending' AND c.next_at <= ? ORDER BY c.next_at, c.event_id", (now,))
    for row in due:
        body = row["body"].encode()
        headers = callback_headers(secret=row["secret"], event_id=row["event_id"], timestamp=now, body=body)
        status = send(row["callback_url"], headers, body) if row["callback_url"] else None
        crash(SENT)
        attempts = row["attempts"] + 1
        if status is not None and 200 <= status < 300:
            state, next_at = "delivered", now
        elif attempts < len(schedule):
            state, next_at = "pending", row["created"] + schedule[attempts]
        else:
            state, next_at = "failed", now
        with store.transaction() as db:
            db.execute("UPDATE callbacks SET attempts = ?, state = ?, next_at = ?, last_status = ? "
                       "WHERE event_id = ? AND department = ?",
                       (attempts, state, next_at, status, row["event_id"], row["department"]))
    return len(due)


def deliveries(store: Store, department: str) -> list[dict]:
    """A department's deliveries: event id, attempts, state, next attempt (Unix s), last status."""
    return [dict(row) for row in store.query(
        "SELECT event_id, attempts, state, next_at, last_status FROM callbacks WHERE department = ? "
        "ORDER BY created, event_id", (department,))]
