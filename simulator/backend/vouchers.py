"""The voucher service: consumption vouchers (消费券) issued to a card and redeemed at a merchant's POS.

Guangdong issues vouchers for reading, tourism and training to the social security card, spent
real-name by the card (粤人社函〔2021〕195号); which categories exist and where each may be spent is the
run's profile (terminals.yaml `vouchers`: none nationally, so nothing can be issued without a region
that issues them). A voucher is keyed to the card's 卡识别码 as the platform registers it (EF05,
upper-case hex), so a reissued card's vouchers are the platform's to move, not the POS's.

What the service keeps is the value: a voucher's `remaining` never goes below zero (a CHECK in the
schema), each redemption is a row of its own, so what was issued is always what remains plus what was
redeemed, and every request is applied exactly once by its id (`ledger.once`: a retry with the same
content gets the saved answer, one with different content `IdConflict`). The acceptance checks at the
till (the holder's PIN, the card's status, the merchant's category) are the POS's: the suite certifies
them on the POS (GD-VOUCH-001..003) by what this service holds afterwards (modelled: the document asks
for real-name redemption against proxy swiping, theft and fake consumption, not who checks what).
"""

from __future__ import annotations

from pathlib import Path

from simulator.backend.ledger import once
from simulator.backend.ports import (
    Invalid,
    NotFound,
    Redemption,
    RedemptionResult,
    VoucherIssue,
    VoucherQuery,
    VoucherState,
)
from simulator.backend.store import Store
from simulator.profile import Profile, national

MIGRATIONS = (
    """
    CREATE TABLE vouchers (
        voucher_id TEXT PRIMARY KEY,
        card_identifier TEXT NOT NULL,
        category TEXT NOT NULL,
        value INTEGER NOT NULL CHECK (value > 0),
        remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= value)
    );
    CREATE INDEX vouchers_by_card ON vouchers (card_identifier);
    CREATE TABLE redemptions (
        request_id TEXT PRIMARY KEY,
        voucher_id TEXT NOT NULL REFERENCES vouchers (voucher_id),
        amount INTEGER NOT NULL CHECK (amount > 0),
        terminal_id TEXT NOT NULL,
        merchant_category TEXT NOT NULL
    );
    CREATE TABLE operations (id TEXT PRIMARY KEY, digest TEXT NOT NULL, answer TEXT NOT NULL)
    """,
)


def _state(row) -> VoucherState:
    return VoucherState(row["voucher_id"], row["card_identifier"], row["category"], row["value"], row["remaining"],
                        "open" if row["remaining"] else "spent")


class VoucherService:
    """The voucher service of `profile` (the national one by default), its state in one `Store`."""

    def __init__(self, path: str | Path = ":memory:", *, profile: Profile | None = None) -> None:
        self.categories = (profile or national())["terminals"]["vouchers"]["categories"]
        self.store = Store(path, MIGRATIONS)

    def issue(self, request: VoucherIssue) -> VoucherState:
        """Issue a voucher of one of the profile's categories; the same issue again is answered with
        the voucher as it is now."""
        if request.category not in self.categories:
            raise Invalid(f"voucher {request.voucher_id}: category {request.category!r} is not one of the profile's "
                          f"({', '.join(self.categories) or 'none: this profile issues no vouchers'})")
        if request.value <= 0:
            raise Invalid(f"voucher {request.voucher_id}: value {request.value} fen, not above 0")
        content = {"card_identifier": request.card_identifier, "category": request.category, "value": request.value}

        def apply() -> dict:
            db.execute("INSERT INTO vouchers (voucher_id, card_identifier, category, value, remaining) "
                       "VALUES (?, ?, ?, ?, ?)", (request.voucher_id, *content.values(), request.value))
            return content

        with self.store.transaction() as db:
            once(db, f"voucher/{request.voucher_id}", content, apply)
        return self.voucher(request.voucher_id)

    def voucher(self, voucher_id: str) -> VoucherState:
        rows = self.store.query("SELECT * FROM vouchers WHERE voucher_id = ?", (voucher_id,))
        if not rows:
            raise NotFound(f"no voucher {voucher_id}")
        return _state(rows[0])

    def open_vouchers(self, request: VoucherQuery) -> tuple[VoucherState, ...]:
        """The card's vouchers with value left, oldest id first."""
        rows = self.store.query("SELECT * FROM vouchers WHERE card_identifier = ? AND remaining > 0 "
                                "ORDER BY voucher_id", (request.card_identifier,))
        return tuple(_state(row) for row in rows)

    def redeem(self, request: Redemption) -> RedemptionResult:
        """Spend `amount` of the voucher, exactly once per request id; refused whole (nothing spent)
        for another card's voucher or more than it has left."""
        content = {"voucher_id": request.voucher_id, "card_identifier": request.card_identifier,
                   "amount": request.amount, "terminal_id": request.terminal_id,
                   "merchant_category": request.merchant_category}

        def apply() -> dict:
            row = db.execute("SELECT * FROM vouchers WHERE voucher_id = ?", (request.voucher_id,)).fetchone()
            if row is None:
                return {"redeemed": False, "remaining": 0, "detail": f"no voucher {request.voucher_id}"}
            refusal = (f"voucher {request.voucher_id} was issued to another card"
                       if row["card_identifier"] != request.card_identifier else
                       f"amount {request.amount} fen, the voucher has {row['remaining']} left"
                       if not 0 < request.amount <= row["remaining"] else None)
            if refusal:
                return {"redeemed": False, "remaining": row["remaining"], "detail": refusal}
            db.execute("UPDATE vouchers SET remaining = remaining - ? WHERE voucher_id = ?",
                       (request.amount, request.voucher_id))
            db.execute("INSERT INTO redemptions (request_id, voucher_id, amount, terminal_id, merchant_category) "
                       "VALUES (?, ?, ?, ?, ?)", (request.request_id, request.voucher_id, request.amount,
                                                  request.terminal_id, request.merchant_category))
            return {"redeemed": True, "remaining": row["remaining"] - request.amount, "detail": ""}

        with self.store.transaction() as db:
            answer = once(db, f"redemption/{request.request_id}", content, apply)
        return RedemptionResult(request.request_id, **answer)

    def totals(self) -> dict[str, int]:
        """Fen issued, remaining and redeemed over every voucher: issued = remaining + redeemed, always."""
        issued, remaining = self.store.query("SELECT COALESCE(SUM(value), 0), COALESCE(SUM(remaining), 0) "
                                             "FROM vouchers")[0]
        redeemed = self.store.query("SELECT COALESCE(SUM(amount), 0) FROM redemptions")[0][0]
        return {"issued": issued, "remaining": remaining, "redeemed": redeemed}

    def close(self) -> None:
        self.store.close()
