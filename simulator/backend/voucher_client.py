"""The voucher service's port over HTTP: a POS of its own process redeeming through the service the
harness serves (simulator/backend/voucher_service.py, profiles/national/voucher_api.yaml).

It implements `ports.VoucherPort`; the wire's answers are the ports' terms as
`json_client.JsonClient` translates them (no answer `Unavailable`: the POS sends the same
redemption again, which the service applies once). The query's request id stays on this side: the
service reads a card's vouchers without keeping anything.
"""

from __future__ import annotations

from dataclasses import asdict

from simulator.backend import ports
from simulator.backend.json_client import JsonClient


class VoucherClient(JsonClient):
    """The voucher service at `base_url`."""

    def issue(self, request: ports.VoucherIssue) -> ports.VoucherState:
        try:
            return ports.VoucherState(**self._call("POST", "/vouchers", asdict(request)))
        except ports.Refused as exc:  # the port's term for a category the service does not issue
            raise ports.Invalid(str(exc)) from None

    def voucher(self, voucher_id: str) -> ports.VoucherState:
        return ports.VoucherState(**self._call("GET", f"/vouchers/{voucher_id}"))

    def open_vouchers(self, request: ports.VoucherQuery) -> tuple[ports.VoucherState, ...]:
        answer = self._call("GET", f"/cards/{request.card_identifier}/vouchers")
        return tuple(ports.VoucherState(**v) for v in answer["vouchers"])

    def redeem(self, request: ports.Redemption) -> ports.RedemptionResult:
        return ports.RedemptionResult(**self._call("POST", "/redemptions", asdict(request)))
