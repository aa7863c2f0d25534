"""Reference POS: a UnionPay QuickPass (闪付, qPBOC) purchase with online authorisation through the
bank's port (transit-payment.md §2 flow: PPSE, SELECT, GPO with the PDOL, READ RECORD per AFL,
then the card's decision: TC approves offline, ARQC goes online, AAC declines).

An authorisation whose answer does not arrive (`ports.Unavailable`: a timeout) may still have
been applied by the bank, so the POS declines the sale and sends a reversal (冲正) of it, repeating
it until the bank acknowledges; one still unacknowledged is kept and sent again before the next
online authorisation (store and forward), so a customer is never charged for a declined sale.

Where the run's region issues consumption vouchers, the same POS redeems them
(`redeem_voucher`, simulator/devices/voucher_redemption.py).
"""

from __future__ import annotations

import random

from simulator.apdu import SW
from simulator.backend.ports import Authorisation, CardPaymentPort, Reversal, Unavailable
from simulator.card.apps.qpboc import amount_n12, yymmdd
from simulator.devices.decision import Decision
from simulator.devices.purse_client import PPSE
from simulator.devices.terminal import Terminal
from simulator.devices.voucher_redemption import VoucherRedemption
from simulator.tlv import parse_dol, parse_tlv, tlv
from simulator.transport.base import Transport

UNIONPAY_RID = bytes.fromhex("A000000333")
CID_DECISIONS = {0x40: "TC", 0x80: "ARQC", 0x00: "AAC"}
#: the tags of field 55 the issuer needs to verify the cryptogram (ISO 8583 DE 55)
FIELD55 = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36, 0x9F10, 0x9F26, 0x9F27)


def _constructed(tag: int) -> bool:
    return bool(tag >> (8 * ((tag.bit_length() - 1) // 8)) & 0x20)


def _tags(data: bytes) -> dict[int, bytes]:
    """Primitive tags of a (nested) BER-TLV answer, flattened."""
    out: dict[int, bytes] = {}
    for tag, value in parse_tlv(data):
        if _constructed(tag):
            out.update(_tags(value))
        else:
            out[tag] = value
    return out


def _templates(data: bytes, want: int) -> list[bytes]:
    """Values of every `want` template at any depth (the PPSE's 61 directory entries)."""
    found = []
    for tag, value in parse_tlv(data):
        if tag == want:
            found.append(value)
        elif _constructed(tag):
            found += _templates(value, want)
    return found


class QuickPassPOS(VoucherRedemption, Terminal):
    kind = "pos"

    def __init__(
        self,
        *,
        bank: CardPaymentPort,
        amount: int,
        rng: random.Random | None = None,
        ttq: bytes = bytes.fromhex("26800000"),
        reversal_attempts: int = 3,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.bank, self.amount, self.ttq = bank, amount, ttq
        self.rng = rng or random.Random(0)
        self.reversal_attempts = reversal_attempts
        self.unacknowledged: list[Reversal] = []  # reversals the bank has not acknowledged yet
        self._sequence = 0  # the terminal's system trace number, part of each request id

    def _request_id(self) -> str:
        """A new request id: terminal, clock and trace number, unique per terminal over time."""
        self._sequence += 1
        return f"{self.terminal_id}:{self.clock().strftime('%Y%m%d%H%M%S')}:{self._sequence:06d}"

    def send_reversals(self) -> None:
        """Send every unacknowledged reversal, each up to `reversal_attempts` times; keep the ones
        the bank still did not acknowledge."""
        waiting, self.unacknowledged = self.unacknowledged, []
        for reversal in waiting:
            for _ in range(self.reversal_attempts):
                try:
                    if self.bank.reverse(reversal).acknowledged:
                        break
                except Unavailable:
                    continue
            else:
                self.unacknowledged.append(reversal)

    def _terminal_data(self) -> dict[int, bytes]:
        now = self.clock()
        return {
            0x9F66: self.ttq,
            0x9F02: amount_n12(self.amount),
            0x9F03: amount_n12(0),
            0x9F1A: bytes.fromhex("0156"),
            0x95: bytes(5),
            0x5F2A: bytes.fromhex("0156"),
            0x9A: yymmdd(now.date()),
            0x9C: b"\x00",
            0x9F37: self.rng.randbytes(4),
        }

    def choose(self, entries: list[tuple[int, bytes]]) -> bytes | None:
        """The AID to select from the PPSE's (priority, AID) entries: the first UnionPay one by priority."""
        unionpay = sorted(e for e in entries if e[1].startswith(UNIONPAY_RID))
        return unionpay[0][1] if unionpay else None

    def transact(self, card: Transport) -> Decision:
        ppse = card.send(0x00, 0xA4, 0x04, 0x00, PPSE, le=0)
        if ppse.sw != SW.OK:
            return self.decide("NO_APPLICATION", detail=f"SELECT PPSE {ppse.sw:04X}")
        entries = [(_tags(e).get(0x87, b"\x0f")[0], _tags(e).get(0x4F, b"")) for e in _templates(ppse.data, 0x61)]
        aid = self.choose(entries)
        if aid is None:
            return self.decide("NO_APPLICATION", detail="no UnionPay application in the PPSE")
        selected = card.send(0x00, 0xA4, 0x04, 0x00, aid, le=0)
        if selected.sw != SW.OK:
            reason = "APP_LOCKED" if selected.sw == SW.FILE_DEACTIVATED else "NO_APPLICATION"
            return self.decide(reason, detail=f"SELECT {aid.hex().upper()} {selected.sw:04X}")
        terminal = self._terminal_data()
        pdol = parse_dol(_tags(selected.data).get(0x9F38, b""))
        try:
            data = b"".join(terminal[tag].rjust(n, b"\x00")[:n] for tag, n in pdol)
        except KeyError as missing:
            return self.decide("CARD_ERROR", detail=f"PDOL asks for tag {missing} the terminal does not have")
        gpo = card.send(0x80, 0xA8, 0x00, 0x00, tlv(0x83, data), le=0)
        if gpo.sw != SW.OK:
            return self.decide("DECLINED", amount=self.amount, detail=f"GPO {gpo.sw:04X}")
        card_tags = _tags(gpo.data)
        for i in range(0, len(card_tags.get(0x94, b"")), 4):
            sfi, first, last = card_tags[0x94][i] >> 3, card_tags[0x94][i + 1], card_tags[0x94][i + 2]
            for number in range(first, last + 1):
                record = card.send(0x00, 0xB2, number, (sfi << 3) | 4, le=0)
                if record.sw == SW.OK:
                    card_tags.update(_tags(record.data))
        cid = CID_DECISIONS.get(card_tags.get(0x9F27, b"\xff")[0] & 0xC0)
        return self.judge(cid, card_tags, terminal)

    def judge(self, cid: str | None, card_tags: dict[int, bytes], terminal: dict[int, bytes]) -> Decision:
        """What the card's decision (TC, ARQC, AAC) becomes: approved offline, online, or declined."""
        evidence = {"cid": cid, "atc": card_tags.get(0x9F36, b""), "ac": card_tags.get(0x9F26, b"")}
        if cid == "TC":
            return self.decide("APPROVED_OFFLINE", amount=self.amount, debited=self.amount, evidence=evidence)
        if cid != "ARQC":
            return self.decide("DECLINED", amount=self.amount, evidence=evidence, detail=f"card decision {cid}")
        return self.online(card_tags, terminal, evidence)

    def online(self, card_tags: dict[int, bytes], terminal: dict[int, bytes], evidence: dict) -> Decision:
        """An ARQC goes to the bank with field 55; no answer: declined, and reversed (the reversal
        resent before every later request until the bank takes it)."""
        self.send_reversals()
        request = Authorisation(
            request_id=self._request_id(),
            pan=card_tags.get(0x5A, b"").hex().upper().rstrip("F"),
            pan_sequence=int(card_tags.get(0x5F34, b"\x00").hex()),
            amount=self.amount,
            terminal_id=self.terminal_id,
            tags={t: v for t, v in {**terminal, **card_tags}.items() if t in FIELD55},
        )
        try:
            result = self.bank.authorise(request)
        except Unavailable as timeout:
            reversal = Reversal(request_id=self._request_id(), original_id=request.request_id,
                                amount=request.amount, terminal_id=self.terminal_id)
            self.unacknowledged.append(reversal)
            self.send_reversals()
            evidence["response_code"] = ""
            done = "reversed" if reversal not in self.unacknowledged else "the reversal is kept until the bank takes it"
            return self.decide("DECLINED", amount=self.amount, evidence=evidence,
                               detail=f"no answer from the bank ({timeout}): declined, {done}")
        evidence["response_code"] = result.response_code
        if not result.approved:
            return self.decide("DECLINED", amount=self.amount, evidence=evidence, detail=result.detail)
        return self.decide("APPROVED_ONLINE", amount=self.amount, evidence=evidence)
