"""A reference department system (部门业务系统) integrating with the 一卡通 platform.

It plays two parts (profiles/national/department_api.yaml): a *server* of the platform's
status-change callbacks, which it authenticates (Standard Webhooks headers, HMAC-SM3 with its
secret, national.platform `callbacks`), applies once per event id and in the order of the events'
`at`; and a *client* of the platform, whose every request is signed (`DepartmentClient`) and
retried only as national.platform `clients` allows (429/503 or no answer, after Retry-After, with
the same body, so a data-return report keeps its event_id). Its flow serves a card's holder:
identity, card status, the service, the data return. Of the holder it keeps only the fields its
declared purpose may read (PIPL art. 6; 郑州市人民政府令第249号 art. 13).

Each kind (kinds.py) says what its flow needs; the seeded-defect departments
(conformance/mutants/departments.py) override one method each. Time, sleeping and randomness are
injected, so the tests run the whole schedule instantly when they want to.
"""

from __future__ import annotations

import hmac
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

import httpx

from simulator.backend.platform.client import DepartmentClient
from simulator.backend.platform.signing import callback_headers
from simulator.ecode import epoch_seconds
from simulator.profile import Profile, national

CALLBACK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class CallbackRefused(Exception):
    """A callback the department does not accept: `code` is unsigned, stale_timestamp or bad_signature."""

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail)
        self.detail, self.code = detail, code


class NotConfigured(Exception):
    """The department was asked to serve before it was pointed at a platform."""


class Final(Exception):
    """The platform refused a request for good (a 4xx other than 429): `response` is its answer."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url.raw_path.decode()}: "
                         f"{response.status_code}")
        self.response = response


class Unavailable(Exception):
    """The platform did not answer, or still asked to retry, after every attempt allowed."""


@dataclass(frozen=True)
class PlatformLink:
    url: str
    department_id: str
    secret: bytes


class Department:
    """One department: its `kind`, declared `purpose`, the data-return kind of its service."""

    kind: ClassVar[str]
    zh: ClassVar[str]
    purpose: ClassVar[str]
    flow: ClassVar[str]
    use_kind: ClassVar[str]

    def __init__(self, *, clock: Callable[[], datetime], rng: random.Random, site: str = "reference",
                 sleep: Callable[[float], None] = time.sleep, link: PlatformLink | None = None,
                 profile: Profile | None = None) -> None:
        """`profile`: the run's profile (the national one by default), whose platform document
        says what the department's purpose lets it see and how a client behaves."""
        self.clock, self.rng, self.site, self.sleep = clock, rng, site, sleep
        self.profile = profile or national()
        self.platform_profile = self.profile["platform"]
        self.fields = tuple(self.platform_profile["purposes"]["declared"][self.purpose]["fields"])
        self.rules = self.platform_profile["clients"]
        self.unusable = frozenset(self.platform_profile["lifecycle"]["blacklisted"])
        #: where one person has one card, only the holder's current card is served
        self.one_card_per_person = self.platform_profile["lifecycle"]["one_card_per_person"]
        self.link = link
        self.cards: dict[str, dict] = {}
        self.applied: list[str] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    # -- the platform it talks to ------------------------------------------------------------

    def configure(self, link: PlatformLink) -> None:
        """Point the department at a platform (the lab's, or the one a suite plays)."""
        with self.lock:
            self.link = link

    def info(self) -> dict:
        return {"kind": "department", "department_kind": self.kind, "zh": self.zh, "purpose": self.purpose,
                "flow": self.flow, "configured": self.link is not None}

    # -- callbacks -----------------------------------------------------------------------------

    def receive(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Take one callback: CallbackRefused if it is not the platform's; True if it was applied,
        False if it was a repeat or older than what the department holds."""
        event_id = self.authenticate_callback(headers, body)
        event = json.loads(body)
        with self.lock:
            if self.is_repeat(event_id):
                return False
            self.seen.add(event_id)
            return self.apply(event_id, event)

    def authenticate_callback(self, headers: Mapping[str, str], body: bytes) -> str:
        """The webhook-id of a callback signed with the department's secret within the tolerance."""
        missing = [h for h in CALLBACK_HEADERS if not headers.get(h)]
        if missing:
            raise CallbackRefused(f"the callback is not signed: {', '.join(missing)} missing", code="unsigned")
        if self.link is None:
            raise CallbackRefused("no platform is configured, so no callback can be verified", code="bad_signature")
        event_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
        self.check_timestamp(timestamp)
        expected = callback_headers(secret=self.link.secret, event_id=event_id, timestamp=int(timestamp),
                                    body=body)["webhook-signature"]
        if not self.signature_matches(expected, headers["webhook-signature"]):
            raise CallbackRefused("webhook-signature is not HMAC-SM3 over id.timestamp.body with this "
                                  "department's secret", code="bad_signature")
        return event_id

    def check_timestamp(self, timestamp: str) -> None:
        tolerance = self.platform_profile["callbacks"]["tolerance_seconds"]
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise CallbackRefused(f"webhook-timestamp {timestamp[:20]!r} is not Unix seconds", code="stale_timestamp")
        skew = int(timestamp) - epoch_seconds(self.clock())
        if abs(skew) > tolerance:
            raise CallbackRefused(f"webhook-timestamp is {skew:+d} s from the department's clock (tolerance "
                                  f"{tolerance} s)", code="stale_timestamp")

    @staticmethod
    def signature_matches(expected: str, given: str) -> bool:
        return hmac.compare_digest(expected, given)

    def is_repeat(self, event_id: str) -> bool:
        return event_id in self.seen

    def apply(self, event_id: str, event: dict) -> bool:
        """Hold the card in the event's status, unless the department holds a newer one."""
        card = self.cards.setdefault(event["card_number"], {"status": None, "at": None, "kept": {}})
        if self.is_older(card, event):
            return False
        card["status"], card["at"] = event["status"], event["at"]
        self.applied.append(event_id)
        return True

    @staticmethod
    def is_older(card: dict, event: dict) -> bool:
        """Strictly older than what is held: a repeat (same time) is the ids' to drop, not the clock's."""
        return card["at"] is not None and datetime.fromisoformat(event["at"]) < datetime.fromisoformat(card["at"])

    def state(self) -> dict:
        """What the department holds (GET /control/state), read under its lock."""
        with self.lock:
            return {"cards": {number: {**card, "kept": dict(card["kept"])} for number, card in self.cards.items()},
                    "applied": list(self.applied)}

    # -- the client: signed, retried as the profile allows --------------------------------------

    def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """One request to the platform, retried while `should_retry` says so: its final answer
        (2xx), Final on any other status, Unavailable when every attempt asked to retry."""
        for attempt in range(1, self.rules["max_attempts"] + 1):
            response = self.send(method, path, body)
            if not self.should_retry(response):
                if response.status_code >= 400:
                    raise Final(response)
                return response
            if attempt < self.rules["max_attempts"]:
                self.sleep(self.wait_before_retry(response))
        raise Unavailable(f"{method} {path}: no answer to act on after {self.rules['max_attempts']} attempts")

    def should_retry(self, response: httpx.Response | None) -> bool:
        """Only no answer, or one of the profile's retry statuses (429, 503), is tried again."""
        return response is None or response.status_code in self.rules["retry_statuses"]

    def send(self, method: str, path: str, body: dict | None) -> httpx.Response | None:
        """Send one signed attempt (a fresh timestamp and nonce); None when nothing came back."""
        if self.link is None:
            raise NotConfigured("the department is not pointed at a platform (PUT /control/platform)")
        with httpx.Client(base_url=self.link.url, timeout=10, trust_env=False) as http:
            try:
                return self.client(http, self.link).request(method, path, body)
            except httpx.TransportError:
                return None

    def client(self, http: httpx.Client, link: PlatformLink) -> DepartmentClient:
        """The signing client of one attempt."""
        return DepartmentClient(http, department=link.department_id, secret=link.secret, clock=self.clock,
                                rng=self.rng)

    def wait_before_retry(self, response: httpx.Response | None) -> float:
        """Seconds to wait: the Retry-After the platform gave (delay or HTTP date), else the back-off."""
        given = response.headers.get("retry-after") if response is not None else None
        if given is None:
            return float(self.rules["backoff_seconds"])
        if given.strip().isdigit():
            return float(given.strip())
        try:
            return max(0.0, (parsedate_to_datetime(given).timestamp() - time.time()))
        except (TypeError, ValueError):
            return float(self.rules["backoff_seconds"])

    # -- the flow ------------------------------------------------------------------------------

    def serve(self, card: dict) -> dict:
        """Serve the holder of the presented `card` (its chip's data): the outcome record."""
        return self.attempt(lambda: self.admit(card) or self.served(card["card_number"]))

    def attempt(self, step: Callable[[], dict]) -> dict:
        """Run one step of a flow against the platform: its outcome, or why the platform could not be used."""
        try:
            return step()
        except Final as exc:
            return {"outcome": "refused" if exc.response.status_code == 404 else "failed",
                    "reason": f"the platform answered {exc.response.status_code}"}
        except Unavailable as exc:
            return {"outcome": "failed", "reason": str(exc)}

    def admit(self, card: dict) -> dict | None:
        """Identity (where the kind needs it) and the card's status at the platform: a refusal
        outcome, or None when the holder may be served."""
        number = card["card_number"]
        if self.needs_identity(number):
            answer = self.call("POST", "/identity/verifications",
                               {k: card[k] for k in ("card_number", "citizen_id", "name")}).json()
            if not answer["verified"]:
                return {"outcome": "refused", "reason": answer["reason"]}
        view = self.call("GET", f"/cards/{number}").json()
        self.hold(number, view, card)
        refusal = self.refusal(view)
        return {"outcome": "refused", "reason": refusal} if refusal else None

    def served(self, card_number: str) -> dict:
        """The service given: its use returned to the platform."""
        self.report_use(card_number)
        return {"outcome": "served", "reason": self.flow}

    def needs_identity(self, card_number: str) -> bool:
        """Whether the flow verifies the holder's identity first (the kinds say)."""
        return True

    def refusal(self, view: dict) -> str | None:
        """Why the card cannot be served, from the platform's view of it; None if it can."""
        if view["status"] in self.unusable:
            return f"card_{view['status']}"
        if self.one_card_per_person and view.get("current", view["card_number"]) != view["card_number"]:
            return "card_not_current"
        return None

    def hold(self, card_number: str, view: dict, presented: dict) -> None:
        """Record the card's status and, of its holder, what the purpose may read."""
        with self.lock:
            card = self.cards.setdefault(card_number, {"status": None, "at": None, "kept": {}})
            card["status"] = view["status"]
            card["kept"] = self.kept(view, presented)

    def kept(self, view: dict, presented: dict) -> dict:
        return {field: value for field, value in {**presented, **view}.items()
                if field in self.fields and field not in ("card_number", "status")}

    def report_use(self, card_number: str) -> None:
        """Data return: one use of the card by the department's service (`use_kind`)."""
        self.report_event(self.use_event(card_number, self.use_kind))

    def use_event(self, card_number: str, kind: str) -> dict:
        """A card-use event of `kind` (national.platform data_return kinds), its event_id made once."""
        return {"event_id": self.new_event_id(), "card_number": card_number, "kind": kind,
                "at": self.clock().isoformat(), "site": self.site}

    def report_event(self, event: dict) -> None:
        """Report one card-use event (POST /usage-events), the same body through every retry."""
        self.call("POST", "/usage-events", event)

    def new_event_id(self) -> str:
        return f"{self.kind}-{self.rng.randbytes(8).hex()}"
