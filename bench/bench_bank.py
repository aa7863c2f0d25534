"""Disbursement throughput of the reference bank: items paid per second, exactly-once included.

Three figures from one run, each paying the same 20,000 items in calls of 500 into a fresh file
(WAL, synchronous=FULL): the bare baseline (the same rows inserted into SQLite with the same
settings, one transaction per call, no checks), the bank's logic in-process (`Disbursements`:
the exactly-once check, refusals, double-entry postings), and the bank served over loopback
(`make_app` under uvicorn, through `BankClient`). The ratios show what the bookkeeping and the
HTTP edge cost, whatever the machine's speed.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from simulator.backend.bank_client import BankClient
from simulator.backend.bank_service import make_app
from simulator.backend.disbursement import Disbursements
from simulator.backend.ledger import Ledger
from simulator.backend.loopback import serving
from simulator.backend.ports import AccountOpening, Batch, DisbursementPort, Item

ITEMS, CHUNK, ACCOUNTS = 20_000, 500, 200
PANS = [f"62999910{n:08d}" for n in range(ACCOUNTS)]
WORK = [Item(f"i{n:05d}", PANS[n % ACCOUNTS], 100 + n % 900) for n in range(ITEMS)]
BATCH = Batch("BENCH", "bench-office", ITEMS, sum(i.amount for i in WORK))


def _chunks() -> list[tuple[Item, ...]]:
    return [tuple(WORK[n:n + CHUNK]) for n in range(0, ITEMS, CHUNK)]


def bare(path: Path) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE items (item_id TEXT PRIMARY KEY, pan TEXT, amount INTEGER)")
    start = time.perf_counter()
    for chunk in _chunks():
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i.item_id, i.pan, i.amount) for i in chunk])
        db.execute("COMMIT")
    return ITEMS / (time.perf_counter() - start)


def _ready(ledger: Ledger) -> Ledger:
    for pan in PANS:
        ledger.open_account(AccountOpening(pan, 1, 0))
    return ledger


def _rate(bank: DisbursementPort, where: str) -> float:
    """Items per second paying the batch through `bank`, which must then reconcile."""
    bank.open_batch(BATCH)
    start = time.perf_counter()
    for chunk in _chunks():
        bank.pay(BATCH.batch_id, chunk)
    elapsed = time.perf_counter() - start
    if not bank.reconcile(BATCH.batch_id).balanced:
        raise SystemExit(f"the {where} batch does not reconcile")
    return ITEMS / elapsed


def in_process(path: Path) -> float:
    return _rate(Disbursements(_ready(Ledger(path))), "in-process")


def served(path: Path) -> float:
    with serving(make_app(_ready(Ledger(path)))) as url:
        client = BankClient(url, timeout=30)
        try:
            return _rate(client, "served")
        finally:
            client.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = bare(Path(tmp) / "bare.db")
        logic = in_process(Path(tmp) / "bank.db")
        http = served(Path(tmp) / "served.db")
    print(f"disbursement, {ITEMS:,} items in calls of {CHUNK}, SQLite WAL synchronous=FULL")
    print(f"  bare inserts (baseline)   {base:>10,.0f} items/s")
    print(f"  bank logic, in-process    {logic:>10,.0f} items/s   ratio {logic / base:.2f} of baseline")
    print(f"  bank served, loopback     {http:>10,.0f} items/s   ratio {http / base:.2f} of baseline")


if __name__ == "__main__":
    main()
