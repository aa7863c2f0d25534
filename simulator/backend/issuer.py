"""The issuer's (synthetic) master keys in one place.

Why one module: the card is personalised with keys diversified from the issuer's master keys, and
everything that must reproduce them (the SSSE authentication stand-in and the department's
encryption machine `simulator.backend.hsm`, the terminal's PSAM, the online load host
`simulator.backend.load_host`) derives them here, from the same profiles, so the card and the
issuer cannot drift apart. The master keys are the profiles' `test_keys`: synthetic, test-only.

- `IssuerKeys`: the terminal's PSAM / the platform's encryption machine (加密机) for the social
  security application: answers EXTERNAL AUTHENTICATE challenges.
- `purse_master`: which of the T-Union purse's master keys (profiles/national/epurse.yaml
  `keys` + `test_keys`) serves a usage, with its index and version. Card keys are derived from
  it by the card's own `simulator.card.apps.epurse.card_key` (two-level diversification), the
  one function the purse, the PSAM and the load host share.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.card.apps import ssse
from simulator.crypto.auth import external_auth_cryptogram
from simulator.profile import Profile, ProfileError, national

READ_KEY = 0x0A  # RKSSSE, the key that opens EF06 (ssc-card.md §2 [V S1])
INTERNAL_KEY = 0x01  # the card's internal-authentication key (national/ssse keys, modelled)


class IssuerKeys:
    """Stands in for the terminal's PSAM / the platform's encryption machine (加密机): it holds
    the issuer's (synthetic, test-only) master keys and answers authentication challenges."""

    def __init__(self, profile: Profile | None = None, *, ssse_profile: dict | None = None) -> None:
        """The keys of `profile`'s SSSE document (the national profile by default); `ssse_profile`
        replaces that document (a lab's issuer with a subset of the keys)."""
        self.ssse_profile = ssse_profile or (profile or national())["ssse"]

    def external_auth(self, kid: int, card_identifier: bytes, algorithm: str, challenge: bytes) -> bytes:
        key = ssse.card_key(self.ssse_profile, kid, card_identifier, algorithm)
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


def purse_master(usage: str, *, purse_profile: dict | None = None) -> PurseMaster:
    """The purse master key of `usage` (purchase, load, tac, maintenance) from epurse.yaml."""
    purse_profile = purse_profile or national()["epurse"]
    keys = purse_profile["keys"]
    names = [name for name, spec in keys.items() if isinstance(spec, dict) and spec.get("usage") == usage]
    if len(names) != 1:
        usages = sorted({s["usage"] for s in purse_profile["keys"].values() if isinstance(s, dict) and "usage" in s})
        raise ProfileError(f"epurse.yaml keys: want exactly one key of usage {usage!r}, found {names}; "
                           f"usages present: {usages}")
    name = names[0]
    if name not in purse_profile["test_keys"]:
        raise ProfileError(f"epurse.yaml test_keys: no master key {name!r} for usage {usage!r}")
    spec = purse_profile["keys"][name]
    version = spec.get("version")
    return PurseMaster(name, usage, spec.get("index"), int(version, 16) if isinstance(version, str) else version)
