"""The suite as issuer of e-codes: its own key chain, the codes it shows a terminal, and the
terminal's time they are issued at.

A terminal is provisioned for certification with the CA keys of ecode.yaml `ca_keys.keys` (one at
a production index, one at a test index); the suite holds their private halves, derived here from
a fixed seed and checked against the profile's public keys, and plays the issuer with them: an
issuer key the CA certifies, a user key authorised for a persona's card, a fresh display per code
(simulator/ecode/issue.py, the issuing side, never a terminal's code). What a terminal must decide
for each code follows from what the suite issued and the profile (oracle.code_reason), never from
a verifier.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simulator import ecode, seeds
from simulator.card import personas
from simulator.clock import AS_OF
from simulator.crypto import sm2
from simulator.profile import Profile, ProfileError

#: the seed the certification CA keys' private halves derive from (their public halves are the profile's)
CERTIFICATION_SEED = 20261123
#: the suite's issuer, as the certificate names it
ISSUER_ID = b"\x99\x00\x00\x01"


def ca_index(ecode_profile: dict, *, test: bool) -> int:
    """The index of the profile's certification CA key at a test (or production) index."""
    low, high = ecode_profile["ca_keys"]["test_indices"]
    found = [k["index"] for k in ecode_profile["ca_keys"]["keys"] if (low <= k["index"] <= high) == test]
    if not found:
        raise ProfileError(f"ecode.yaml ca_keys.keys has no {'test' if test else 'production'} key")
    return found[0]


def authority(ecode_profile: dict, index: int) -> ecode.CertificateAuthority:
    """The certification CA key `index`, whose public half must be the profile's (else a ProfileError:
    the run is *broken*, never a verdict on the terminal)."""
    private, public = sm2.generate_keypair(seeds.generator(CERTIFICATION_SEED, "certification", "ecode-ca", index))
    listed = {k["index"]: k["public_key"] for k in ecode_profile["ca_keys"]["keys"]}
    if listed.get(index) != sm2.compress(public).hex().upper():
        raise ProfileError(f"the suite's CA key {index} is not the one ecode.yaml ca_keys.keys lists")
    return ecode.CertificateAuthority(index, private)


def card_number(persona: str, profile: Profile) -> str:
    return personas.resolve(persona, as_of=AS_OF, profile=profile).values["card_number"]


class CodeIssuer:
    """Issues the suite's codes from its seeded generator (a run is the same every time).

    As a real issuer does, it keeps its certificate and each holder's authorised user key, and signs
    only the display anew for each code (three SM2 signatures per code would make the suite slow):
    a certificate is made on first use for `certificate_days` from that day, an authorisation for
    `authorised_days_before` days before that moment."""

    def __init__(self, profile: Profile, seed: int = CERTIFICATION_SEED) -> None:
        """`profile`: the run's, whose e-code document and personas the codes follow."""
        self.profile = profile
        self.ecode_profile = profile["ecode"]
        self.rng = seeds.generator(seed, "terminal-suite", "ecode")
        self.issuer_private, self.issuer_public = sm2.generate_keypair(self.rng)
        self._certificates: dict[tuple, ecode.IssuerCertificate] = {}
        self._users: dict[tuple, tuple[bytes, ecode.Authorisation]] = {}

    def code(self, *, kind: str, persona: str, at: datetime, test_key: bool = False,
             certified_by_ca: bool = True, user_key_authorised: bool = True,
             certificate_days: int = 365, authorised_days_before: int = 0) -> bytes:
        """A code of `kind` for `persona`'s card displayed at `at` (the terminal's time). Forgeries:
        `certified_by_ca=False` signs the issuer certificate with a key no CA holds,
        `user_key_authorised=False` signs the display with a key the issuer never authorised. The
        certificate expires `certificate_days` after its first day (negative: before it); the user
        key was authorised `authorised_days_before` days before its first code (ecode.yaml
        authorisation_days)."""
        certificate = self._certificate(test_key, certified_by_ca, certificate_days, at)
        user_private, authorisation = self._user(certificate, persona, kind, authorised_days_before, at)
        shown_by = user_private if user_key_authorised else sm2.generate_keypair(self.rng)[0]
        return ecode.display(certificate=certificate, authorisation=authorisation, user_private_key=shown_by,
                             now=at, rng=self.rng).encode()

    def _certificate(self, test_key: bool, certified_by_ca: bool, days: int, at: datetime) -> ecode.IssuerCertificate:
        key = (test_key, certified_by_ca, days)
        if key not in self._certificates:
            ca = authority(self.ecode_profile, ca_index(self.ecode_profile, test=test_key))
            signer = ca if certified_by_ca else ecode.CertificateAuthority(ca.index, sm2.generate_keypair(self.rng)[0])
            self._certificates[key] = signer.certify(issuer_id=ISSUER_ID, issuer_key=self.issuer_public,
                                                     expires=at.date() + timedelta(days=days), serial=1, rng=self.rng)
        return self._certificates[key]

    def _user(self, certificate: ecode.IssuerCertificate, persona: str, kind: str, days_before: int,
              at: datetime) -> tuple[bytes, ecode.Authorisation]:
        key = (certificate, persona, kind, days_before)
        if key not in self._users:
            holder = personas.resolve(persona, as_of=AS_OF, profile=self.profile).values
            user_private, user_public = sm2.generate_keypair(self.rng)
            issuer = ecode.Issuer(certificate, self.issuer_private, self.ecode_profile)
            self._users[key] = user_private, issuer.authorise(
                card_number=holder["card_number"], holder=ecode.holder_binding(holder["citizen_id"], holder["name"]),
                region=holder["card_identifier"][:3].hex(), kind=kind, user_key=user_public,
                now=at - timedelta(days=days_before), rng=self.rng)
        return self._users[key]


def terminal_time(terminal) -> datetime:
    """The terminal's clock: read through POST /clock (by 0 s) where it declares clock_control,
    else the wall clock (a real terminal's time), as UTC."""
    if "clock_control" in terminal.capabilities:
        return terminal.advance(0)
    return datetime.now(UTC).replace(tzinfo=None)
