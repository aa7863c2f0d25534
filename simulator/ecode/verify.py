"""Verifying an e-code, the same steps online at the platform and offline at a terminal.

A terminal holds a `KeyChain` (the CA public keys by index, each marked production or test), a
`ReplayLog` (its duplicate log) and the card numbers it must refuse (the platform's blacklist); the
platform passes its own log (in its store) and its registry. Each way a code fails has its own
`Reason`, checked in this order: the bytes (malformed), the kind (wrong_kind: a kind this verifier
does not take, e.g. a ride code at a scenic gate), the CA key (unknown), the three signatures
of the chain (wrong_signature: CA over the certificate, issuer over the authorisation, user over
the display), a code valid only under a test key at a production verifier (test_key), the
certificate's and the authorisation's expiry, the display window (not_yet_valid, expired), the card
(revoked_card), and last the one scan a code allows (replayed): only a code that passed everything
else is entered in the log, so a refused code does not burn the holder's next scan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from simulator.crypto import sm2

from .layout import ECode, MalformedCode, epoch_seconds, signed_parts


class Reason(StrEnum):
    """Why a code is taken or refused (one value per case: the suites judge by it)."""

    VALID = "valid"
    MALFORMED = "malformed"
    WRONG_KIND = "wrong_kind"
    UNKNOWN_CA_KEY = "unknown_ca_key"
    WRONG_SIGNATURE = "wrong_signature"
    TEST_KEY = "test_key"
    CERTIFICATE_EXPIRED = "certificate_expired"
    AUTHORISATION_EXPIRED = "authorisation_expired"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED_CARD = "revoked_card"
    REPLAYED = "replayed"


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: Reason
    detail: str = ""
    card_number: str | None = None
    kind: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is Reason.VALID


@dataclass(frozen=True, slots=True)
class CaKey:
    index: int
    public_key: bytes
    test: bool


class KeyChain:
    """The CA keys a verifier trusts, by index; `accept_test_keys` for a terminal in test mode."""

    def __init__(self, keys: Iterable[CaKey], *, accept_test_keys: bool = False) -> None:
        self.keys = {key.index: key for key in keys}
        self.accept_test_keys = accept_test_keys

    @classmethod
    def from_profile(cls, profile: dict, *, accept_test_keys: bool = False) -> KeyChain:
        """The CA public keys ecode.yaml `ca_keys.keys` gives terminals, each a test key when its
        index is in `ca_keys.test_indices` (key indices tell test and production keys apart)."""
        low, high = profile["ca_keys"]["test_indices"]
        return cls((CaKey(entry["index"], bytes.fromhex(entry["public_key"]), test=low <= entry["index"] <= high)
                    for entry in profile["ca_keys"]["keys"]), accept_test_keys=accept_test_keys)


class ReplayLog(Protocol):
    """Where a verifier remembers the codes it took, until each one's window ends."""

    def first_use(self, code_id: bytes, *, now: int, until: int) -> bool:
        """Record `code_id` (kept until `until`, Unix s); False if it was already recorded."""


class MemoryReplayLog:
    """A terminal's duplicate log in memory, forgetting codes whose window has passed."""

    def __init__(self) -> None:
        self._until: dict[bytes, int] = {}

    def first_use(self, code_id: bytes, *, now: int, until: int) -> bool:
        self._until = {key: end for key, end in self._until.items() if end >= now}
        if code_id in self._until:
            return False
        self._until[code_id] = until
        return True


@lru_cache(maxsize=65536)
def _point(public_key: bytes) -> bytes:
    """The 65-byte point of a key as a code carries it (33 bytes: compressed). Kept: a user key signs
    every display of its days, and decompressing it is a modular square root at each scan."""
    return sm2.decompress(public_key) if len(public_key) == 33 else public_key


@lru_cache(maxsize=65536)
def _signed(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """One link of the chain; kept, since a certificate and an authorisation recur for days and
    only the display signature is new at each scan."""
    try:
        return sm2.verify(_point(public_key), message, signature)
    except ValueError:
        return False  # a key that is no point: the signature over it cannot be genuine


def read(raw: bytes, *, profile: dict, kinds: Collection[str] | None = None) -> tuple[ECode, str] | Verdict:
    """The code in `raw` and its kind's name, or the verdict that refuses it before any key is used:
    malformed bytes, or a kind not among `kinds` (None: every kind of the profile). A terminal that
    verifies online reads the code so first, and sends the platform only a code it would take."""
    try:
        code = ECode.decode(raw)
    except MalformedCode as exc:
        return Verdict(Reason.MALFORMED, str(exc))
    by_code = {spec["code"]: name for name, spec in profile["kinds"].items()}
    kind = by_code.get(code.authorisation.kind)
    if kind is None:
        return Verdict(Reason.MALFORMED, f"kind {code.authorisation.kind:#04x} is none of {sorted(by_code)}")
    if kinds is not None and kind not in kinds:
        return Verdict(Reason.WRONG_KIND, f"a {kind} code; this verifier takes {', '.join(sorted(kinds))}",
                       code.authorisation.card_number, kind)
    return code, kind


def first_scan(code: ECode, replay: ReplayLog, *, now: int) -> bool:
    """Enter the code in `replay` until its display window ends (`now`, Unix s); False when it was
    there already. A code is known by its user signature, new at every display."""
    until = code.generated_at + code.authorisation.validity_seconds
    return replay.first_use(code.user_signature, now=now, until=until)


def verify(raw: bytes, *, chain: KeyChain, profile: dict, now: datetime, replay: ReplayLog,
           revoked: Callable[[str], bool], kinds: Collection[str] | None = None) -> Verdict:
    """The verdict on the payload `raw` at `now`; `profile` is ecode.yaml, `revoked(card_number)`
    the verifier's view of the card's status (its blacklist, or the platform's registry), `kinds`
    the code kinds the verifier takes (None: all)."""
    decoded = read(raw, profile=profile, kinds=kinds)
    if isinstance(decoded, Verdict):
        return decoded
    code, kind = decoded
    auth, cert = code.authorisation, code.certificate
    card = auth.card_number
    ca = chain.keys.get(cert.ca_index)
    if ca is None:
        return Verdict(Reason.UNKNOWN_CA_KEY, f"CA key index {cert.ca_index} is not in the key chain", card, kind)
    by_ca, by_issuer, by_user = signed_parts(raw)
    for signer, what, message, signature in (
        (ca.public_key, "the CA's over the issuer certificate", by_ca, cert.ca_signature),
        (cert.issuer_key, "the issuer's over the authorisation", by_issuer, auth.issuer_signature),
        (auth.user_key, "the user's over the display", by_user, code.user_signature),
    ):
        if not _signed(signer, message, signature):
            return Verdict(Reason.WRONG_SIGNATURE, f"{what} does not verify", card, kind)
    if ca.test and not chain.accept_test_keys:
        return Verdict(Reason.TEST_KEY, f"valid only under test CA key {cert.ca_index}", card, kind)
    seconds = epoch_seconds(now)
    if cert.expires < now.date():
        return Verdict(Reason.CERTIFICATE_EXPIRED, f"issuer certificate expired {cert.expires}", card, kind)
    if auth.expires_at < seconds:
        return Verdict(Reason.AUTHORISATION_EXPIRED, f"user key authorised until {auth.expires_at}", card, kind)
    if code.generated_at > seconds + profile["clock_skew_seconds"]:
        return Verdict(Reason.NOT_YET_VALID, f"generated {code.generated_at - seconds} s in the future", card, kind)
    until = code.generated_at + auth.validity_seconds
    if seconds > until:
        return Verdict(Reason.EXPIRED, f"valid {auth.validity_seconds} s, shown {seconds - code.generated_at} s ago",
                       card, kind)
    if revoked(card):
        return Verdict(Reason.REVOKED_CARD, "the card is lost, cancelled or superseded", card, kind)
    if profile["kinds"][kind]["single_use"] and not first_scan(code, replay, now=seconds):
        return Verdict(Reason.REPLAYED, "this code was scanned before", card, kind)
    return Verdict(Reason.VALID, "", card, kind)
