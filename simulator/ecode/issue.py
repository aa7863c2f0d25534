"""Issuing e-codes: a CA certifies an issuer key, the issuer authorises a user key for a card and
its holder for some days, and the holder's app signs each display with the user key.

The platform is the issuer (and, in the simulator, runs the CA whose keys terminals hold); for the
e-SSC code it also holds the user key and signs the display, as apps that fetch each code from the
platform do; a ride-code wallet signs displays offline with `display`. All randomness (SM2 nonces)
comes from the generator passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from simulator.crypto import sm2

from .layout import Authorisation, ECode, IssuerCertificate, epoch_seconds


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA key known to terminals by its index (test keys by an index in the profile's test range)."""

    index: int
    private_key: bytes

    def certify(self, *, issuer_id: bytes, issuer_key: bytes, expires: date, serial: int,
                rng: random.Random) -> IssuerCertificate:
        unsigned = IssuerCertificate(self.index, issuer_id, expires, serial, sm2.compress(issuer_key))
        return replace(unsigned, ca_signature=sm2.sign(self.private_key, unsigned.signed_part(), rng=rng))


@dataclass(frozen=True)
class Issuer:
    """The issuing platform's key and the certificate a CA gave it; `profile` is ecode.yaml."""

    certificate: IssuerCertificate
    private_key: bytes
    profile: dict

    def authorise(self, *, card_number: str, holder: bytes, region: str, kind: str, user_key: bytes,
                  now: datetime, rng: random.Random) -> Authorisation:
        """An authorisation of `user_key` for `kind` (a key of the profile's kinds) until
        `authorisation_days` from `now`."""
        spec = self.profile["kinds"][kind]
        expires = epoch_seconds(now + timedelta(days=self.profile["authorisation_days"]))
        unsigned = Authorisation(card_number, holder, region, spec["code"], self.profile["single_payment_limit_fen"],
                                 sm2.compress(user_key), expires, spec["validity_seconds"])
        signed_part = self.certificate.encode() + unsigned.encode()[:-64]
        return replace(unsigned, issuer_signature=sm2.sign(self.private_key, signed_part, rng=rng))


def display(*, certificate: IssuerCertificate, authorisation: Authorisation, user_private_key: bytes,
            now: datetime, rng: random.Random) -> ECode:
    """A fresh code to show: generation time `now`, signed by the user key."""
    unsigned = ECode(certificate, authorisation, epoch_seconds(now))
    return replace(unsigned, user_signature=sm2.sign(user_private_key, unsigned.user_signed_part(), rng=rng))
