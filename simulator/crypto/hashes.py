"""SM3 hash (GB/T 32905-2016), via `cryptography`.

Why its own module: SM2 signing (Z_A, GM/T 0003.2) and SM-profile card data need SM3, and
`hashlib.new("sm3")` depends on how Python's OpenSSL was built (notes/crypto.md, "Pitfalls"),
so everything goes through this one function instead.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes


def sm3(data: bytes) -> bytes:
    """SM3 digest of `data`, 32 bytes."""
    h = hashes.Hash(hashes.SM3())
    h.update(bytes(data))
    return h.finalize()
