"""PBOC key diversification (分散) and the TAC key fold.

Why: a card never holds the issuer's master keys. Each card key is derived from a master key
and an 8-byte diversification factor (normally the rightmost 8 bytes of the application
serial; a PSAM may apply a second level with the issuer ID). The card profile loads derived
keys, and the PSAM/back-end simulators derive the same keys from the master keys.

- "3des" (PBOC 2.0, JR/T 0025): left = 3DES(MK, factor), right = 3DES(MK, NOT factor),
  key = left ‖ right (16 bytes).
- "sm4" (PBOC 3.0 SM variant): key = SM4(MK, factor ‖ NOT factor) (16 bytes).
  Source: toymoban.com/news/detail-733809.html, cited in notes/transit-payment.md §1.4.

NOT is the bitwise inversion of every byte. Repeat `diversify` with the next factor for
multi-level diversification.

`tac_key` folds a 16-byte TAC key into the 8-byte single-DES key that JT/T 978 / PBOC use for
the TAC: left 8 bytes XOR right 8 bytes (notes/transit-payment.md §1.4).
"""

from __future__ import annotations

from .block import cipher, xor

DIVERSIFY_ALGORITHMS = ("3des", "sm4")


def invert(data: bytes) -> bytes:
    """Bitwise NOT of every byte."""
    return bytes(b ^ 0xFF for b in data)


def diversify(algorithm: str, master_key: bytes, factor8: bytes) -> bytes:
    """16-byte card key derived from `master_key` and an 8-byte factor (PBOC diversification)."""
    if len(factor8) != 8:
        raise ValueError(f"diversification factor must be 8 bytes, got {len(factor8)}")
    factor8 = bytes(factor8)
    if algorithm == "3des":
        c = cipher("3des", master_key)
        return c.encrypt(factor8) + c.encrypt(invert(factor8))
    if algorithm == "sm4":
        return cipher("sm4", master_key).encrypt(factor8 + invert(factor8))
    raise ValueError(
        f"unknown diversification algorithm {algorithm!r}; valid: {', '.join(DIVERSIFY_ALGORITHMS)}"
    )


def tac_key(key16: bytes) -> bytes:
    """8-byte DES TAC key: left 8 bytes XOR right 8 bytes of the 16-byte TAC key."""
    if len(key16) != 16:
        raise ValueError(f"TAC key must be 16 bytes, got {len(key16)}")
    return xor(bytes(key16[:8]), bytes(key16[8:]))
