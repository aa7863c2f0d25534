"""The e-code payload's bytes: three signed parts, each encoded and decoded here and nowhere else.

    header         version 1 (0x81) ‖ length 2 (bytes that follow)
    certificate    CA key index 1 ‖ issuer id 4 ‖ expiry 4 (YYYYMMDD BCD) ‖ serial 4 ‖ algorithm 1
                   ‖ issuer key 33 (compressed) ‖ CA signature 64 over the 47 bytes before it
    authorisation  card number 9 (ASCII, space-padded) ‖ holder binding 16 ‖ region 3 (BCD) ‖ kind 1
                   ‖ single-payment limit 4 (fen) ‖ user key 33 (compressed) ‖ expiry 4 (Unix s)
                   ‖ QR validity 2 (s) ‖ issuer signature 64 over the certificate and the fields before it
    display        generation time 4 (Unix s) ‖ user signature 64 over everything before it

318 bytes in all. The shape is the field ride code's (profiles/national/ecode.yaml, `source`); the
holder binding is SM3 over the citizen ID and name, so the code is bound to its holder without
carrying either (PIPL: a QR code is read by any camera). Times are Unix seconds of the injected
clock, whose naive datetimes are read as UTC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date, datetime

from simulator.crypto.hashes import sm3

VERSION = 0x81
#: GM/T 0003 SM2 signature with SM3 (the one algorithm the model knows)
ALGORITHM_SM2_SM3 = 0x04
_EPOCH = datetime(1970, 1, 1)
_CERTIFICATE = struct.Struct(">B4s4sIB33s64s")
_AUTHORISATION = struct.Struct(">9s16s3sBI33sIH64s")
_DISPLAY = struct.Struct(">I64s")
_HEADER = struct.Struct(">BH")
SIZE = _HEADER.size + _CERTIFICATE.size + _AUTHORISATION.size + _DISPLAY.size


class MalformedCode(ValueError):
    """Bytes that are not an e-code of this layout; the message says what is wrong."""


def epoch_seconds(moment: datetime) -> int:
    """Unix seconds of a clock reading (naive, read as UTC)."""
    return int((moment - _EPOCH).total_seconds())


def holder_binding(citizen_id: str, name: str) -> bytes:
    """The 16 bytes binding a code to its holder: SM3(citizen ID ‖ 0x00 ‖ name), truncated."""
    return sm3(citizen_id.encode() + b"\x00" + name.encode("utf-8"))[:16]


def _bcd(digits: str, size: int) -> bytes:
    if len(digits) != 2 * size or not digits.isdigit():
        raise ValueError(f"{digits!r} is not {2 * size} decimal digits")
    return bytes.fromhex(digits)


def _digits(raw: bytes, what: str) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise MalformedCode(f"{what} {text.upper()} is not BCD")
    return text


def signed_parts(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """What the CA, the issuer and the user signed in the bytes `raw` of a code (one `ECode.decode`
    takes): the certificate before its signature; the certificate and the authorisation before
    its signature; everything before the user's signature. Cut from the bytes as scanned, which is
    what a signature is over, not encoded again from the decoded fields: that cost a third of the
    verifier's work besides the SM2 arithmetic, and raised on fields decoding accepts but encoding
    refuses (a card number with a leading space), where the bytes simply do not verify."""
    certificate = _HEADER.size + _CERTIFICATE.size
    authorisation = certificate + _AUTHORISATION.size
    return raw[_HEADER.size:certificate - 64], raw[_HEADER.size:authorisation - 64], raw[:-64]


@dataclass(frozen=True, slots=True)
class IssuerCertificate:
    """The issuer's public key, signed by a CA key the terminal holds (by its index)."""

    ca_index: int
    issuer_id: bytes
    expires: date
    serial: int
    issuer_key: bytes  # compressed, 33 bytes
    ca_signature: bytes = b"\x00" * 64
    algorithm: int = ALGORITHM_SM2_SM3

    def signed_part(self) -> bytes:
        return self.encode()[:-64]

    def encode(self) -> bytes:
        return _CERTIFICATE.pack(self.ca_index, self.issuer_id, _bcd(self.expires.strftime("%Y%m%d"), 4),
                                 self.serial, self.algorithm, self.issuer_key, self.ca_signature)

    @classmethod
    def decode(cls, raw: bytes) -> IssuerCertificate:
        index, issuer, expires, serial, algorithm, key, signature = _CERTIFICATE.unpack(raw)
        text = _digits(expires, "certificate expiry")
        try:
            expiry = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise MalformedCode(f"certificate expiry {text} is not a date") from None
        return cls(index, issuer, expiry, serial, key, signature, algorithm)


@dataclass(frozen=True, slots=True)
class Authorisation:
    """A user key the issuer authorises, for one card and holder, until `expires_at`."""

    card_number: str
    holder: bytes
    region: str
    kind: int
    payment_limit: int
    user_key: bytes  # compressed, 33 bytes
    expires_at: int
    validity_seconds: int
    issuer_signature: bytes = b"\x00" * 64

    def encode(self) -> bytes:
        number = self.card_number.encode("ascii")
        if not 1 <= len(number) <= 9 or b" " in number:
            raise ValueError(f"a card number is 1..9 characters without spaces, got {self.card_number!r}")
        return _AUTHORISATION.pack(number.ljust(9), self.holder, _bcd(self.region, 3), self.kind, self.payment_limit,
                                   self.user_key, self.expires_at, self.validity_seconds, self.issuer_signature)

    @classmethod
    def decode(cls, raw: bytes) -> Authorisation:
        number, holder, region, kind, limit, key, expires, validity, signature = _AUTHORISATION.unpack(raw)
        if not number.isascii() or not number.decode("ascii").isprintable() or not number.strip():
            raise MalformedCode(f"card number {number.hex().upper()} is not printable ASCII")
        return cls(number.decode("ascii").rstrip(" "), holder, _digits(region, "region"), kind, limit, key, expires,
                   validity, signature)


@dataclass(frozen=True, slots=True)
class ECode:
    """One displayed code: certificate, authorisation, generation time and the user's signature."""

    certificate: IssuerCertificate
    authorisation: Authorisation
    generated_at: int
    user_signature: bytes = b"\x00" * 64

    def user_signed_part(self) -> bytes:
        return self.encode()[:-64]

    def encode(self) -> bytes:
        body = self.certificate.encode() + self.authorisation.encode() + _DISPLAY.pack(self.generated_at,
                                                                                        self.user_signature)
        return _HEADER.pack(VERSION, len(body)) + body

    @classmethod
    def decode(cls, raw: bytes) -> ECode:
        """The code in `raw`, or MalformedCode naming the first thing wrong."""
        if len(raw) != SIZE:
            raise MalformedCode(f"an e-code is {SIZE} bytes, got {len(raw)}")
        version, length = _HEADER.unpack_from(raw)
        if version != VERSION or length != SIZE - _HEADER.size:
            raise MalformedCode(f"header {raw[:3].hex().upper()}: expected version {VERSION:02X} and length "
                                f"{SIZE - _HEADER.size}")
        at = _HEADER.size
        certificate = IssuerCertificate.decode(raw[at:at + _CERTIFICATE.size])
        at += _CERTIFICATE.size
        authorisation = Authorisation.decode(raw[at:at + _AUTHORISATION.size])
        at += _AUTHORISATION.size
        generated_at, signature = _DISPLAY.unpack(raw[at:])
        return cls(certificate, authorisation, generated_at, signature)
