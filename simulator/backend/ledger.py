"""The bank's books: accounts, double-entry postings and the exactly-once record, in one `Store`.

Why double entry: every movement debits one account and credits another by the same amount, so
the balances always sum to zero and money is never created or lost; the bank's own accounts
(`internal:*`, `payer:*`) may go negative (what the bank is owed by the payer or the acquirer),
a card's account never does (a CHECK in the schema, not only in the code).

Why an exactly-once record: a client retries a request whose answer it did not receive with the
same id. `Ledger.once` keeps, in the same transaction as the effect, the id, a digest of the
request's content and the answer: a retry with the same content gets the saved answer, one with
different content `IdConflict`, and a crash before the commit leaves neither effect nor record.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from simulator.backend.ports import AccountOpening, AccountState, IdConflict, NotFound
from simulator.backend.store import Store
from simulator.clock import Clock
from simulator.faults import point
from simulator.privacy import mask_pan

MIGRATIONS = (
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        pan_sequence INTEGER,
        kind TEXT NOT NULL CHECK (kind IN ('card', 'internal')),
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        balance INTEGER NOT NULL,
        CHECK (kind = 'internal' OR balance >= 0)
    );
    CREATE TABLE postings (
        id INTEGER PRIMARY KEY,
        debit TEXT NOT NULL REFERENCES accounts (id),
        credit TEXT NOT NULL REFERENCES accounts (id),
        amount INTEGER NOT NULL CHECK (amount > 0),
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        batch_id TEXT,
        booked_at TEXT NOT NULL
    );
    CREATE INDEX postings_by_batch ON postings (batch_id, kind);
    CREATE TABLE operations (id TEXT PRIMARY KEY, digest TEXT NOT NULL, answer TEXT NOT NULL);
    CREATE TABLE authorisations (
        request_id TEXT PRIMARY KEY, pan TEXT NOT NULL, amount INTEGER NOT NULL, approved INTEGER NOT NULL
    );
    CREATE TABLE reversals (original_id TEXT PRIMARY KEY, request_id TEXT NOT NULL);
    CREATE TABLE cryptograms (pan TEXT NOT NULL, atc BLOB NOT NULL, ac BLOB NOT NULL, PRIMARY KEY (pan, atc, ac));
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY, payer TEXT NOT NULL, item_count INTEGER NOT NULL, total_amount INTEGER NOT NULL,
        received_count INTEGER NOT NULL DEFAULT 0, received_amount INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        batch_id TEXT NOT NULL REFERENCES batches (batch_id),
        item_id TEXT NOT NULL,
        pan TEXT NOT NULL,
        amount INTEGER NOT NULL,
        reissue_of TEXT,
        status TEXT NOT NULL CHECK (status IN ('paid', 'refused', 'returned')),
        detail TEXT NOT NULL,
        digest TEXT NOT NULL,
        return_reason TEXT,
        reissued_by TEXT,
        PRIMARY KEY (batch_id, item_id)
    )
    """,
)

DEPOSITS = "internal:deposits"

BEFORE_COMMIT = point("bank.before_commit", "the bank applied a request but has not committed it")
AFTER_COMMIT = point("bank.after_commit", "the bank committed a request but has not answered it")


def digest(content: dict) -> str:
    """SHA-256 of a request's content in canonical JSON: what "the same request" means."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def once(db: sqlite3.Connection, key: str, content: dict, apply: Callable[[], dict], *,
         shown: str | None = None) -> dict:
    """The saved answer of `key`, or `apply()`'s, saved; inside the caller's transaction, on a store
    whose schema has the `operations` table (id, digest, answer). `shown` is the key as an error may
    show it (masked where it holds a PAN)."""
    wanted = digest(content)
    row = db.execute("SELECT digest, answer FROM operations WHERE id = ?", (key,)).fetchone()
    if row is not None:
        if row["digest"] != wanted:
            raise IdConflict(shown or key, "this id was used before for a request with different content")
        return json.loads(row["answer"])
    answer = apply()
    db.execute("INSERT INTO operations (id, digest, answer) VALUES (?, ?, ?)", (key, wanted, json.dumps(answer)))
    return answer


class Ledger:
    """The bank's store and its books. `clock()` dates each posting (a `simulator.clock.Clock`;
    the wall clock only at a served process's edge); `crash(point)` is called at the bank's fault
    points (a no-op unless a fault plan is wired in)."""

    def __init__(self, path: str | Path = ":memory:", *, clock: Callable[[], datetime] | None = None,
                 crash: Callable[[str], None] = lambda point: None) -> None:
        self.store = Store(path, MIGRATIONS)
        self.clock = clock or Clock()
        self.crash = crash

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, with the bank's crash points on either side of its commit."""
        with self.store.transaction() as db:
            yield db
            self.crash(BEFORE_COMMIT)
        self.crash(AFTER_COMMIT)

    # -- exactly once ---------------------------------------------------------------------------
    once = staticmethod(once)

    # -- postings -------------------------------------------------------------------------------
    @staticmethod
    def internal(db: sqlite3.Connection, name: str) -> str:
        """The bank's own account `name`, opened on first use."""
        db.execute("INSERT OR IGNORE INTO accounts (id, kind, status, balance) VALUES (?, 'internal', 'open', 0)",
                   (name,))
        return name

    def post(self, db: sqlite3.Connection, *, debit: str, credit: str, amount: int, kind: str, ref: str,
             batch_id: str | None = None) -> None:
        """Move `amount` fen from `debit` to `credit` (the schema refuses a card account below 0)."""
        db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, debit))
        db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, credit))
        db.execute("INSERT INTO postings (debit, credit, amount, kind, ref, batch_id, booked_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (debit, credit, amount, kind, ref, batch_id, self.clock().isoformat()))

    # -- accounts -------------------------------------------------------------------------------
    def open_account(self, request: AccountOpening) -> AccountState:
        """Open the account of a card's financial application, funded from the bank's deposits;
        the PAN is the id: the same opening again is answered with the account as it is now."""
        content = {"pan_sequence": request.pan_sequence, "opening_balance": request.opening_balance}

        def apply() -> dict:
            db.execute("INSERT INTO accounts (id, pan_sequence, kind, status, balance) "
                       "VALUES (?, ?, 'card', 'open', 0)", (request.pan, request.pan_sequence))
            if request.opening_balance:
                self.post(db, debit=self.internal(db, DEPOSITS), credit=request.pan, amount=request.opening_balance,
                          kind="deposit", ref=request.pan)
            return content

        with self.write() as db:
            self.once(db, f"account/{request.pan}", content, apply, shown=f"account/{mask_pan(request.pan)}")
        return self.account(request.pan)

    def close_account(self, pan: str) -> AccountState:
        """Close a card's account (card cancelled, 注销): nothing is paid into it any more."""
        with self.store.transaction() as db:
            if db.execute("UPDATE accounts SET status = 'closed' WHERE id = ? AND kind = 'card'", (pan,)).rowcount == 0:
                raise NotFound(f"no card account {mask_pan(pan)}")
        return self.account(pan)

    def account(self, pan: str) -> AccountState:
        rows = self.store.query("SELECT * FROM accounts WHERE id = ? AND kind = 'card'", (pan,))
        if not rows:
            raise NotFound(f"no card account {mask_pan(pan)}")
        row = rows[0]
        return AccountState(row["id"], row["pan_sequence"], row["balance"], row["status"])

    def total(self) -> int:
        """The sum of every balance: zero, always (double entry)."""
        return self.store.query("SELECT COALESCE(SUM(balance), 0) FROM accounts")[0][0]
