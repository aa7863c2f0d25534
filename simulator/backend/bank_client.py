"""The bank's ports over HTTP: a POS or a subsidy office talking to `ykt bank serve`.

It implements `ports.CardPaymentPort`, `ports.DisbursementPort` and `ports.AccountsPort` with
httpx; the wire's answers are the ports' terms as `json_client.JsonClient` translates them (no
answer is `Unavailable`, 409 `IdConflict` or `Refused`, 404 `NotFound`, 422 `Invalid`). Retrying
is the caller's decision, never this module's: a POS reverses after a timeout, a batch client
replays the same items.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from simulator.backend import ports
from simulator.backend.json_client import JsonClient
from simulator.privacy import mask_pan

_PAN = re.compile(r"[0-9]{12,19}")


def _shown(path: str) -> str:
    """`path` as an error may show it: a PAN in it masked."""
    return _PAN.sub(lambda m: mask_pan(m.group(0)), path)


def _field55(tags) -> dict[str, str]:
    return {f"{tag:02X}": value.hex().upper() for tag, value in tags.items()}


class BankClient(JsonClient):
    """The bank at `base_url` (e.g. http://127.0.0.1:8710), through one httpx client."""

    def _shown(self, path: str) -> str:
        return _shown(path)

    # -- accounts -------------------------------------------------------------------------------
    def open_account(self, request: ports.AccountOpening) -> ports.AccountState:
        return ports.AccountState(**self._call("POST", "/accounts", asdict(request)))

    def close_account(self, pan: str) -> ports.AccountState:
        return ports.AccountState(**self._call("POST", f"/accounts/{pan}/close"))

    def account(self, pan: str) -> ports.AccountState:
        return ports.AccountState(**self._call("GET", f"/accounts/{pan}"))

    # -- card payments --------------------------------------------------------------------------
    def _card(self, path: str, request: ports.Authorisation | ports.TransitCharge) -> dict:
        body = {k: v for k, v in asdict(request).items() if k != "tags"} | {"field55": _field55(request.tags)}
        return self._call("POST", path, body)

    def authorise(self, request: ports.Authorisation) -> ports.AuthorisationResult:
        return ports.AuthorisationResult(**self._card("/authorisations", request))

    def reverse(self, request: ports.Reversal) -> ports.ReversalResult:
        return ports.ReversalResult(**self._call("POST", "/reversals", asdict(request)))

    def charge_transit(self, request: ports.TransitCharge) -> ports.ChargeResult:
        return ports.ChargeResult(**self._card("/transit-charges", request))

    # -- disbursement ---------------------------------------------------------------------------
    def open_batch(self, batch: ports.Batch) -> ports.Batch:
        body = {k: v for k, v in asdict(batch).items() if k != "batch_id"}
        return ports.Batch(**self._call("PUT", f"/disbursements/{batch.batch_id}", body))

    def pay(self, batch_id: str, items: tuple[ports.Item, ...]) -> tuple[ports.ItemResult, ...]:
        answer = self._call("POST", f"/disbursements/{batch_id}/items", {"items": [asdict(i) for i in items]})
        return tuple(ports.ItemResult(**r) for r in answer["results"])

    def return_items(self, batch_id: str, returns: tuple[ports.ItemReturn, ...]) -> tuple[ports.ReturnResult, ...]:
        answer = self._call("POST", f"/disbursements/{batch_id}/returns", {"returns": [asdict(r) for r in returns]})
        return tuple(ports.ReturnResult(**r) for r in answer["results"])

    def reconcile(self, batch_id: str) -> ports.Reconciliation:
        return ports.Reconciliation(**self._call("GET", f"/disbursements/{batch_id}/reconciliation"))
