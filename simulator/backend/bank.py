"""The reference bank's card payments: online authorisation, reversal (冲正), deferred transit charge.

It implements `ports.CardPaymentPort` over the bank's books (`simulator.backend.ledger`):
- an authorisation is refused for an account the bank does not hold (14) or that is closed (62),
  for an amount other than the one the card signed (9F02) or malformed field 55 (30), for a
  cryptogram that does not verify or that was already used (a replay of the same ATC and
  cryptogram; a new cryptogram under an ATC seen before is allowed, because the harness's cards
  are fresh clones of their persona) (05), and for
  insufficient funds (51); approved, the account pays the acquirer's settlement account;
- a reversal is matched to its original by id: an approved original is paid back once, a
  declined one needs nothing, and a reversal that arrives before its original (the POS timed out
  before the request reached the bank) is recorded, so the late original is declined; every
  reversal is acknowledged, so the POS can stop repeating it;
- a deferred transit charge (先乘后付) is a ride's cryptogram charged after the ride, checked
  like an authorisation, paid to the transit operator's settlement account.
Each is exactly-once by its request id (`Ledger.once`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict

from simulator.backend.cryptogram import CryptogramFormatError, CryptogramRule
from simulator.backend.ledger import Ledger
from simulator.backend.ports import (
    Authorisation,
    AuthorisationResult,
    ChargeResult,
    IdConflict,
    Reversal,
    ReversalResult,
    TransitCharge,
)
from simulator.profile import Profile

ACQUIRER, TRANSIT = "internal:acquirer", "internal:transit"
AMOUNT, ATC, CRYPTOGRAM = 0x9F02, 0x9F36, 0x9F26


def _content(request: Authorisation | TransitCharge | Reversal) -> dict:
    """A request's content for the exactly-once digest: its fields, tags as hex, the id left out."""
    fields = {k: v for k, v in asdict(request).items() if k != "request_id"}
    if "tags" in fields:
        fields["tags"] = {f"{tag:X}": value.hex() for tag, value in request.tags.items()}
    return fields


def _signed_amount(tags) -> int | None:
    """The amount the card signed: 9F02, n12 BCD; None when absent or not BCD."""
    digits = tags.get(AMOUNT, b"").hex()
    return int(digits) if len(digits) == 12 and digits.isdigit() else None


class Bank:
    """The card payments of the reference bank, over `ledger` (a fresh in-memory one by default)."""

    def __init__(self, ledger: Ledger | None = None, *, rule: CryptogramRule | None = None,
                 profile: Profile | None = None) -> None:
        """`rule`: the cryptogram check, by default the one `profile`'s qPBOC document lays out (the
        national profile's when none is given)."""
        self.ledger = ledger or Ledger()
        self.rule = rule or CryptogramRule.from_profile(profile)

    def _card_debit(self, db: sqlite3.Connection, request: Authorisation | TransitCharge,
                    settlement: str, kind: str) -> tuple[str, str]:
        """(response code, detail) of debiting a card's account on its cryptogram; posts on 00."""
        account = db.execute("SELECT * FROM accounts WHERE id = ? AND kind = 'card'", (request.pan,)).fetchone()
        if account is None or account["pan_sequence"] != request.pan_sequence:
            return "14", "no such account: the bank holds no account for this card's financial application"
        if account["status"] != "open":
            return "62", "the account is closed"
        if _signed_amount(request.tags) != request.amount:
            return "30", f"the amount {request.amount} is not the amount the card signed (9F02)"
        try:
            genuine, why = self.rule.verifies(pan=request.pan, pan_sequence=request.pan_sequence, tags=request.tags)
        except CryptogramFormatError as error:
            return "30", f"format error: {error}"
        if not genuine:
            return "05", why
        used = db.execute("INSERT OR IGNORE INTO cryptograms (pan, atc, ac) VALUES (?, ?, ?)",
                          (request.pan, request.tags[ATC], request.tags[CRYPTOGRAM])).rowcount == 0
        if used:
            return "05", f"cryptogram replayed: ATC {request.tags[ATC].hex().upper()} with this cryptogram was used"
        if account["balance"] < request.amount:
            return "51", "insufficient funds"
        self.ledger.post(db, debit=request.pan, credit=self.ledger.internal(db, settlement), amount=request.amount,
                         kind=kind, ref=request.request_id)
        return "00", ""

    def _once(self, key: str, content: dict, apply: Callable[[sqlite3.Connection], dict]) -> dict:
        with self.ledger.write() as db:
            return self.ledger.once(db, key, content, lambda: apply(db))

    def authorise(self, request: Authorisation) -> AuthorisationResult:
        def apply(db: sqlite3.Connection) -> dict:
            reversed_by = db.execute("SELECT request_id FROM reversals WHERE original_id = ?",
                                     (request.request_id,)).fetchone()
            if reversed_by is not None:
                code, detail = "05", f"reversed by {reversed_by[0]} before it arrived"
            else:
                code, detail = self._card_debit(db, request, ACQUIRER, "purchase")
            db.execute("INSERT INTO authorisations (request_id, pan, amount, approved) VALUES (?, ?, ?, ?)",
                       (request.request_id, request.pan, request.amount, code == "00"))
            return asdict(AuthorisationResult(request.request_id, code == "00", code, detail))

        return AuthorisationResult(**self._once(f"authorisation/{request.request_id}", _content(request), apply))

    def reverse(self, request: Reversal) -> ReversalResult:
        def apply(db: sqlite3.Connection) -> dict:
            earlier = db.execute("SELECT request_id FROM reversals WHERE original_id = ?",
                                 (request.original_id,)).fetchone()
            if earlier is not None:
                return asdict(ReversalResult(request.request_id, True, f"already reversed by {earlier[0]}"))
            original = db.execute("SELECT * FROM authorisations WHERE request_id = ?",
                                  (request.original_id,)).fetchone()
            if original is not None and original["amount"] != request.amount:
                raise IdConflict(request.original_id, f"the reversal is of {request.amount} fen, "
                                                      f"the authorisation was of {original['amount']}")
            db.execute("INSERT INTO reversals (original_id, request_id) VALUES (?, ?)",
                       (request.original_id, request.request_id))
            if original is None:
                detail = "no such authorisation seen: recorded, so it is declined if it arrives"
            elif original["approved"]:
                self.ledger.post(db, debit=ACQUIRER, credit=original["pan"], amount=original["amount"],
                                 kind="reversal", ref=request.request_id)
                detail = f"reversed {original['amount']} fen"
            else:
                detail = "the authorisation was declined: nothing to reverse"
            return asdict(ReversalResult(request.request_id, True, detail))

        return ReversalResult(**self._once(f"reversal/{request.request_id}", _content(request), apply))

    def charge_transit(self, request: TransitCharge) -> ChargeResult:
        def apply(db: sqlite3.Connection) -> dict:
            code, detail = self._card_debit(db, request, TRANSIT, "transit")
            return asdict(ChargeResult(request.request_id, code == "00", code, detail))

        return ChargeResult(**self._once(f"transit/{request.request_id}", _content(request), apply))
