"""Block ciphers by name: DES, 3DES and SM4 behind one small interface.

Why: a card profile names its purse/key algorithm ("3des" for PBOC 2.0 / JT/T 978 cards, "sm4"
for PBOC 3.0 / SM cards) and the card OS, PSAM and terminal code must not care which one it got.
`cipher(name, key)` returns a `BlockCipher` with ECB encrypt/decrypt and a CBC encrypt, which
is all the PBOC MAC, key-diversification and session-key computations need.

Algorithms (the ciphers themselves come from `cryptography`; nothing here is hand-rolled):

- "des": single DES, FIPS 46-3 / FIPS 81, 8-byte key (parity bits ignored). Run as 3DES with
  K1 = K2 = K3, which is single DES by construction (EDE with equal keys).
- "3des": TDEA, NIST SP 800-67 / ISO/IEC 18033-3, 16-byte (K1K2K1, "2-key") or 24-byte key.
- "sm4": SM4, GB/T 32907-2016, 16-byte key and 16-byte block.

Keys are always handed to `TripleDES` as 24 bytes: 8- and 16-byte keys make `cryptography`
emit `CryptographyDeprecationWarning` (notes/crypto.md, "Pitfalls").

Performance: building a `Cipher` per block is about 15x slower than reusing one ECB context
(notes/crypto.md, "Throughput"), so `cipher()` is cached per (algorithm, key) and every
`BlockCipher` keeps one ECB encryptor and one ECB decryptor for its lifetime. ECB contexts are
stateless between whole blocks, which is why inputs must be block-aligned: an unaligned
`update()` would leave bytes buffered inside the shared context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes


@dataclass(frozen=True)
class AlgorithmSpec:
    """What the registry knows about one algorithm name."""

    block_size: int  # bytes
    key_sizes: tuple[int, ...]  # accepted key lengths in bytes
    make: Callable[[bytes], BlockCipherAlgorithm]  # key -> cryptography algorithm object


def _des(key: bytes) -> BlockCipherAlgorithm:
    return TripleDES(key * 3)  # EDE with K1 = K2 = K3 is single DES


def _tdes(key: bytes) -> BlockCipherAlgorithm:
    return TripleDES(key + key[:8] if len(key) == 16 else key)  # 2-key: K1 K2 K1


ALGORITHMS: dict[str, AlgorithmSpec] = {
    "des": AlgorithmSpec(block_size=8, key_sizes=(8,), make=_des),
    "3des": AlgorithmSpec(block_size=8, key_sizes=(16, 24), make=_tdes),
    "sm4": AlgorithmSpec(block_size=16, key_sizes=(16,), make=algorithms.SM4),
}


def spec(algorithm: str) -> AlgorithmSpec:
    """Registry entry for `algorithm`; ValueError naming the valid names if it is unknown."""
    try:
        return ALGORITHMS[algorithm]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(ALGORITHMS))
        raise ValueError(f"unknown block cipher algorithm {algorithm!r}; valid: {valid}") from None


def xor(a: bytes, b: bytes) -> bytes:
    """Bytewise XOR of two equal-length byte strings."""
    if len(a) != len(b):
        raise ValueError(f"xor of unequal lengths {len(a)} and {len(b)}")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class BlockCipher:
    """One algorithm with one key: ECB encrypt/decrypt and CBC encrypt, bytes in and out.

    Get instances from `cipher()`, which caches them; constructing one directly works but
    loses the cache.
    """

    __slots__ = ("algorithm", "block_size", "_enc", "_dec")

    def __init__(self, algorithm: str, key: bytes) -> None:
        entry = spec(algorithm)
        if len(key) not in entry.key_sizes:
            sizes = " or ".join(str(n) for n in entry.key_sizes)
            raise ValueError(f"{algorithm} key must be {sizes} bytes, got {len(key)}")
        self.algorithm = algorithm
        self.block_size = entry.block_size
        ecb = Cipher(entry.make(bytes(key)), modes.ECB())
        self._enc = ecb.encryptor()
        self._dec = ecb.decryptor()

    def __repr__(self) -> str:  # never show the key
        return f"BlockCipher({self.algorithm!r})"

    def _check(self, data: bytes) -> None:
        if len(data) % self.block_size:
            raise ValueError(
                f"{self.algorithm}: data length {len(data)} is not a multiple of the "
                f"{self.block_size}-byte block"
            )

    def encrypt(self, data: bytes) -> bytes:
        """ECB encryption of block-aligned `data` (ValueError otherwise)."""
        self._check(data)
        return self._enc.update(data)

    def decrypt(self, data: bytes) -> bytes:
        """ECB decryption of block-aligned `data` (ValueError otherwise)."""
        self._check(data)
        return self._dec.update(data)

    def encrypt_cbc(self, data: bytes, iv: bytes) -> bytes:
        """CBC encryption (ISO/IEC 10116) of block-aligned `data`, chaining from `iv`."""
        self._check(data)
        n = self.block_size
        if len(iv) != n:
            raise ValueError(f"{self.algorithm}: IV must be {n} bytes, got {len(iv)}")
        out = bytearray()
        chain = bytes(iv)
        for i in range(0, len(data), n):
            chain = self._enc.update(xor(chain, data[i : i + n]))
            out += chain
        return bytes(out)


@lru_cache(maxsize=4096)
def _cached(algorithm: str, key: bytes) -> BlockCipher:
    return BlockCipher(algorithm, key)


def cipher(algorithm: str, key: bytes) -> BlockCipher:
    """The `BlockCipher` for `algorithm` ("des", "3des" or "sm4") keyed with `key`.

    Raises ValueError for an unknown name (listing the valid ones) or a key of the wrong length
    (naming the algorithm and the length). Instances are cached per (algorithm, key).
    """
    spec(algorithm)  # unknown names fail before the cache sees them (and unhashable ones too)
    return _cached(algorithm, bytes(key))
