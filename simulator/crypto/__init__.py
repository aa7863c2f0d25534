"""Card cryptography for the simulator: block ciphers, SM3, PBOC MACs, key diversification,
e-purse session keys/MAC/TAC, and SM2 signatures.

Everything takes and returns bytes. The primitives come from `cryptography` (DES, 3DES, SM4,
SM3) and `gmalg` (SM2); this package only fixes the PBOC / JT/T 978 / GM/T formats around them.
See each module's docstring for the standard it follows and how well each rule is sourced
(notably: the SM4 e-purse variant in `purse` is modelled, not verified).
"""

from .block import ALGORITHMS, AlgorithmSpec, BlockCipher, cipher, xor
from .hashes import sm3
from .keys import diversify, invert, tac_key
from .mac import cbc_mac, pad_m2, pboc_mac, retail_mac
from .purse import (
    load_mac1,
    load_mac2,
    load_session_key,
    purchase_mac1,
    purchase_mac2,
    purchase_session_key,
    tac,
)
from .sm2 import DEFAULT_UID, generate_keypair, public_key_of, sign, verify, z_a

__all__ = [
    "ALGORITHMS",
    "DEFAULT_UID",
    "AlgorithmSpec",
    "BlockCipher",
    "cbc_mac",
    "cipher",
    "diversify",
    "generate_keypair",
    "invert",
    "load_mac1",
    "load_mac2",
    "load_session_key",
    "pad_m2",
    "pboc_mac",
    "public_key_of",
    "purchase_mac1",
    "purchase_mac2",
    "purchase_session_key",
    "retail_mac",
    "sign",
    "sm3",
    "tac",
    "tac_key",
    "verify",
    "xor",
    "z_a",
]
