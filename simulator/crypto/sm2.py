"""SM2 digital signatures (GM/T 0003.2-2012 / GB/T 32918.2-2016) on the recommended curve.

Why: SM-profile cards, PSAMs and the e-code platform sign and verify with SM2; `cryptography`
has no SM2, so the arithmetic comes from `gmalg` (pure Python, the reference: it reproduces the
GM/T 0003.5 Annex A answer with an injected k) and this module only fixes the formats and the
randomness. Verification with the default user ID goes through `tongsuopy` (Tongsuo, compiled),
about 100 times faster than gmalg, because the platform and terminals verify e-codes by the
hundred per second (bench/bench_ecode.py); `verify_reference` keeps gmalg's path, and the tests
cross-check the two on the same signatures. Signing stays on gmalg: its nonce can be injected.

- private key: 32 bytes big-endian d, 1 <= d <= n - 2;
- public key: 65 bytes 04 ‖ x ‖ y (uncompressed); 64 bytes x ‖ y is accepted too;
- signature: raw r ‖ s, 64 bytes (gmalg returns minimal-length r and s, so they are left-padded
  to 32 bytes each);
- user ID: default "1234567812345678", the GM/T 0009 default that gmalg, gmssl and tongsuopy
  agree on.

Randomness is injected, never global: pass a seeded `random.Random` for reproducible runs, or
a fixed `k` for known-answer tests (GM/T 0003.5 Annex A). With neither, the nonce or key comes
from `secrets` (the OS CSPRNG), which is what a real signer must use.

`z_a` recomputes the signer's identity hash Z_A with our own SM3 because gmalg's helper is
private (`_core.entity_info`); the Annex A value checks both it and the curve constants below.
"""

from __future__ import annotations

import base64
import binascii
import random
import secrets
from collections.abc import Callable
from functools import lru_cache

import gmalg
from tongsuopy.crypto import hashes as tongsuo_hashes
from tongsuopy.crypto.asymciphers import ec as tongsuo_ec
from tongsuopy.crypto.exceptions import InvalidSignature

from .hashes import sm3

DEFAULT_UID = b"1234567812345678"

# SM2 recommended curve, GM/T 0003.5-2012 / GB/T 32918.5-2017.
P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
GX = 0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7
GY = 0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0


def _i2b(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _private(private_key: bytes) -> bytes:
    if len(private_key) != 32:
        raise ValueError(f"SM2 private key must be 32 bytes, got {len(private_key)}")
    d = int.from_bytes(private_key, "big")
    if not 1 <= d <= N - 2:
        raise ValueError("SM2 private key out of range 1..n-2")
    return bytes(private_key)


def _public(public_key: bytes) -> bytes:
    """Normalise to 04 ‖ x ‖ y and check the point is on the curve (cofactor 1: that suffices)."""
    if len(public_key) == 64:
        public_key = b"\x04" + bytes(public_key)
    if len(public_key) != 65 or public_key[0] != 0x04:
        raise ValueError("SM2 public key must be 04 ‖ x ‖ y (65 bytes) or x ‖ y (64 bytes)")
    x = int.from_bytes(public_key[1:33], "big")
    y = int.from_bytes(public_key[33:], "big")
    if not (x < P and y < P and (y * y - x * x * x - A * x - B) % P == 0):
        raise ValueError("SM2 public key is not a point on the curve")
    return bytes(public_key)


def _uid(uid: bytes) -> bytes:
    if not 1 <= len(uid) <= 8191:  # ENTL is 16 bits of bit length; gmalg refuses an empty ID
        raise ValueError(f"SM2 user ID must be 1..8191 bytes, got {len(uid)}")
    return bytes(uid)


def _rnd_fn(rng: random.Random | None) -> Callable[[int], int]:
    return rng.getrandbits if rng is not None else secrets.randbits


def _fixed_k(k: bytes | int) -> Callable[[int], int]:
    value = k if isinstance(k, int) else int.from_bytes(k, "big")
    if not 1 <= value <= N - 1:
        raise ValueError("SM2 nonce k out of range 1..n-1")
    used = False

    def rnd(_bits: int) -> int:
        # gmalg draws again if r = 0, r + k = n or s = 0; a fixed k would then loop forever.
        nonlocal used
        if used:
            raise ValueError("this fixed k gives an invalid SM2 signature; choose another")
        used = True
        return value

    return rnd


def public_key_of(private_key: bytes) -> bytes:
    """The 65-byte public key 04 ‖ x ‖ y of a 32-byte private key."""
    return gmalg.SM2().generate_pk(_private(private_key))


def generate_keypair(rng: random.Random | None = None) -> tuple[bytes, bytes]:
    """A fresh (private key 32 bytes, public key 65 bytes) pair, drawing from `rng`."""
    sk, pk = gmalg.SM2(rnd_fn=_rnd_fn(rng)).generate_keypair()
    return sk.rjust(32, b"\x00"), pk


def z_a(public_key: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), GM/T 0003.2 §5.5."""
    uid = _uid(uid)
    pk = _public(public_key)
    return sm3(
        (len(uid) * 8).to_bytes(2, "big") + uid + _i2b(A) + _i2b(B) + _i2b(GX) + _i2b(GY) + pk[1:]
    )


def sign(
    private_key: bytes,
    message: bytes,
    uid: bytes = DEFAULT_UID,
    k: bytes | int | None = None,
    *,
    rng: random.Random | None = None,
) -> bytes:
    """SM2 signature r ‖ s (64 bytes) over SM3(Z_A ‖ message).

    `k` fixes the nonce (known-answer tests only); otherwise it is drawn from `rng`, or from
    `secrets` if no `rng` is given.
    """
    sk = _private(private_key)
    rnd = _fixed_k(k) if k is not None else _rnd_fn(rng)
    r, s = gmalg.SM2(sk, _uid(uid), rnd_fn=rnd).sign(bytes(message))
    return r.rjust(32, b"\x00") + s.rjust(32, b"\x00")


def verify(public_key: bytes, message: bytes, signature: bytes, uid: bytes = DEFAULT_UID) -> bool:
    """True if `signature` (r ‖ s, 64 bytes) is a valid SM2 signature on `message`.

    A signature of the wrong length is simply invalid (False); a malformed public key raises
    ValueError, because that is a configuration error rather than a forged message. With the
    default ID the check runs in Tongsuo (which knows no other ID), else in gmalg.
    """
    if uid != DEFAULT_UID:
        return verify_reference(public_key, message, signature, uid)
    key = _tongsuo_key(_public(public_key))
    if len(signature) != 64:
        return False
    try:
        key.verify(signature_der(signature), bytes(message), tongsuo_ec.ECDSA(tongsuo_hashes.SM3()))
    except InvalidSignature:
        return False
    return True


def verify_reference(public_key: bytes, message: bytes, signature: bytes, uid: bytes = DEFAULT_UID) -> bool:
    """`verify` by gmalg's pure-Python arithmetic: the reference the fast path is checked against."""
    pk = _public(public_key)
    if len(signature) != 64:
        return False
    return gmalg.SM2(uid=_uid(uid), pk=pk).verify(bytes(message), signature[:32], signature[32:])


@lru_cache(maxsize=4096)
def _tongsuo_key(public_key: bytes) -> tongsuo_ec.EllipticCurvePublicKey:
    """Tongsuo's key object for a checked 65-byte point, kept: building it costs a point decode."""
    return tongsuo_ec.EllipticCurvePublicKey.from_encoded_point(tongsuo_ec.SM2(), public_key)


def compress(public_key: bytes) -> bytes:
    """The 33-byte compressed form 02/03 ‖ x of a public key (SEC 1 §2.3.3; the ride code carries
    keys so, to keep the QR payload short)."""
    pk = _public(public_key)
    return bytes([2 + (pk[-1] & 1)]) + pk[1:33]


def decompress(point: bytes) -> bytes:
    """The 65-byte public key 04 ‖ x ‖ y of a compressed point, ValueError if it is none.

    y = sqrt(x³ + ax + b) mod p; p ≡ 3 (mod 4) on the SM2 curve, so the root is a power."""
    if len(point) != 33 or point[0] not in (2, 3):
        raise ValueError("a compressed SM2 public key is 02 or 03 followed by x, 33 bytes")
    x = int.from_bytes(point[1:], "big")
    if x >= P:
        raise ValueError("compressed SM2 public key: x is not below p")
    y = pow((x * x * x + A * x + B) % P, (P + 1) // 4, P)
    if (y * y - x * x * x - A * x - B) % P:
        raise ValueError("compressed SM2 public key: x is not on the curve")
    if y & 1 != point[0] & 1:
        y = P - y
    return b"\x04" + _i2b(x) + _i2b(y)


# -- key files: DER/PEM as OpenSSL and GmSSL write SM2 keys ------------------------------------
#: SubjectPublicKeyInfo of an uncompressed SM2 point (RFC 5480 id-ecPublicKey, curve OID
#: 1.2.156.10197.1.301 of GM/T 0006): everything before the 65-byte point is fixed.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
#: SEC 1 ECPrivateKey (RFC 5915) with the curve and the public key: d and the point at fixed offsets.
_SEC1_HEAD = bytes.fromhex("3077020101" "0420")
_SEC1_MIDDLE = bytes.fromhex("a00a06082a811ccf5501822da144034200")


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _unpem(label: str, text: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise ValueError(f"not a PEM {label}")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"PEM {label}: bad base64") from exc


def public_key_pem(public_key: bytes) -> str:
    """The public key as a PEM SubjectPublicKeyInfo (`openssl pkey -pubin -text` reads it)."""
    return _pem("PUBLIC KEY", _SPKI_PREFIX + _public(public_key))


def load_public_key_pem(text: str) -> bytes:
    """The 65-byte public key of a PEM SubjectPublicKeyInfo on the SM2 curve."""
    der = _unpem("PUBLIC KEY", text)
    if len(der) != len(_SPKI_PREFIX) + 65 or not der.startswith(_SPKI_PREFIX):
        raise ValueError("PEM PUBLIC KEY is not an uncompressed SM2 public key")
    return _public(der[len(_SPKI_PREFIX):])


def private_key_pem(private_key: bytes) -> str:
    """The private key as a PEM SEC 1 `EC PRIVATE KEY` on the SM2 curve, with its public key."""
    sk = _private(private_key)
    return _pem("EC PRIVATE KEY", _SEC1_HEAD + sk + _SEC1_MIDDLE + public_key_of(sk))


def load_private_key_pem(text: str) -> bytes:
    """The 32-byte private key of a PEM `EC PRIVATE KEY` written by `private_key_pem`."""
    der = _unpem("EC PRIVATE KEY", text)
    head, middle = len(_SEC1_HEAD), len(_SEC1_HEAD) + 32
    if len(der) != middle + len(_SEC1_MIDDLE) + 65 or not der.startswith(_SEC1_HEAD) \
            or der[middle:middle + len(_SEC1_MIDDLE)] != _SEC1_MIDDLE:
        raise ValueError("PEM EC PRIVATE KEY is not an SM2 key in the expected form")
    sk = _private(der[head:middle])
    if der[middle + len(_SEC1_MIDDLE):] != public_key_of(sk):
        raise ValueError("PEM EC PRIVATE KEY: the public key does not belong to the private key")
    return sk


def signature_der(signature: bytes) -> bytes:
    """r ‖ s as the DER SEQUENCE { INTEGER r, INTEGER s } that OpenSSL and GmSSL read (GM/T 0009 §7)."""
    if len(signature) != 64:
        raise ValueError(f"SM2 signature r ‖ s must be 64 bytes, got {len(signature)}")

    def integer(value: bytes) -> bytes:
        value = value.lstrip(b"\x00") or b"\x00"
        if value[0] & 0x80:
            value = b"\x00" + value
        return b"\x02" + bytes([len(value)]) + value

    body = integer(signature[:32]) + integer(signature[32:])
    return b"\x30" + bytes([len(body)]) + body
