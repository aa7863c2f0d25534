"""The platform the integration suite plays, in recording mode.

The suite certifies a department as the OpenID Foundation's suite certifies a relying party: it
*is* the server. It serves the platform's own app (profiles/national/platform_api.yaml) on a port
of this machine, and in front of it a recorder keeps every request the department sends (arrival
time, method, the request target as sent, headers, body) with the answer it got. A test may
inject answers first: a 429 or 503 with Retry-After, a 4xx, or a 503 *after* the platform applied
the request (the answer lost on the way back), each for the next request to one operation. What
the department did is then judged from this record, never from the department's own account.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

from simulator.backend.loopback import serving
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app
from simulator.backend.platform.serve import send_callback, wall_clock
from simulator.profile import Profile


@dataclass(frozen=True)
class Request:
    """One request the department sent, and the status it was answered (`injected`: by the suite)."""

    at: float
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    status: int
    injected: bool

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    def json(self) -> dict | None:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Injection:
    """The next `times` requests `method path` are answered `status` (after the platform applied
    them, when `applied`), with Retry-After when given."""

    method: str
    path: str
    status: int
    retry_after: int | None = None
    applied: bool = False
    times: int = 1


class RecordingPlatform:
    """The platform's app behind a recorder, served on `host` from a thread (a context manager);
    `advertise` is the host name the department reaches it by, when that is not `host`."""

    def __init__(self, *, profile: Profile, host: str = "127.0.0.1", advertise: str | None = None) -> None:
        self.platform = Platform(open_store(":memory:"), clock=wall_clock, seed=secrets.randbits(64),
                                 operator_secret=secrets.token_bytes(32), profile=profile)
        self.app = make_app(self.platform)
        self.requests: list[Request] = []
        self.injections: list[Injection] = []
        self._lock = threading.Lock()
        self.host, self.advertise, self.url = host, advertise, ""
        self._serving = ExitStack()

    def __enter__(self) -> RecordingPlatform:
        listening = self._serving.enter_context(serving(self, host=self.host))
        # where the department reaches the platform: the listening address, or the name advertised
        self.url = listening.replace(f"//{self.host}:", f"//{self.advertise}:") if self.advertise else listening
        return self

    def __exit__(self, *exc) -> None:
        self._serving.close()

    # -- what tests use ------------------------------------------------------------------------

    def inject(self, injection: Injection) -> None:
        with self._lock:
            self.injections.append(injection)

    def clear_injections(self) -> None:
        with self._lock:
            self.injections.clear()

    def mark(self) -> int:
        """A point in the record: `since(mark)` gives what came after it."""
        with self._lock:
            return len(self.requests)

    def since(self, mark: int) -> list[Request]:
        with self._lock:
            return list(self.requests[mark:])

    # -- the ASGI app: record, inject, else pass on ----------------------------------------------

    def _take(self, method: str, path: str) -> Injection | None:
        with self._lock:
            for injection in self.injections:
                if injection.method == method and injection.path == path:
                    injection.times -= 1
                    if injection.times <= 0:
                        self.injections.remove(injection)
                    return injection
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived, body, more = time.time(), b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = scope.get("query_string", b"")
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1") + \
            (f"?{query.decode('latin-1')}" if query else "")
        answered: dict[str, int] = {}

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def forward(message: dict) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        async def drop(message: dict) -> None:
            return None

        injection = self._take(scope["method"], scope["path"])
        if injection is None:
            await self.app(scope, replay, forward)
        else:
            if injection.applied:
                await self.app(scope, replay, drop)
            await _answer(send, injection)
            answered["status"] = injection.status
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self.requests.append(Request(arrived, scope["method"], target, headers, body, answered.get("status", 0),
                                         injected=injection is not None))

    # -- the platform's side of the set-up --------------------------------------------------------

    def register(self, *, department_id: str, purpose: str, callback_url: str) -> bytes:
        """Register the department under its declared purpose; its secret."""
        return self.platform.register_department(department_id=department_id, name=department_id, purpose=purpose,
                                                 callback_url=callback_url)

    def deliver_callbacks(self) -> int:
        """Let the platform deliver what is due, over HTTP as it does when served."""
        timeout = self.platform.platform_profile["callbacks"]["timeout_seconds"]
        return self.platform.deliver_callbacks(lambda url, headers, body: send_callback(url, headers, body,
                                                                                        timeout=timeout))

    def events(self, department: str, card_number: str) -> list[tuple[str, bytes]]:
        """The status-change callbacks the platform queued for `department` about the card, oldest
        first: (event id, body as the platform sends it)."""
        rows = self.platform.store.query("SELECT event_id, body FROM callbacks WHERE department = ? ORDER BY created, "
                                         "rowid", (department,))
        return [(row["event_id"], row["body"].encode()) for row in rows
                if json.loads(row["body"])["card_number"] == card_number]

    def usage_events(self, department: str, card_number: str) -> list[dict]:
        """The card-use reports the platform holds from `department` about the card, in the order it took them."""
        return [dict(row) for row in self.platform.store.query(
            "SELECT event_id, kind, at FROM usage_events WHERE department = ? AND card_number = ? ORDER BY rowid",
            (department, card_number))]


async def _answer(send, injection: Injection) -> None:
    body = json.dumps({"error": "injected", "detail": f"the suite answers {injection.status} here"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if injection.retry_after is not None:
        headers.append((b"retry-after", str(injection.retry_after).encode()))
    await send({"type": "http.response.start", "status": injection.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
