"""`PlatformPort` over the platform's HTTP API: a served platform as a device or department sees it.

The same answers as `InProcessPlatform` (tests/test_platform.py runs one scenario through both):
a card the department may not see is `usable=False` with no status; a refusal is the platform's
own error class (`Forbidden` for what the purpose does not permit, `Unauthenticated`, ...) with
its code and detail; a 429 or 5xx, or no answer, is `PlatformUnavailable` (the caller decides
whether to retry: the port sends each request once).
"""

from __future__ import annotations

import httpx

from simulator.backend import ports
from simulator.profile import national

from .client import DepartmentClient
from .errors import Conflict, Forbidden, Invalid, NotFound, PlatformError, Unauthenticated

#: the platform's refusals by HTTP status
_REFUSALS: dict[int, type[PlatformError]] = {401: Unauthenticated, 403: Forbidden, 404: NotFound, 409: Conflict,
                                             422: Invalid}


class PlatformUnavailable(ports.Unavailable):
    """The platform did not answer, answered 429, or failed (5xx)."""


class HttpPlatform:
    """`PlatformPort` through `client` (signed as its department)."""

    def __init__(self, client: DepartmentClient, *, platform_profile: dict | None = None) -> None:
        """`platform_profile`: the platform document whose blacklisted states make a card unusable
        (the run's; the national one by default)."""
        self.client = client
        self.unusable = frozenset((platform_profile or national()["platform"])["lifecycle"]["blacklisted"])

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self.client.request(method, path, body)
        except httpx.TransportError as exc:
            raise PlatformUnavailable(f"{method} {path}: {exc}") from exc
        if response.status_code < 400:
            return response.json()
        refusal = _REFUSALS.get(response.status_code)
        if refusal is None:
            raise PlatformUnavailable(f"{method} {path}: {response.status_code} {response.text[:200]}")
        answer = response.json()
        raise refusal(answer["detail"], code=answer["error"])

    def card_status(self, request: ports.CardStatusRequest) -> ports.CardStatus:
        try:
            status = self._call("GET", f"/cards/{request.card_number}")["status"]
        except NotFound:
            return ports.CardStatus(request.request_id, request.card_number, None, usable=False)
        return ports.CardStatus(request.request_id, request.card_number, status, status not in self.unusable)

    def verify_identity(self, request: ports.IdentityRequest) -> ports.IdentityResult:
        answer = self._call("POST", "/identity/verifications", {"card_number": request.card_number,
                                                                "citizen_id": request.citizen_id,
                                                                "name": request.name})
        return ports.IdentityResult(request.request_id, answer["verified"], answer["reason"])

    def blacklist(self, request: ports.BlacklistRequest) -> ports.BlacklistUpdate:
        answer = self._call("GET", "/blacklist" if request.since is None else f"/blacklist?since={request.since}")
        return ports.BlacklistUpdate(request.request_id, answer["version"], request.since,
                                     tuple(answer.get("cards", ())), tuple(answer.get("added", ())),
                                     tuple(answer.get("removed", ())))

    def verify_ecode(self, request: ports.EcodeVerifyRequest) -> ports.EcodeVerifyResult:
        answer = self._call("POST", "/ecodes/verifications", {"payload": request.payload.hex(),
                                                              "business_type": request.business_type})
        card = answer.get("card", {}).get("card_number")
        return ports.EcodeVerifyResult(request.request_id, answer["valid"], answer["reason"], card)

    def report_use(self, request: ports.UsageReport) -> ports.UsageAck:
        answer = self._call("POST", "/usage-events", {"event_id": request.request_id,
                                                      "card_number": request.card_number, "kind": request.kind,
                                                      "at": request.at.isoformat(), "site": request.site})
        return ports.UsageAck(request.request_id, answer["duplicate"])
