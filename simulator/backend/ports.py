"""The ports devices talk to back-ends through: frozen messages, each with its own id, and Protocols.

Devices (gates, validators, kiosks, POS) import these and never an implementation: the in-process
platform (`simulator.backend.platform.port.InProcessPlatform`), an HTTP client later, or a
recording double in the suites all satisfy the same Protocol. The id of a request is the caller's
(its idempotency key); a response repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# ==============================================================================================
# platform (一卡通应用服务平台): card status, identity verification, blacklist, e-code, data return
# ==============================================================================================


@dataclass(frozen=True, slots=True)
class CardStatusRequest:
    request_id: str
    card_number: str


@dataclass(frozen=True, slots=True)
class CardStatus:
    """`usable` is False for a card the platform lists (lost, superseded, cancelled) or does not
    show this department (unknown to it)."""

    request_id: str
    card_number: str
    status: str | None
    usable: bool


@dataclass(frozen=True, slots=True)
class IdentityRequest:
    request_id: str
    card_number: str
    citizen_id: str
    name: str


@dataclass(frozen=True, slots=True)
class IdentityResult:
    request_id: str
    verified: bool
    reason: str  # verified, no_match, card_not_usable


@dataclass(frozen=True, slots=True)
class BlacklistRequest:
    """`since` None asks for the full list, a version for the delta after it."""

    request_id: str
    since: int | None = None


@dataclass(frozen=True, slots=True)
class BlacklistUpdate:
    request_id: str
    version: int
    since: int | None
    cards: tuple[str, ...] = ()  # the full list (since None)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EcodeVerifyRequest:
    request_id: str
    payload: bytes
    business_type: str


@dataclass(frozen=True, slots=True)
class EcodeVerifyResult:
    request_id: str
    valid: bool
    reason: str  # a simulator.ecode.Reason value
    card_number: str | None = None


@dataclass(frozen=True, slots=True)
class UsageReport:
    """One card-use event a department returns to the platform (数据回流); `request_id` is the event id."""

    request_id: str
    card_number: str
    kind: str
    at: datetime
    site: str


@dataclass(frozen=True, slots=True)
class UsageAck:
    request_id: str
    duplicate: bool


class PlatformPort(Protocol):
    """The platform as a device or department system sees it."""

    def card_status(self, request: CardStatusRequest) -> CardStatus: ...

    def verify_identity(self, request: IdentityRequest) -> IdentityResult: ...

    def blacklist(self, request: BlacklistRequest) -> BlacklistUpdate: ...

    def verify_ecode(self, request: EcodeVerifyRequest) -> EcodeVerifyResult: ...

    def report_use(self, request: UsageReport) -> UsageAck: ...
