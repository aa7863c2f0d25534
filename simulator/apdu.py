"""Command and response APDUs (ISO/IEC 7816-4 §5) and named status words.

Why its own module: every layer (card OS, transports, terminals, the harness) speaks APDUs, and
the one rule that must hold everywhere is that *any* byte string sent to a card gets a
well-formed response. `CommandAPDU.parse` therefore never raises anything but `CardError`,
whose status word the card OS returns as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SW(IntEnum):
    """Status words the virtual cards return (ISO 7816-4 §5.6 plus PBOC/JT/T 978 additions)."""

    OK = 0x9000
    END_OF_RECORD = 0x6282  # end of record reached before Le bytes
    FILE_DEACTIVATED = 0x6283  # selected file deactivated (a locked application)
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    COMMAND_INCOMPATIBLE = 0x6981  # e.g. record command on a transparent EF
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983  # PIN blocked
    REFERENCE_DATA_INVALID = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986  # no current EF
    SM_DATA_MISSING = 0x6987
    SM_DATA_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    REFERENCE_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00  # offset outside the EF
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00
    # PBOC / JT/T 978 electronic purse (transit-payment.md §1.3)
    INSUFFICIENT_FUNDS = 0x9401
    KEY_INDEX_NOT_SUPPORTED = 0x9403
    COUNTER_EXHAUSTED = 0x9402  # transaction counter at its maximum [B]
    MAC_UNAVAILABLE = 0x9406  # GET TRANSACTION PROVE: no proof for that ATC [B]
    MAC_INVALID = 0x9302
    APPLICATION_LOCKED = 0x9303


def counter_sw(tries_left: int) -> int:
    """63Cx: verification failed, x tries left (ISO 7816-4 §5.6)."""
    return 0x63C0 | (tries_left & 0x0F)


def wrong_le_sw(exact: int) -> int:
    """6Cxx: wrong Le, xx gives the exact length available."""
    return 0x6C00 | (exact & 0xFF)


# Meaning of a status word, with nibble wildcards (x), looked up most specific first.
_MEANINGS: dict[str, str] = {
    **{f"{sw.value:04X}": sw.name.lower().replace("_", " ") for sw in SW},
    "61xx": "response bytes still available",
    "63Cx": "verification failed, x tries left",
    "6Cxx": "wrong Le, xx is the exact length",
}


def describe(sw: int) -> str:
    """Human-readable meaning of a status word, for traces and reports."""
    text = f"{sw:04X}"
    for pattern in (text, text[:3] + "x", text[:2] + "xx"):
        if pattern in _MEANINGS:
            return _MEANINGS[pattern]
    return "unknown status word"


#: Command names by (CLA b8 set = proprietary class, INS, P1 or None for any P1): ISO/IEC 7816-4 §11
#: (interindustry), PBOC / JT/T 978 purse and PSAM commands (transit-payment.md §1.3, §1.5), EMV
#: GET PROCESSING OPTIONS. The one table of command names: traces, reports and the timing model's
#: command classes (simulator.transport.timing) read it.
COMMAND_NAMES: dict[tuple[bool, int, int | None], str] = {
    (False, 0xA4, None): "SELECT",
    (False, 0xB0, None): "READ BINARY",
    (False, 0xB2, None): "READ RECORD",
    (False, 0xD6, None): "UPDATE BINARY",
    (False, 0xDC, None): "UPDATE RECORD",
    (False, 0xE2, None): "APPEND RECORD",
    (False, 0x84, None): "GET CHALLENGE",
    (False, 0x82, None): "EXTERNAL AUTHENTICATE",
    (False, 0x88, None): "INTERNAL AUTHENTICATE",
    (False, 0x20, None): "VERIFY",
    (False, 0xC0, None): "GET RESPONSE",
    (False, 0xCA, None): "GET DATA",
    (False, 0x70, None): "MANAGE CHANNEL",
    (True, 0x5C, None): "GET BALANCE",
    (True, 0x50, 0x00): "INITIALIZE FOR LOAD",
    (True, 0x50, 0x01): "INITIALIZE FOR PURCHASE",
    (True, 0x50, 0x03): "INITIALIZE FOR CAPP PURCHASE",
    (True, 0xDC, None): "UPDATE CAPP DATA CACHE",
    (True, 0x54, None): "DEBIT FOR PURCHASE",
    (True, 0x52, None): "CREDIT FOR LOAD",
    (True, 0x5A, None): "GET TRANSACTION PROVE",
    (True, 0x1E, None): "APPLICATION BLOCK",
    (True, 0x24, None): "PIN UNBLOCK",
    (True, 0x5E, 0x00): "RELOAD PIN",
    (True, 0x5E, 0x01): "CHANGE PIN",
    (True, 0xA8, None): "GET PROCESSING OPTIONS",
    (True, 0xCA, None): "GET DATA",
    (True, 0x70, None): "PSAM MAC1",  # 消费交易初始化
    (True, 0x72, None): "PSAM VERIFY MAC2",
    (True, 0x1A, None): "DES INITIALIZE",
    (True, 0xFA, None): "DES COMPUTE",
}


def command_name(command: bytes) -> str | None:
    """The name of a command APDU from its CLA class, INS and P1; None when the table has none."""
    if len(command) < 2:
        return None
    proprietary = bool(command[0] & 0x80)
    if len(command) > 2 and (name := COMMAND_NAMES.get((proprietary, command[1], command[2]))):
        return name
    return COMMAND_NAMES.get((proprietary, command[1], None))


class CardError(Exception):
    """Raised inside a card to answer with a status word; never escapes the card."""

    def __init__(self, sw: int, message: str = "") -> None:
        super().__init__(message or f"{sw:04X} {describe(sw)}")
        self.sw = int(sw)


@dataclass(frozen=True, slots=True)
class CommandAPDU:
    """A parsed command APDU. `le` is None when absent; 0 in Le means 256 (short) or 65536."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    @property
    def ne(self) -> int | None:
        """Maximum number of response bytes expected (Le decoded), or None when absent."""
        if self.le is None:
            return None
        if self.le == 0:
            return 65536 if self.extended else 256
        return self.le

    @classmethod
    def parse(cls, raw: bytes) -> CommandAPDU:
        """Decode cases 1-4, short and extended length (ISO 7816-4 §5.1).

        Anything that is not exactly one of those encodings raises CardError(6700).
        """
        n = len(raw)
        if n < 4:
            raise CardError(SW.WRONG_LENGTH, f"APDU of {n} bytes is shorter than a header")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        b = len(body)
        if b == 0:  # case 1
            return cls(cla, ins, p1, p2)
        if b == 1:  # case 2 short
            return cls(cla, ins, p1, p2, le=body[0])
        if body[0] != 0:  # short Lc
            lc = body[0]
            if b == 1 + lc:  # case 3 short
                return cls(cla, ins, p1, p2, data=bytes(body[1:]))
            if b == 2 + lc:  # case 4 short
                return cls(cla, ins, p1, p2, data=bytes(body[1 : 1 + lc]), le=body[-1])
            raise CardError(SW.WRONG_LENGTH, f"Lc={lc} does not match a body of {b} bytes")
        # body[0] == 0 with more bytes: extended length
        if b == 3:  # case 2 extended
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big"), extended=True)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise CardError(SW.WRONG_LENGTH, "extended Lc of zero")
        if b == 3 + lc:  # case 3 extended
            return cls(cla, ins, p1, p2, data=bytes(body[3:]), extended=True)
        if b == 5 + lc:  # case 4 extended
            le = int.from_bytes(body[-2:], "big")
            return cls(cla, ins, p1, p2, data=bytes(body[3 : 3 + lc]), le=le, extended=True)
        raise CardError(SW.WRONG_LENGTH, f"extended Lc={lc} does not match a body of {b} bytes")

    def to_bytes(self) -> bytes:
        """Encode, choosing extended length only when a field needs it or `extended` is set."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        ext = self.extended or len(self.data) > 255 or (self.le is not None and self.le > 256)
        out = bytearray(header)
        if self.data:
            out += (b"\x00" + len(self.data).to_bytes(2, "big")) if ext else bytes((len(self.data),))
            out += self.data
        if self.le is not None:
            if ext:
                le = self.le % 65536
                out += (b"" if self.data else b"\x00") + le.to_bytes(2, "big")
            else:
                out.append(self.le % 256)
        return bytes(out)

    def __str__(self) -> str:
        parts = [f"{self.cla:02X}{self.ins:02X}{self.p1:02X}{self.p2:02X}"]
        if self.data:
            parts.append(self.data.hex().upper())
        if self.le is not None:
            parts.append(f"Le={self.le}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ResponseAPDU:
    """Response data plus the two status bytes."""

    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> ResponseAPDU:
        if len(raw) < 2:
            raise ValueError(f"a response APDU has at least 2 bytes, got {raw.hex() or 'none'}")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    @classmethod
    def status(cls, sw: int) -> ResponseAPDU:
        return cls(b"", int(sw))

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def __str__(self) -> str:
        data = self.data.hex().upper() + " " if self.data else ""
        return f"{data}{self.sw:04X}"
