"""CBC-MACs used by PBOC / JT/T 978 cards and PSAMs (ISO/IEC 9797-1:2011).

Why: every purse MAC, TAC and secure-messaging MAC on these cards is a CBC-MAC over data padded
with ISO/IEC 9797-1 padding method 2, and the only thing that changes between them is the
output transformation, which depends on the key algorithm:

- "des":  MAC algorithm 1 (plain CBC-MAC) with single DES;
- "3des": MAC algorithm 3, the "retail MAC" (ANSI X9.19): single-DES CBC with the left key
  half, then the last block decrypted with the right half and encrypted again with the left;
- "sm4":  MAC algorithm 1 with SM4 (16-byte blocks), as PBOC 3.0 SM cards use it.

All functions take and return bytes; the ICV (initial chaining value) defaults to zeros and is
XORed into the first block, which is how PBOC passes a card challenge into secure messaging.
"""

from __future__ import annotations

from . import block
from .block import BlockCipher

PBOC_MAC_ALGORITHMS = ("des", "3des", "sm4")


def pad_m2(data: bytes, block_size: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: append 0x80, then zeros up to a block multiple.

    At least one byte is always added, so block-aligned input gains a whole block.
    """
    if block_size <= 0:
        raise ValueError(f"block size must be positive, got {block_size}")
    data = bytes(data) + b"\x80"
    return data + b"\x00" * (-len(data) % block_size)


def _icv(icv: bytes | None, block_size: int) -> bytes:
    if icv is None:
        return bytes(block_size)
    if len(icv) != block_size:
        raise ValueError(f"ICV must be {block_size} bytes, got {len(icv)}")
    return bytes(icv)


def cbc_mac(cipher: BlockCipher, data: bytes, icv: bytes | None = None) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 1: the last CBC block over `data` with padding method 2.

    Returns the full last block (8 bytes for DES/3DES, 16 for SM4); truncate as the caller
    needs.
    """
    n = cipher.block_size
    return cipher.encrypt_cbc(pad_m2(data, n), _icv(icv, n))[-n:]


def retail_mac(key16: bytes, data: bytes, icv: bytes | None = None) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) with a 16-byte DES key K = KL ‖ KR.

    Single-DES CBC-MAC under KL (padding method 2), then output transformation 3:
    encrypt(KL, decrypt(KR, H)). That equals 3DES(KL KR KL) applied to the last chained block.
    Returns 8 bytes.
    """
    if len(key16) != 16:
        raise ValueError(f"retail MAC (3des) key must be 16 bytes, got {len(key16)}")
    left, right = block.cipher("des", key16[:8]), block.cipher("des", key16[8:])
    h = cbc_mac(left, data, icv)
    return left.encrypt(right.decrypt(h))


def pboc_mac(
    algorithm: str, key: bytes, data: bytes, icv: bytes | None = None, length: int = 4
) -> bytes:
    """The PBOC MAC for a key of the given algorithm, truncated to the leftmost `length` bytes.

    "des" -> DES CBC-MAC (algorithm 1), "3des" -> retail MAC (algorithm 3, 16-byte key),
    "sm4" -> SM4 CBC-MAC (algorithm 1). Padding method 2 and ICV zero unless `icv` is given.
    """
    if algorithm == "3des":
        full = retail_mac(key, data, icv)
    elif algorithm in ("des", "sm4"):
        full = cbc_mac(block.cipher(algorithm, key), data, icv)
    else:
        raise ValueError(
            f"unknown MAC algorithm {algorithm!r}; valid: {', '.join(PBOC_MAC_ALGORITHMS)}"
        )
    if not 1 <= length <= len(full):
        raise ValueError(f"MAC length must be 1..{len(full)} for {algorithm}, got {length}")
    return full[:length]
