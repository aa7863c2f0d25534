"""Batch benefit and subsidy disbursement (待遇发放, 惠民惠农补贴"一卡通") by the reference bank.

The shape follows the public descriptions of the process (an approved roll, the treasury pays the
entrusted bank, the bank credits each card account and feeds back per item, failures returned
with a reason and re-paid after review) and of ISO 20022 pain.001/pain.002 (a batch with control
totals and per-transaction status); no national file format is public, so ours is modelled:
- `open_batch`: the payer announces the batch (client-generated id) with its item count and
  total, as pain.001's NbOfTxs / CtrlSum;
- `pay`: items, many per call, each with its own id: paid from the payer's account into the
  card's, or refused with a reason (no such account, account closed); an item past the announced
  count or total refuses the whole call (`Refused`);
- `return_items`: a paid item sent back (退票): the card's account pays it back to the payer;
- a re-issue is a new item whose `reissue_of` names a returned item of the batch: paid at most
  once per returned item, for the returned amount (the twice-paid redrafted wire is the failure
  this prevents);
- `reconcile`: the batch to the fen, items against the ledger's postings.
A call is one transaction: a crash leaves all of its items applied or none, and every item is
exactly-once by its id (the same item again gets its saved result; the same id with other
content is `IdConflict` and the whole call is refused).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict

from simulator.backend.ledger import Ledger, digest
from simulator.backend.ports import (
    Batch,
    IdConflict,
    Item,
    ItemResult,
    ItemReturn,
    NotFound,
    Reconciliation,
    Refused,
    ReturnResult,
)
from simulator.faults import point

BETWEEN_ITEMS = point("bank.between_items", "the bank applied some items of a call, not all, nor committed")


def payer_account(payer: str) -> str:
    return f"payer:{payer}"


class Disbursements:
    """Disbursement batches over the bank's books (`ledger`)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def open_batch(self, batch: Batch) -> Batch:
        content = {"payer": batch.payer, "item_count": batch.item_count, "total_amount": batch.total_amount}

        def apply() -> dict:
            db.execute("INSERT INTO batches (batch_id, payer, item_count, total_amount) VALUES (?, ?, ?, ?)",
                       (batch.batch_id, batch.payer, batch.item_count, batch.total_amount))
            self.ledger.internal(db, payer_account(batch.payer))
            return asdict(batch)

        with self.ledger.write() as db:
            return Batch(**self.ledger.once(db, f"batch/{batch.batch_id}", content, apply))

    @staticmethod
    def _batch(db: sqlite3.Connection, batch_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        if row is None:
            raise NotFound(f"no batch {batch_id!r}: open it first")
        return row

    def pay(self, batch_id: str, items: tuple[Item, ...]) -> tuple[ItemResult, ...]:
        with self.ledger.write() as db:
            batch = self._batch(db, batch_id)
            results = []
            for item in items:
                results.append(self._pay_one(db, batch, item))
                self.ledger.crash(BETWEEN_ITEMS)
            return tuple(results)

    def _pay_one(self, db: sqlite3.Connection, batch: sqlite3.Row, item: Item) -> ItemResult:
        wanted = digest({"pan": item.pan, "amount": item.amount, "reissue_of": item.reissue_of})
        seen = db.execute("SELECT * FROM items WHERE batch_id = ? AND item_id = ?",
                          (batch["batch_id"], item.item_id)).fetchone()
        if seen is not None:
            if seen["digest"] != wanted:
                raise IdConflict(item.item_id, f"item {item.item_id!r} of batch {batch['batch_id']!r} was "
                                               "submitted before with a different account, amount or re-issue")
            return ItemResult(item.item_id, seen["status"], seen["detail"])
        why = self._refusal(db, batch, item)
        status, detail = ("refused", why) if why else ("paid", "")
        db.execute("INSERT INTO items (batch_id, item_id, pan, amount, reissue_of, status, detail, digest) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (batch["batch_id"], item.item_id, item.pan, item.amount, item.reissue_of, status, detail, wanted))
        if item.reissue_of is None:  # the running control totals: what arrived of what was announced
            db.execute("UPDATE batches SET received_count = received_count + 1, "
                       "received_amount = received_amount + ? WHERE batch_id = ?", (item.amount, batch["batch_id"]))
        if status == "paid":
            self.ledger.post(db, debit=payer_account(batch["payer"]), credit=item.pan, amount=item.amount,
                             kind="disbursement", ref=item.item_id, batch_id=batch["batch_id"])
            if item.reissue_of is not None:
                db.execute("UPDATE items SET reissued_by = ? WHERE batch_id = ? AND item_id = ?",
                           (item.item_id, batch["batch_id"], item.reissue_of))
        return ItemResult(item.item_id, status, detail)

    @staticmethod
    def _refusal(db: sqlite3.Connection, batch: sqlite3.Row, item: Item) -> str:
        """Why `item` cannot be paid, or "" when it can."""
        account = db.execute("SELECT status FROM accounts WHERE id = ? AND kind = 'card'", (item.pan,)).fetchone()
        if item.reissue_of is not None:
            returned = db.execute("SELECT * FROM items WHERE batch_id = ? AND item_id = ?",
                                  (batch["batch_id"], item.reissue_of)).fetchone()
            if returned is None or returned["status"] != "returned":
                return f"re-issue of {item.reissue_of!r}, which is not a returned item of this batch"
            if returned["reissued_by"] is not None:
                return f"{item.reissue_of!r} was already re-issued as {returned['reissued_by']!r}"
            if returned["amount"] != item.amount:
                return f"a re-issue pays the returned {returned['amount']} fen, not {item.amount}"
        else:
            count, total = db.execute("SELECT received_count, received_amount FROM batches WHERE batch_id = ?",
                                      (batch["batch_id"],)).fetchone()
            if count + 1 > batch["item_count"] or total + item.amount > batch["total_amount"]:
                raise Refused(f"item {item.item_id!r} goes past what batch {batch['batch_id']!r} announced "
                              f"({batch['item_count']} items, {batch['total_amount']} fen)")
        if account is None:
            return "no such account: the bank holds no account for this card's financial application"
        if account["status"] != "open":
            return "the account is closed"
        return ""

    def return_items(self, batch_id: str, returns: tuple[ItemReturn, ...]) -> tuple[ReturnResult, ...]:
        with self.ledger.write() as db:
            batch = self._batch(db, batch_id)
            return tuple(self._return_one(db, batch, r) for r in returns)

    def _return_one(self, db: sqlite3.Connection, batch: sqlite3.Row, back: ItemReturn) -> ReturnResult:
        item = db.execute("SELECT * FROM items WHERE batch_id = ? AND item_id = ?",
                          (batch["batch_id"], back.item_id)).fetchone()
        if item is None:
            return ReturnResult(back.item_id, False, "no such item in this batch")
        if item["status"] == "returned":
            if item["return_reason"] != back.reason:
                raise IdConflict(back.item_id, f"item {back.item_id!r} was returned before for another reason")
            return ReturnResult(back.item_id, True, f"returned: {back.reason}")
        if item["status"] != "paid":
            return ReturnResult(back.item_id, False, "the item was not paid")
        balance = db.execute("SELECT balance FROM accounts WHERE id = ?", (item["pan"],)).fetchone()[0]
        if balance < item["amount"]:
            return ReturnResult(back.item_id, False, "the account no longer holds the amount")
        db.execute("UPDATE items SET status = 'returned', return_reason = ? WHERE batch_id = ? AND item_id = ?",
                   (back.reason, batch["batch_id"], back.item_id))
        self.ledger.post(db, debit=item["pan"], credit=payer_account(batch["payer"]), amount=item["amount"],
                         kind="return", ref=back.item_id, batch_id=batch["batch_id"])
        return ReturnResult(back.item_id, True, f"returned: {back.reason}")

    def reconcile(self, batch_id: str) -> Reconciliation:
        db = self.ledger.store.db
        batch = self._batch(db, batch_id)

        def count_sum(where: str) -> tuple[int, int]:
            return tuple(db.execute(f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM items "  # noqa: S608 - our text
                                    f"WHERE batch_id = ? AND {where}", (batch_id,)).fetchone())

        received, paid = count_sum("reissue_of IS NULL"), count_sum("status = 'paid'")
        refused, returned = count_sum("status = 'refused'"), count_sum("status = 'returned'")
        reissued = count_sum("status = 'returned' AND reissued_by IS NOT NULL")[0]
        outstanding = count_sum("status = 'returned' AND reissued_by IS NULL")
        ledger = db.execute("SELECT COALESCE(SUM(CASE kind WHEN 'disbursement' THEN amount ELSE -amount END), 0) "
                            "FROM postings WHERE batch_id = ?", (batch_id,)).fetchone()[0]
        complete = received == (batch["item_count"], batch["total_amount"])
        return Reconciliation(batch_id, batch["item_count"], batch["total_amount"], *received, *paid, *refused,
                              *returned, reissued, *outstanding, ledger, complete and ledger == paid[1])
