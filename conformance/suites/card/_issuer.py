"""The issuer's test keys the card suite computes with, and where they come from.

A key is named `<application>.<the profile's name for it>`: the SSSE's master keys by key ID
(`ssse.0A` read, `ssse.04` write, `ssse.06` PIN reload, `ssse.07` PIN unblock, `ssse.01` internal
authentication), the purse's by usage (`epurse.DPK` purchase, `epurse.DLK` load, `epurse.DTK` TAC,
`epurse.DAMK` maintenance) and the financial application's IMK-AC by algorithm (`qpboc.ac.sm4`,
`qpboc.ac.3des`). These are *master* keys, as the issuer holds them: the suite diversifies each
card's own keys from them and from what the card reports (卡识别码, file 0x15, PAN), as the
issuer's host does, so one declaration serves every sample of a product.

Where they come from: a simulated card (the project's own, reference or mutant) is personalised
with the profiles' synthetic `test_keys`; any other card with what its capability declaration
declares (ICS `test_keys`). A test needing a key the declaration does not give is *not tested*.
"""

from __future__ import annotations

from conformance.verdicts import not_tested
from simulator.profile import Profile

#: the applications whose profile documents (of the same name) hold synthetic masters in `test_keys`
APPLICATIONS = ("ssse", "epurse", "qpboc")


def _flat(prefix: str, keys: dict) -> dict[str, str]:
    out = {}
    for name, value in keys.items():
        if isinstance(value, dict):
            out |= _flat(f"{prefix}{name}.", value)
        else:
            out[f"{prefix}{name}"] = value
    return out


def synthetic(profile: Profile) -> dict[str, str]:
    """Every key name a declaration may use -> `profile`'s synthetic master (hex)."""
    return {name: value for app in APPLICATIONS for name, value in _flat(f"{app}.", profile[app]["test_keys"]).items()}


class Issuer:
    """The issuer's master keys the suite may use, by name (see the module's docstring), over the
    documents of the run's `profile`."""

    def __init__(self, keys: dict[str, str], *, source: str, profile: Profile) -> None:
        known = synthetic(profile)
        unknown = sorted(set(keys) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown test key(s) {unknown}; known: {sorted(known)}")
        self._keys = dict(keys)
        self.source = source
        self.profile = profile

    def __repr__(self) -> str:
        return f"<Issuer keys {sorted(self._keys)} from {self.source}>"

    def has(self, *names: str) -> bool:
        return all(n in self._keys for n in names)

    def require(self, *names: str) -> None:
        """End the test as not tested unless every key of `names` is known."""
        missing = [n for n in names if n not in self._keys]
        if missing:
            not_tested(f"{self.source} gives no issuer test key {', '.join(missing)}",
                       need=f"the issuer's test keys {', '.join(missing)} in the ICS `test_keys`")

    def master(self, name: str) -> bytes:
        self.require(name)
        return bytes.fromhex(self._keys[name])

    def document(self, application: str, *names: str) -> dict:
        """`application`'s profile document with `test_keys` holding the masters `names` (the
        profile's own names, e.g. "0A", "DLK"), for the simulator's issuer-side functions that read
        them there."""
        self.require(*(f"{application}.{n}" for n in names))
        return {**self.profile[application],
                "test_keys": {n: self._keys[f"{application}.{n}"] for n in names}}
