"""The unified reader interface (统一读卡接口): the reference implementation over any Transport.

Readers for the social security card ship a library implementing one ministry-defined API
(`iReadCardBas`, `iReadCardBas_HSM_Step1`/`_Step2`, `iVerifyPIN`, ...), so department software
works with any certified reader (ssc-card.md "The national unified reader interface", "More
facts" §3). This module is that library in Python, driven by `profiles/national/reader_api.yaml`
(function set, iType values, output formats, return codes) and `national/ssse.yaml` (AID, record
map). `conformance/native/sscard.c` sends the same APDUs over libpcsclite.

The APDUs are the ones field code sends (ssc-card.md §1): SELECT the SSSE by AID, READ RECORD of
EF05 by SFI and record number (`00 B2 n 2C`), EF06 by SFI and tag (`00 B2 tag 30`). A
3rd-generation card's EF06 opens only after EXTERNAL AUTHENTICATE with RKSSSE (key 0A): without
an encryption machine (HSM) the reader leaves 社会保障号码, 卡号 and 姓名 empty (the verified
example string); the two HSM steps run INTERNAL AUTHENTICATE (checked against the HSM's result,
−25 on mismatch) and EXTERNAL AUTHENTICATE with the HSM's cryptogram, then read everything.

The department's encryption machine that answers Step 1 with the pKey of Step 2 is
`simulator.backend.hsm.Hsm`.

Codes: every situation's code comes from the profile's `conditions`; a card status word the table
gives no code for is returned as −SW (`sw_rule`, [V S1]).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from simulator.apdu import SW
from simulator.backend.issuer import READ_KEY
from simulator.card.apps import ssse
from simulator.card.commands_security import encode_pin
from simulator.profile import Profile, ProfileError, national
from simulator.transport.base import Transport
from simulator.transport.errors import CardRemovedError, LinkError, NoCardError

#: the ISO 7816 record-mode bits of READ RECORD's P2 (P1 = record number / record identifier)
BY_NUMBER, BY_IDENTIFIER = 0b100, 0b000


def checked(doc: dict) -> dict:
    """The reader_api document, checked beyond its schema: every condition's code is a table row."""
    table = {row["code"] for row in doc["return_codes"]}
    for name, condition in doc["conditions"].items():
        if "code" in condition and condition["code"] not in table:
            raise ProfileError(f"reader_api.yaml: conditions/{name}: code {condition['code']} is not in "
                               f"return_codes")
    names = [f["name"] for f in doc["formats"]["card_basic"]["fields"]]
    if len(names) != 11:
        raise ProfileError(f"reader_api.yaml: formats/card_basic has {len(names)} fields, the interface has 11")
    return doc


def historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ATR (ISO/IEC 7816-3 §8.2: T0 gives K, TDi chain the interface bytes)."""
    if len(atr) < 2:
        raise ValueError(f"an ATR has at least TS and T0, got {atr.hex().upper()!r}")
    count, y, at = atr[1] & 0x0F, atr[1] >> 4, 2
    while True:
        at += bin(y & 0x7).count("1")  # TAi, TBi, TCi
        if not y & 0x8:
            break
        if at >= len(atr):
            raise ValueError(f"ATR {atr.hex().upper()} ends inside its interface bytes")
        y, at = atr[at] >> 4, at + 1
    if at + count > len(atr):
        raise ValueError(f"ATR {atr.hex().upper()} announces {count} historical bytes, has {len(atr) - at}")
    return atr[at:at + count]


def minus_sw(sw: int) -> int:
    """sw_rule: a status word as a negative decimal (63C2 -> -25538)."""
    return -(sw & 0xFFFF)


class Refused(Exception):  # noqa: N818 - an answer, not an accident
    """Ends a call with a return code (and what pOutInfo then holds); subclasses raise it too."""

    def __init__(self, code: int, out: str = "") -> None:
        super().__init__(code)
        self.code, self.out = code, out


@dataclass
class CardRead:
    """What one read learned of the card: ATR historical bytes, 算法标识, 卡识别码, element values."""

    atr_historical: str = ""
    algorithm: int = 1
    card_identifier: bytes = b""
    values: dict[str, Any] | None = None

    @property
    def generation(self) -> int:
        version = (self.values or {}).get("spec_version", "")
        return int(version[0]) if version[:1].isdigit() else 0


class UnifiedReader:
    """The reference reader library: `call(function, *args) -> (code, pOutInfo)`.

    `open_card()` gives an unconnected transport to the card on the reader, or raises
    `NoCardError` when there is none. Each call powers the card up and down (a fresh card session),
    except the HSM steps: Step 1 leaves the session open for Step 2.
    """

    #: the interface functions this implementation offers (the profile's core and hsm groups)
    FUNCTIONS = ("iReadCardBas", "iReadCardBas_HSM_Step1", "iReadCardBas_HSM_Step2", "iVerifyPIN")

    def __init__(self, open_card: Callable[[], Transport], *, device_number: str = "YKTSIM000001",
                 terminal_number: str | None = None, rng: random.Random | None = None,
                 profile: Profile | None = None) -> None:
        """`profile`: the run's profile (the national one by default), whose reader_api document
        is the interface and whose SSSE document the card's layout."""
        self.open_card = open_card
        self.profile = profile or national()
        self.reader_api = checked(self.profile["reader_api"])
        self.ssse = self.profile["ssse"]
        self.elements = ssse.elements(self.ssse)
        self.sfi = {spec["name"]: spec["sfi"] for spec in self.ssse["files"] if "sfi" in spec}
        self.device_number = device_number
        #: 终端机编号 of the reader's PSAM; a reader without one shows twelve zeros ([V S1])
        self.terminal_number = terminal_number or self.reader_api["unauthenticated_read"]["no_psam_terminal_number"]
        self.rng = rng or random.Random(20261123)
        self._hsm: tuple[Transport, CardRead, bytes, bytes] | None = None  # Step 1 -> Step 2

    def _code(self, condition: str) -> int:
        return self.reader_api["conditions"][condition]["code"]

    @property
    def functions(self) -> frozenset[str]:
        return frozenset(self.FUNCTIONS)

    def call(self, function: str, *args: Any) -> tuple[int, str]:
        if function not in self.functions:
            raise AttributeError(f"the reader library has no function {function!r}; it has {sorted(self.functions)}")
        return getattr(self, function)(*args)

    # -- the interface -----------------------------------------------------------------------
    def iReadCardBas(self, iType: int | str) -> tuple[int, str]:  # noqa: N802, N803 - the API's names
        """The 11-field string; a 3rd-generation card's 社会保障号码, 卡号, 姓名 stay empty."""
        return self._run(lambda: self._read_basic(iType))

    def iReadCardBas_HSM_Step1(self, iType: int | str) -> tuple[int, str]:  # noqa: N802, N803
        """Data for the HSM: region|ATR|算法标识|卡识别码|内部因子|内部原始|外部因子|外部原始|."""
        self.release()
        return self._run(lambda: self._hsm_step1(iType))

    def iReadCardBas_HSM_Step2(self, pKey: str) -> tuple[int, str]:  # noqa: N802, N803
        """Authenticate with the HSM's answer, then the full 11-field string."""
        if self._hsm is None:
            return self._code("hsm_without_step1"), ""
        try:
            return self._run(lambda: self._hsm_step2(pKey))
        finally:
            self.release()

    def iVerifyPIN(self, iType: int | str, pin: str) -> tuple[int, str]:  # noqa: N802, N803
        """VERIFY the PIN typed on the reader's pad (here: the `pin` argument)."""
        return self._run(lambda: self._verify_pin(iType, pin))

    # -- machinery ---------------------------------------------------------------------------
    def _run(self, body: Callable[[], str]) -> tuple[int, str]:
        try:
            return 0, body()
        except Refused as refused:
            return refused.code, refused.out

    def release(self) -> None:
        """End a card session left open by HSM Step 1 (the card was taken away, or a new call)."""
        if self._hsm is not None:
            self._hsm[0].disconnect()
            self._hsm = None

    def _connect(self, iType: int | str) -> Transport:  # noqa: N803
        if str(iType) not in self.reader_api["itype"]["values"]:
            raise Refused(self._code("bad_itype"))
        # One slot serves every iType: the simulated card is dual-interface (3rd generation).
        try:
            transport = self.open_card()
            transport.connect()
        except NoCardError:
            raise Refused(self._code("no_card")) from None
        except CardRemovedError:
            raise Refused(self._code("card_mute")) from None
        except LinkError:
            raise Refused(self._code("reader_unreachable")) from None
        return transport

    def _send(self, transport: Transport, *apdu: Any, **kw: Any):
        try:
            return transport.send(*apdu, **kw)
        except NoCardError:
            raise Refused(self._code("no_card")) from None
        except LinkError:
            raise Refused(self._code("card_mute")) from None

    def _select(self, transport: Transport) -> CardRead:
        aid = bytes.fromhex(self.ssse["application"]["aid"])
        answer = self._send(transport, 0x00, 0xA4, 0x04, 0x00, aid, le=0)
        if answer.sw == SW.FILE_NOT_FOUND:
            raise Refused(self._code("no_ssse"))
        if answer.sw != SW.OK and answer.sw1 != 0x61:
            raise Refused(minus_sw(answer.sw))  # e.g. a locked application (conditions.application_locked)
        marker = answer.data.find(bytes((0x9F, 0x0C, 0x03, 0x86, 0x01)))
        algorithm = answer.data[marker + 5] if marker >= 0 and marker + 5 < len(answer.data) else 1
        return CardRead(historical_bytes(transport.atr or b"").hex().upper(), algorithm, values={})

    def _read(self, transport: Transport, name: str, *, required: bool) -> Any:
        """One element: EF05 by SFI and number, EF06 by SFI and tag. None when not readable."""
        element = self.elements[name]
        p1, mode = (element.record, BY_NUMBER) if element.file == "EF05" else (element.tag, BY_IDENTIFIER)
        answer = self._send(transport, 0x00, 0xB2, p1, (self.sfi[element.file] << 3) | mode, le=0)
        if answer.sw != SW.OK:
            if required:
                raise Refused(minus_sw(answer.sw))
            return None
        try:
            return element.parse_record(answer.data)
        except ValueError:
            if name == "card_identifier":
                raise Refused(self._code("card_identifier_malformed")) from None
            return None

    def _read_ef05(self, transport: Transport) -> CardRead:
        card = self._select(transport)
        card.card_identifier = self._read(transport, "card_identifier", required=True)
        if len(card.card_identifier) != 16:
            raise Refused(self._code("card_identifier_malformed"))
        for name in ("spec_version", "issue_date", "expiry_date"):
            card.values[name] = self._read(transport, name, required=True)
        return card

    def _read_personal(self, transport: Transport, card: CardRead) -> None:
        """卡号 and the EF06 elements the card lets us read now (None where it refuses)."""
        card.values["card_number"] = self._read(transport, "card_number", required=False)
        for name in ("citizen_id", "name", "name_ext"):
            card.values[name] = self._read(transport, name, required=False)

    def _format(self, card: CardRead) -> str:
        values = card.values or {}
        ident = card.card_identifier.hex().upper()

        def text(name: str) -> str:
            value = values.get(name)
            if value is None:
                return ""
            return value.strftime("%Y%m%d") if isinstance(value, date) else str(value).rstrip(" ")

        name = text("name") + text("name_ext")
        fields = {
            "region": ident[:6], "citizen_id": text("citizen_id"), "card_number": text("card_number")[:9],
            "card_identifier": ident, "name": name, "atr_historical": card.atr_historical,
            "spec_version": text("spec_version"), "issue_date": text("issue_date"),
            "expiry_date": text("expiry_date"), "terminal_number": self.terminal_number,
            "device_number": self.device_number,
        }
        return self._join("card_basic", fields)

    def _join(self, fmt: str, fields: dict[str, str]) -> str:
        spec = self.reader_api["formats"][fmt]
        sep = spec["separator"]
        text = sep.join(fields[f["name"]] for f in spec["fields"])
        return text + sep if spec["trailing_separator"] else text

    def _read_basic(self, iType: int | str) -> str:  # noqa: N803
        transport = self._connect(iType)
        try:
            card = self._read_ef05(transport)
            if card.generation != 3:
                self._read_personal(transport, card)  # 1st/2nd generation: what the card allows
            # 3rd generation without the HSM: unauthenticated_read.generation_3.empty stay empty
            return self._format(card)
        finally:
            transport.disconnect()

    # -- the HSM path --------------------------------------------------------------------------
    def _hsm_step1(self, iType: int | str) -> str:  # noqa: N803
        transport = self._connect(iType)
        try:
            card = self._read_ef05(transport)
            if card.generation != 3:
                raise Refused(self._code("hsm_not_needed"))
            factor = card.card_identifier[-8:]
            original = self.rng.randbytes(8)
            challenge = self._send(transport, 0x00, 0x84, 0x00, 0x00, le=8)
            if challenge.sw != SW.OK:
                raise Refused(minus_sw(challenge.sw))
        except BaseException:
            transport.disconnect()
            raise
        self._hsm = (transport, card, factor, original)
        ident = card.card_identifier.hex().upper()
        return self._join("hsm_step1", {
            "region": ident[:6], "atr_historical": card.atr_historical, "algorithm": f"{card.algorithm:02X}",
            "card_identifier": ident, "internal_factor": factor.hex().upper(),
            "internal_original": original.hex().upper(), "external_factor": factor.hex().upper(),
            "external_original": challenge.data.hex().upper(),
        })

    def _hsm_step2(self, pKey: str) -> str:  # noqa: N803
        assert self._hsm is not None
        transport, card, factor, original = self._hsm
        match = re.fullmatch(self.reader_api["formats"]["hsm_key"]["pattern"], pKey or "")
        if match is None or not match.group(3):
            raise Refused(self._code("hsm_key_malformed"))
        expected, key_original, cryptogram = (bytes.fromhex(g) for g in match.groups())
        if key_original != original:
            raise Refused(self._code("hsm_original_mismatch"))
        self._check_internal_auth(transport, factor, original, expected)
        answer = self._send(transport, 0x00, 0x82, 0x00, READ_KEY, cryptogram)
        if answer.sw != SW.OK:
            raise Refused(minus_sw(answer.sw))  # conditions.external_auth_failed
        self._read_personal(transport, card)
        return self._format(card)

    def _check_internal_auth(self, transport: Transport, factor: bytes, original: bytes, expected: bytes) -> None:
        """INTERNAL AUTHENTICATE: the card proves itself genuine; the HSM's result must agree."""
        answer = self._send(transport, 0x00, 0x88, 0x00, 0x00, factor + original, le=8)
        if answer.sw != SW.OK:
            raise Refused(self._code("hsm_internal_auth_failed"))
        if answer.data != expected:
            raise Refused(self._code("hsm_internal_auth_mismatch"))

    # -- PIN -----------------------------------------------------------------------------------
    def _check_pin(self, pin: str) -> None:
        policy = self.ssse["pin"]
        if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit():
            raise Refused(self._code("pin_characters"))
        if not policy["min_digits"] <= len(pin) <= policy["max_digits"]:
            raise Refused(self._code("pin_length"))

    def _verify_pin(self, iType: int | str, pin: str) -> str:  # noqa: N803
        if str(iType) not in self.reader_api["itype"]["values"]:
            raise Refused(self._code("bad_itype"))
        self._check_pin(pin)
        transport = self._connect(iType)
        try:
            self._select(transport)
            answer = self._send(transport, 0x00, 0x20, 0x00, 0x00, encode_pin(pin))
        finally:
            transport.disconnect()
        if answer.sw == SW.OK:
            return ""
        if answer.sw1 == 0x63 and answer.sw2 & 0xF0 == 0xC0:
            raise Refused(self._code("pin_wrong"), str(answer.sw2 & 0x0F))
        if answer.sw == SW.AUTH_METHOD_BLOCKED:
            raise Refused(self._code("pin_blocked"))
        raise Refused(minus_sw(answer.sw))
