"""The department's encryption machine (加密机) for the reader API's two HSM steps.

Why in the back-end: it holds the issuer's (synthetic, test-only) master keys, as a department's
HSM does, and a reader only ever sees its answers (profiles/national/reader_api.yaml HSM formats).
"""

from __future__ import annotations

from simulator.backend.issuer import INTERNAL_KEY, READ_KEY, IssuerKeys
from simulator.card.apps import ssse
from simulator.crypto.auth import internal_auth_result


class Hsm:
    """The department's encryption machine (加密机), for the HSM steps: Step 1's output in, pKey out.

    It holds the issuer's (synthetic, test-only) master keys through `IssuerKeys`: the internal
    authentication result the genuine card must give, and the EXTERNAL AUTHENTICATE cryptogram for
    RKSSSE over the card's challenge (cryptogram layouts: simulator.crypto.auth, modelled).
    """

    def __init__(self, keys: IssuerKeys | None = None) -> None:
        self.keys = keys or IssuerKeys()
        indicators = self.keys.ssse_profile["application"]["algorithm_indicator"]
        self.algorithms = {code: name for name, code in indicators.items()}

    def answer(self, step1: str) -> str:
        """pKey for Step 2 = <内认证结果><原始信息>|<外认证数据>|, or ValueError for a malformed Step 1."""
        fields = step1.split("|")
        if len(fields) != 9 or fields[-1] != "":
            raise ValueError(f"HSM Step 1 output has 8 fields and a trailing '|', got {step1!r}")
        _region, _atr, algorithm, ident, i_factor, i_original, _e_factor, e_original = fields[:8]
        name = self.algorithms.get(int(algorithm, 16))
        if name is None:
            raise ValueError(f"unknown 算法标识 {algorithm!r}; known: {sorted(self.algorithms)}")
        card_identifier = bytes.fromhex(ident)
        key = ssse.card_key(self.keys.ssse_profile, INTERNAL_KEY, card_identifier, name)
        internal = internal_auth_result(name, key, bytes.fromhex(i_factor), bytes.fromhex(i_original))
        external = (self.keys.external_auth(READ_KEY, card_identifier, name, bytes.fromhex(e_original))
                    if e_original else b"")
        return f"{internal.hex().upper()}{i_original}|{external.hex().upper()}|"
