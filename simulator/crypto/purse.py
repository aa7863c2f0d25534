"""Electronic-purse transaction crypto: session keys, MAC1, MAC2 and TAC (PBOC ED/EP, JT/T 978).

Why: the card OS (INITIALIZE / DEBIT FOR PURCHASE, INITIALIZE / CREDIT FOR LOAD), the PSAM
simulator (8070 / 8072) and the conformance checks must compute bit-identical values, so the
field layouts live here once. Layouts follow notes/transit-payment.md §1.4.

algorithm="3des" (default) - **verified**: every function reproduces the published test
vectors listed in §1.4 (cnblogs.com/ttss/p/4280430.html, blog.csdn.net/slj_win/article/
details/42240845, ncuisine.com/xingyexinwen/379.html, and a real card's load MAC1 from
dpj365.com/?p=401).

- purchase session key = 3DES-ECB(DPK, card random 4 ‖ offline ATC 2 ‖ rightmost 2 bytes of
  the terminal transaction serial); the 8-byte result is a single-DES key.
- load session key = 3DES-ECB(DLK, card random 4 ‖ online ATC 2 ‖ 8000).
- MAC1/MAC2/TAC = DES CBC-MAC (ISO/IEC 9797-1 algorithm 1), ICV zero, padding method 2,
  leftmost 4 bytes. The TAC key is the 16-byte TAC key folded to 8 bytes (left XOR right).

algorithm="sm4" - **source: modelled**. No public source for the SM4 purse (PBOC 3.0 /
JT/T 978 SM) session-key and MAC derivation was found (§1.4, marked [B]). This module models
it by analogy with the SM4 key diversification:

- session key = SM4-ECB(key, input8 ‖ NOT input8), 16 bytes (input8 as for 3DES);
- MAC1/MAC2/TAC = SM4 CBC-MAC, ICV zero, padding method 2 to 16-byte blocks, leftmost 4 bytes;
  the TAC uses the 16-byte TAC key directly (no fold: SM4 needs all 16 bytes).

Replace it once JR/T 0025 (2013+) or the JT/T 978 SM annex is available. Amounts and balances
are ints in fen, sent as 4-byte big-endian; the other fields are bytes of fixed length.
"""

from __future__ import annotations

from .block import cipher
from .keys import invert, tac_key
from .mac import pboc_mac

PURSE_ALGORITHMS = ("3des", "sm4")


def _field(name: str, value: bytes, length: int) -> bytes:
    if len(value) != length:
        raise ValueError(f"{name} must be {length} bytes, got {len(value)}")
    return bytes(value)


def _amount(name: str, value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{name} must fit in 4 unsigned bytes, got {value}")
    return value.to_bytes(4, "big")


def _txn_type(value: int) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"transaction type must be one byte, got {value}")
    return bytes([value])


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in PURSE_ALGORITHMS:
        raise ValueError(
            f"unknown purse algorithm {algorithm!r}; valid: {', '.join(PURSE_ALGORITHMS)}"
        )


def _session_key(algorithm: str, key: bytes, input8: bytes) -> bytes:
    _check_algorithm(algorithm)
    if algorithm == "3des":
        if len(key) != 16:
            raise ValueError(f"3des purse key must be 16 bytes, got {len(key)}")
        return cipher("3des", key).encrypt(input8)
    return cipher("sm4", key).encrypt(input8 + invert(input8))


def _mac(algorithm: str, session_key: bytes, data: bytes) -> bytes:
    _check_algorithm(algorithm)
    return pboc_mac("des" if algorithm == "3des" else "sm4", session_key, data, length=4)


def purchase_session_key(
    dpk16: bytes,
    card_random4: bytes,
    offline_atc2: bytes,
    terminal_serial4: bytes,
    *,
    algorithm: str = "3des",
) -> bytes:
    """Purchase session key (过程密钥): 8 bytes for "3des", 16 for "sm4"."""
    input8 = (
        _field("card random", card_random4, 4)
        + _field("offline ATC", offline_atc2, 2)
        + _field("terminal serial", terminal_serial4, 4)[2:]
    )
    return _session_key(algorithm, dpk16, input8)


def load_session_key(
    dlk16: bytes, card_random4: bytes, online_atc2: bytes, *, algorithm: str = "3des"
) -> bytes:
    """Load (credit) session key: 8 bytes for "3des", 16 for "sm4"."""
    input8 = (
        _field("card random", card_random4, 4) + _field("online ATC", online_atc2, 2) + b"\x80\x00"
    )
    return _session_key(algorithm, dlk16, input8)


def purchase_mac1(
    session_key: bytes,
    amount: int,
    txn_type: int,
    terminal_id6: bytes,
    date4: bytes,
    time3: bytes,
    *,
    algorithm: str = "3des",
) -> bytes:
    """MAC1 of a purchase: MAC(amount 4 ‖ type 1 ‖ terminal 6 ‖ date 4 ‖ time 3), 4 bytes."""
    data = (
        _amount("amount", amount)
        + _txn_type(txn_type)
        + _field("terminal id", terminal_id6, 6)
        + _field("date", date4, 4)
        + _field("time", time3, 3)
    )
    return _mac(algorithm, session_key, data)


def purchase_mac2(session_key: bytes, amount: int, *, algorithm: str = "3des") -> bytes:
    """MAC2 of a purchase: MAC(amount 4), 4 bytes."""
    return _mac(algorithm, session_key, _amount("amount", amount))


def tac(
    tac_key16: bytes,
    amount: int,
    txn_type: int,
    terminal_id6: bytes,
    terminal_serial4: bytes,
    date4: bytes,
    time3: bytes,
    *,
    algorithm: str = "3des",
) -> bytes:
    """TAC: MAC(amount 4 ‖ type 1 ‖ terminal 6 ‖ terminal serial 4 ‖ date 4 ‖ time 3), 4 bytes.

    "3des": DES CBC-MAC under the folded 8-byte TAC key. "sm4" (modelled): SM4 CBC-MAC under
    the 16-byte TAC key.
    """
    _check_algorithm(algorithm)
    key = tac_key(tac_key16) if algorithm == "3des" else tac_key16
    data = (
        _amount("amount", amount)
        + _txn_type(txn_type)
        + _field("terminal id", terminal_id6, 6)
        + _field("terminal serial", terminal_serial4, 4)
        + _field("date", date4, 4)
        + _field("time", time3, 3)
    )
    return _mac(algorithm, key, data)


def load_mac1(
    session_key: bytes,
    old_balance: int,
    amount: int,
    txn_type: int,
    terminal_id6: bytes,
    *,
    algorithm: str = "3des",
) -> bytes:
    """MAC1 of a load (returned by INITIALIZE FOR LOAD): MAC(old balance ‖ amount ‖ type ‖
    terminal), 4 bytes."""
    data = (
        _amount("old balance", old_balance)
        + _amount("amount", amount)
        + _txn_type(txn_type)
        + _field("terminal id", terminal_id6, 6)
    )
    return _mac(algorithm, session_key, data)


def load_mac2(
    session_key: bytes,
    amount: int,
    txn_type: int,
    terminal_id6: bytes,
    date4: bytes,
    time3: bytes,
    *,
    algorithm: str = "3des",
) -> bytes:
    """MAC2 of a load (sent in CREDIT FOR LOAD): MAC(amount ‖ type ‖ terminal ‖ date ‖ time),
    4 bytes."""
    data = (
        _amount("amount", amount)
        + _txn_type(txn_type)
        + _field("terminal id", terminal_id6, 6)
        + _field("date", date4, 4)
        + _field("time", time3, 3)
    )
    return _mac(algorithm, session_key, data)
