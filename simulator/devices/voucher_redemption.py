"""A POS redeeming a consumption voucher (消费券) issued to the card, real-name and against fraud.

Guangdong's vouchers for reading, tourism and training are spent by the card, real-name, with no
proxy swiping (代刷), theft (盗刷) or fake consumption (虚假消费) (粤人社函〔2021〕195号). The POS
models those three as the checks of its flow, each before anything is spent:

- real name: the holder types the PIN and the card verifies it (VERIFY in the social-security
  application); no PIN, or one the card refuses, spends nothing (GD-VOUCH-001; modelled: the
  document asks for real-name use, the PIN is this model's way to it);
- theft: a card the platform lists (lost, superseded, cancelled: the terminal's card-status check,
  simulator/devices/card_status.py) spends nothing (GD-VOUCH-002);
- fake consumption: only a voucher whose category may be spent at this merchant's category
  (terminals.yaml `vouchers`, ISO 18245 MCC; modelled) is redeemed (GD-VOUCH-003).

The voucher is found by the card's 卡识别码 (EF05), the key the voucher service issued it under
(simulator/backend/vouchers.py), and redeemed for the POS's sale amount through the `VoucherPort`.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import Any

from simulator.apdu import SW
from simulator.backend.ports import Redemption, RedemptionResult, Unavailable, VoucherPort, VoucherQuery, VoucherState
from simulator.card.apps import ssse
from simulator.card.commands_security import encode_pin
from simulator.devices.decision import Decision
from simulator.devices.steps import Flow, Phase, Step
from simulator.transport.base import Transport

#: the merchant category (ISO 18245) of the reference POS: a book store
BOOK_STORE = "5942"


class VoucherRedemption:
    """What a POS adds to redeem vouchers (a mixin before `Terminal`): `vouchers` is the voucher
    service's port (None: the POS redeems none), `merchant_category` the merchant's MCC."""

    amount: int
    #: how often a redemption is sent while no answer arrives
    redemption_attempts = 3

    def __init__(self, *, vouchers: VoucherPort | None = None, merchant_category: str = BOOK_STORE, **kw) -> None:
        super().__init__(**kw)
        self.vouchers, self.merchant_category = vouchers, merchant_category
        self._redemptions = 0

    def redeem_voucher(self, card: Transport, *, pin: str | None) -> Decision:
        """The card is presented to pay the sale by a voucher; `pin` is what the holder typed (None:
        nothing)."""
        return self.present(card, flow=partial(self.voucher_flow, pin=pin))

    def spendable(self, voucher: VoucherState) -> bool:
        """May this voucher pay the sale here: its category allows the merchant's, and it has enough left."""
        category = self.terminals["vouchers"]["categories"].get(voucher.category, {})
        return self.merchant_category in category.get("merchant_categories", ()) and voucher.remaining >= self.amount

    def holder_verified(self, card: Transport, pin: str | None) -> str | None:
        """None when the card verified the holder's PIN, else why not."""
        if pin is None:
            return "no PIN entered"
        verified = card.send(0x00, 0x20, 0x00, 0x00, encode_pin(pin))
        return None if verified.sw == SW.OK else f"VERIFY {verified.sw:04X}"

    def card_listed(self, card_id: str) -> Generator[Step, Any, bool]:
        """Whether the platform lists the card (the terminal's card-status check)."""
        return (yield from self.status.check([card_id])).listed

    def voucher_flow(self, card: Transport, *, pin: str | None) -> Flow:
        if self.vouchers is None:
            return self.decide("NO_VOUCHER", detail="this POS is connected to no voucher service")
        profile = self.profile["ssse"]
        selected = card.send(0x00, 0xA4, 0x04, 0x00, bytes.fromhex(profile["application"]["aid"]), le=0)
        yield Phase("select the social-security application")
        if selected.sw != SW.OK:
            reason = "APP_LOCKED" if selected.sw == SW.FILE_DEACTIVATED else "NO_APPLICATION"
            return self.decide(reason, detail=f"SELECT SSSE {selected.sw:04X}")
        element = ssse.elements(profile)["card_identifier"]
        sfi = next(spec["sfi"] for spec in profile["files"] if spec["name"] == element.file)
        read = card.send(0x00, 0xB2, element.record, (sfi << 3) | 0b100, le=0)
        yield Phase("read 卡识别码 from EF05")
        try:
            card_id = element.parse_record(read.data).hex().upper() if read.sw == SW.OK else None
        except ValueError as exc:
            return self.decide("CARD_ERROR", detail=str(exc))
        if card_id is None:
            return self.decide("CARD_ERROR", detail=f"READ RECORD 卡识别码 {read.sw:04X}")
        if (yield from self.card_listed(card_id)):
            return self.decide("BLACKLISTED", card=card_id)
        refusal = self.holder_verified(card, pin)
        yield Phase("verify the holder's PIN")
        if refusal is not None:
            return self.decide("PIN_REQUIRED", card=card_id, detail=refusal)
        return (yield from self._redeem(card_id))

    def _request_id(self) -> str:
        self._redemptions += 1
        return f"{self.terminal_id}:{self.clock().strftime('%Y%m%d%H%M%S')}:V{self._redemptions:06d}"

    def _redeem(self, card_id: str) -> Flow:
        """Redeem the sale from the first voucher of the card that may pay it."""
        try:
            held = yield Step("backend", "ask the voucher service for the card's vouchers", call=partial(
                self.vouchers.open_vouchers, VoucherQuery(self._request_id(), card_id)))
        except Unavailable as timeout:
            return self.decide("DECLINED", card=card_id, detail=f"no answer from the voucher service ({timeout})")
        voucher = next(filter(self.spendable, held), None)
        if voucher is None:
            return self.decide("NO_VOUCHER", card=card_id,
                               detail=f"none of {len(held)} open voucher(s) may pay {self.amount} fen at a "
                                      f"merchant of category {self.merchant_category}")
        request = Redemption(request_id=self._request_id(), voucher_id=voucher.voucher_id, card_identifier=card_id,
                             amount=self.amount, terminal_id=self.terminal_id, merchant_category=self.merchant_category)
        result = yield from self._send(request)
        evidence = {"voucher": voucher.voucher_id, "voucher_amount": self.amount if result and result.redeemed else 0}
        if result is None:
            return self.decide("DECLINED", card=card_id, evidence=evidence,
                               detail=f"no answer from the voucher service after {self.redemption_attempts} attempts: "
                                      f"declined, the redemption {request.request_id} is unknown")
        if not result.redeemed:
            return self.decide("DECLINED", card=card_id, evidence=evidence, detail=result.detail)
        return self.decide("VOUCHER_REDEEMED", card=card_id, evidence=evidence)

    def _send(self, request: Redemption) -> Generator[Step, Any, RedemptionResult | None]:
        """The service's answer to the redemption, sent again with the same id while no answer
        arrives (the service applies an id once, so a resend never spends twice); None: none came."""
        for _ in range(self.redemption_attempts):
            try:
                return (yield Step("backend", "redeem the voucher", call=partial(self.vouchers.redeem, request)))
            except Unavailable:
                continue
        return None
