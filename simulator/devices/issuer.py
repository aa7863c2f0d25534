"""The issuer's side in one place: its (synthetic) master keys and its online hosts.

Why one module: the card is personalised with keys diversified from the issuer's master keys, and
everything that must reproduce them (the SSSE authentication stand-in, the terminal's PSAM, the
online load server) derives them here, from the same profiles, so the card and the issuer cannot
drift apart. The master keys are the profiles' `test_keys`: synthetic, test-only.

- `IssuerKeys`: the terminal's PSAM / the platform's encryption machine (加密机) for the social
  security application: answers EXTERNAL AUTHENTICATE challenges.
- `purse_master`: which of the T-Union purse's master keys (profiles/national/epurse.yaml
  `keys` + `test_keys`) serves a usage, with its index and version. Card keys are derived from
  it by the card's own `simulator.card.apps.epurse.card_key` (two-level diversification), the
  one function the purse, the PSAM and this host share.
- `LoadHost`: the issuer's online load server for CREDIT FOR LOAD (圈存): checks the card's MAC1
  and answers MAC2 (transit-payment.md §1.3, §1.4).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from simulator.card.apps import epurse, ssse
from simulator.crypto import load_mac1, load_mac2, load_session_key
from simulator.crypto.auth import external_auth_cryptogram
from simulator.profile import ProfileError, load


class IssuerKeys:
    """Stands in for the terminal's PSAM / the platform's encryption machine (加密机): it holds
    the issuer's (synthetic, test-only) master keys and answers authentication challenges."""

    def __init__(self, profile: dict | None = None) -> None:
        self.profile = profile or load("national/ssse", "ssse")

    def external_auth(self, kid: int, card_identifier: bytes, algorithm: str, challenge: bytes) -> bytes:
        key = ssse.card_key(self.profile, kid, card_identifier, algorithm)
        return external_auth_cryptogram(algorithm, key, challenge)


# -- the purse's master keys ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PurseMaster:
    """One purse master key: its profile name (DPK, DLK...), usage, and the key index and version
    the card announces for it (None where the profile gives none, e.g. the TAC key)."""

    name: str
    usage: str
    index: int | None = None
    version: int | None = None


def purse_master(usage: str, *, profile: dict | None = None) -> PurseMaster:
    """The purse master key of `usage` (purchase, load, tac, maintenance) from epurse.yaml."""
    profile = profile or load("national/epurse", "epurse")
    names = [name for name, spec in profile["keys"].items() if isinstance(spec, dict) and spec.get("usage") == usage]
    if len(names) != 1:
        usages = sorted({s["usage"] for s in profile["keys"].values() if isinstance(s, dict) and "usage" in s})
        raise ProfileError(f"national/epurse keys: want exactly one key of usage {usage!r}, found {names}; "
                           f"usages present: {usages}")
    name = names[0]
    if name not in profile["test_keys"]:
        raise ProfileError(f"national/epurse test_keys: no master key {name!r} for usage {usage!r}")
    spec = profile["keys"][name]
    version = spec.get("version")
    return PurseMaster(name, usage, spec.get("index"), int(version, 16) if isinstance(version, str) else version)


# -- the online load server -----------------------------------------------------------------
class LoadRefused(Exception):  # noqa: N818 - the host's answer, as a terminal names it
    """The load host refused to authorise a load (the card's MAC1 did not verify)."""


class LoadHost:
    """The issuer's online load server (圈存主机) for CREDIT FOR LOAD.

    The terminal sends what INITIALIZE FOR LOAD returned (old balance, online ATC, random, MAC1)
    with the card's identifiers; the host derives the card's load key (DLK) from its master,
    checks MAC1 and returns MAC2 for `80 52` (transit-payment.md §1.3 [V], §1.4 [V] layouts).
    """

    def __init__(self, profile: dict | None = None) -> None:
        self.profile = profile or load("national/epurse", "epurse")
        self.master = purse_master("load", profile=self.profile)
        self.load_type = int(self.profile["transaction_types"]["load"]["code"], 16)

    def authorise_load(
        self,
        *,
        card_serial10: bytes,
        issuer_id8: bytes,
        old_balance: int,
        amount: int,
        terminal_id6: bytes,
        card_random4: bytes,
        online_atc2: bytes,
        mac1: bytes,
        date4: bytes,
        time3: bytes,
        algorithm: str = "3des",
        txn_type: int | None = None,
    ) -> bytes:
        """MAC2 for CREDIT FOR LOAD, or `LoadRefused` when the card's MAC1 is wrong.

        `txn_type` defaults to the profile's EP load (02); 01 is an ED (passbook) load.
        """
        if len(card_serial10) != 10:
            raise ValueError(f"the application serial has 10 bytes, got {len(card_serial10)}")
        txn_type = self.load_type if txn_type is None else txn_type
        dlk = epurse.card_key(self.profile, self.master.name, issuer_id8, card_serial10, algorithm)
        session = load_session_key(dlk, card_random4, online_atc2, algorithm=algorithm)
        expected = load_mac1(session, old_balance, amount, txn_type, terminal_id6, algorithm=algorithm)
        if not hmac.compare_digest(expected, bytes(mac1)):
            raise LoadRefused(f"MAC1 {bytes(mac1).hex().upper()} does not verify for card "
                              f"{card_serial10.hex().upper()} (load of {amount} fen, ATC {online_atc2.hex()})")
        return load_mac2(session, amount, txn_type, terminal_id6, date4, time3, algorithm=algorithm)
