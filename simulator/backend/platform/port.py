"""The in-process `PlatformPort`: a `Platform` seen by one department, as a device would see it."""

from __future__ import annotations

from simulator.backend import ports

from .errors import NotFound
from .service import Platform


class InProcessPlatform:
    """`PlatformPort` over `platform` for `department` (its purpose applies to every answer)."""

    def __init__(self, platform: Platform, department: str) -> None:
        self.platform, self.department = platform, department

    def card_status(self, request: ports.CardStatusRequest) -> ports.CardStatus:
        self.platform.require(self.department, "card_status")
        try:
            status = self.platform.card_view(self.department, request.card_number)["status"]
        except NotFound:
            return ports.CardStatus(request.request_id, request.card_number, None, usable=False)
        usable = status not in self.platform.platform_profile["lifecycle"]["blacklisted"]
        return ports.CardStatus(request.request_id, request.card_number, status, usable)

    def verify_identity(self, request: ports.IdentityRequest) -> ports.IdentityResult:
        self.platform.require(self.department, "identity")
        answer = self.platform.verify_identity(self.department, card_number=request.card_number,
                                               citizen_id=request.citizen_id, name=request.name)
        return ports.IdentityResult(request.request_id, answer["verified"], answer["reason"])

    def blacklist(self, request: ports.BlacklistRequest) -> ports.BlacklistUpdate:
        self.platform.require(self.department, "blacklist")
        answer = self.platform.blacklist(request.since)
        return ports.BlacklistUpdate(request.request_id, answer["version"], request.since,
                                     tuple(answer.get("cards", ())), tuple(answer.get("added", ())),
                                     tuple(answer.get("removed", ())))

    def verify_ecode(self, request: ports.EcodeVerifyRequest) -> ports.EcodeVerifyResult:
        self.platform.require(self.department, "ecode_verify")
        answer = self.platform.verify_ecode(self.department, request.payload)
        card = answer.get("card", {}).get("card_number")
        return ports.EcodeVerifyResult(request.request_id, answer["valid"], answer["reason"], card)

    def report_use(self, request: ports.UsageReport) -> ports.UsageAck:
        self.platform.require(self.department, "data_return")
        answer = self.platform.report_use(self.department, event_id=request.request_id,
                                          card_number=request.card_number, kind=request.kind, at=request.at,
                                          site=request.site)
        return ports.UsageAck(request.request_id, answer["duplicate"])
