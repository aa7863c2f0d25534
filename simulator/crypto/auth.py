"""Authentication cryptograms of the social-security application (card side and issuer side).

The commands are verified in field code (ssc-card.md §2: GET CHALLENGE 0084000008, EXTERNAL AUTH
0082 00 kid, INTERNAL AUTH 0088 with 过程因子 ‖ 原始信息, RELOAD PIN 805E 0000, UNBLOCK 8424);
the cryptogram layouts below are **source: modelled** (the ministry's card specification is not
public) and are the same for card and issuer, so either side can be swapped for a real one.
"""

from __future__ import annotations

from simulator.crypto.block import cipher, spec
from simulator.crypto.keys import diversify
from simulator.crypto.mac import pad_m2, pboc_mac


def _block(algorithm: str, data: bytes) -> bytes:
    """`data` zero-padded to one block of the algorithm."""
    return data.ljust(spec(algorithm).block_size, b"\x00")


def external_auth_cryptogram(algorithm: str, key: bytes, challenge: bytes) -> bytes:
    """What the terminal sends in EXTERNAL AUTHENTICATE: E(K, challenge zero-padded to a block)."""
    return cipher(algorithm, key).encrypt(_block(algorithm, challenge))


def internal_auth_result(algorithm: str, key: bytes, factor: bytes, original: bytes) -> bytes:
    """INTERNAL AUTHENTICATE answer: the first 8 bytes of E(diversify(K, 过程因子), 原始信息 padded)."""
    session = diversify(algorithm, key, factor)
    return cipher(algorithm, session).encrypt(_block(algorithm, original))[:8]


def pin_reload_mac(algorithm: str, key: bytes, pin: bytes, challenge: bytes) -> bytes:
    """MAC of RELOAD PIN (80 5E 00 00 PIN ‖ MAC): PBOC MAC over the new PIN, ICV = challenge."""
    return pboc_mac(algorithm, key, pin, icv=_block(algorithm, challenge))


def pin_unblock_data(algorithm: str, key: bytes, pin: bytes, challenge: bytes) -> bytes:
    """Data of UNBLOCK PIN (84 24 00 00): E(K, len ‖ PIN padded) ‖ MAC over header, Lc and the
    cryptogram with ICV = challenge (PBOC secure-messaging style)."""
    c = cipher(algorithm, key)
    enciphered = c.encrypt(pad_m2(bytes((len(pin),)) + pin, c.block_size))
    header = bytes((0x84, 0x24, 0x00, 0x00, len(enciphered) + 4))
    return enciphered + pboc_mac(algorithm, key, header + enciphered, icv=_block(algorithm, challenge))


def pin_unblock_open(algorithm: str, key: bytes, data: bytes, challenge: bytes) -> bytes | None:
    """Card side of UNBLOCK PIN: the new PIN, or None when the MAC or the padding is wrong."""
    c = cipher(algorithm, key)
    enciphered, mac = data[:-4], data[-4:]
    if not enciphered or len(enciphered) % c.block_size:
        return None
    header = bytes((0x84, 0x24, 0x00, 0x00, len(data)))
    if pboc_mac(algorithm, key, header + enciphered, icv=_block(algorithm, challenge)) != mac:
        return None
    plain = c.decrypt(enciphered)
    length = plain[0]
    if length == 0 or 1 + length > len(plain) or pad_m2(plain[: 1 + length], c.block_size) != plain:
        return None
    return plain[1 : 1 + length]
