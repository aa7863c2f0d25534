"""Reader mutants: the reference reader library (simulator.devices.reader_api) with one defect each.

Each is a small subclass of `UnifiedReader` behind the same in-process slot (`SimReader`); the
reader_api suite must fail every one (tests/test_suite_reader_api.py proves it).
"""

from __future__ import annotations

from conformance.adapters.reader import SimReader
from conformance.mutants import Mutant
from simulator.apdu import SW
from simulator.backend.issuer import IssuerKeys
from simulator.devices.reader_api import READ_KEY, CardRead, Refused, UnifiedReader
from simulator.transport.base import Transport


class NoTrailingSeparator(UnifiedReader):
    def _format(self, card: CardRead) -> str:
        return super()._format(card).removesuffix("|")


class DashedDates(UnifiedReader):
    def _format(self, card: CardRead) -> str:
        fields = super()._format(card).split("|")
        for at in (7, 8):  # 发卡日期, 卡有效期
            value = fields[at]
            fields[at] = f"{value[:4]}-{value[4:6]}-{value[6:]}" if len(value) == 8 else value
        return "|".join(fields)


class FullAtr(UnifiedReader):
    def _select(self, transport: Transport) -> CardRead:
        card = super()._select(transport)
        card.atr_historical = (transport.atr or b"").hex().upper()
        return card


class NoCardAsReaderError(UnifiedReader):
    def _connect(self, iType):  # noqa: N803
        try:
            return super()._connect(iType)
        except Refused as refused:
            if refused.code == -2:
                raise Refused(-11) from None
            raise


class ReadsWithEmbeddedKey(UnifiedReader):
    """Holds RKSSSE itself (no PSAM, no HSM) and opens EF06 before every read."""

    def _read_basic(self, iType):  # noqa: N803
        transport = self._connect(iType)
        try:
            card = self._read_ef05(transport)
            challenge = transport.send(0x00, 0x84, 0x00, 0x00, le=8)
            algorithm = "sm4" if card.algorithm == 3 else "3des"
            keys = IssuerKeys(self.profile)
            cryptogram = keys.external_auth(READ_KEY, card.card_identifier, algorithm, challenge.data)
            transport.send(0x00, 0x82, 0x00, READ_KEY, cryptogram)
            self._read_personal(transport, card)
            return self._format(card)
        finally:
            transport.disconnect()


class WrongPinAsStatusWord(UnifiedReader):
    def _verify_pin(self, iType, pin):  # noqa: N803
        try:
            return super()._verify_pin(iType, pin)
        except Refused as refused:
            if refused.code == -51:
                raise Refused(-(0x63C0 | int(refused.out or 0))) from None
            raise


class TrustsTheHsmBlindly(UnifiedReader):
    def _check_internal_auth(self, transport, factor, original, expected) -> None:
        transport.send(0x00, 0x88, 0x00, 0x00, factor + original, le=8)  # asked, answer not compared


class LockedAsNoCard(UnifiedReader):
    def _select(self, transport: Transport) -> CardRead:
        try:
            return super()._select(transport)
        except Refused as refused:
            if refused.code == -SW.FILE_DEACTIVATED:
                raise Refused(-2) from None
            raise


class AnyItype(UnifiedReader):
    def _connect(self, iType):  # noqa: N803
        return super()._connect(1 if str(iType) not in self.reader_api["itype"]["values"] else iType)


def _mutant(name: str, library: type[UnifiedReader], defect: str) -> Mutant:
    return Mutant(name, "reader", defect, lambda profile: SimReader(library, profile=profile, name=f"mutant {name}"))


MUTANTS = [
    _mutant("reader_no_trailing_separator", NoTrailingSeparator,
            "iReadCardBas leaves the '|' after the last data item out"),
    _mutant("reader_dashed_dates", DashedDates, "发卡日期 and 卡有效期 come as YYYY-MM-DD"),
    _mutant("reader_full_atr", FullAtr, "卡复位信息 carries the whole ATR instead of its historical bytes"),
    _mutant("reader_no_card_as_reader_error", NoCardAsReaderError,
            "no card on the reader is reported as -11 (读卡器连接错) instead of -2 (无卡)"),
    _mutant("reader_reads_with_embedded_key", ReadsWithEmbeddedKey,
            "holds RKSSSE itself and returns 社会保障号码, 卡号, 姓名 without HSM authentication or PSAM"),
    _mutant("reader_wrong_pin_as_sw", WrongPinAsStatusWord,
            "a wrong PIN is reported as -(63Cx) instead of -51 with the tries left"),
    _mutant("reader_trusts_hsm_blindly", TrustsTheHsmBlindly,
            "HSM Step 2 does not compare the card's internal-authentication result with the HSM's"),
    _mutant("reader_locked_as_no_card", LockedAsNoCard,
            "a locked social-security application is reported as -2 (无卡) instead of -(SW)"),
    _mutant("reader_any_itype", AnyItype, "an iType outside 1..4 is read as contact instead of refused with -14"),
]
