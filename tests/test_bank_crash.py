"""THE fault-injection test: a disbursement batch of 10,000 items paid against a real
`ykt bank serve` process that is SIGKILLed again and again, and restarted, while the client
replays every request it got no answer to (and, now and then, one it did).

Kills come two ways, both seeded: the service's fault plan kills it at its named crash points
(`bank.before_commit`, `bank.after_commit`, `bank.between_items`: between any two steps of a
request) with the plan's chances, and the client kills it a few milliseconds into seeded ones of
its requests (so at least CLIENT_KILLS crashes happen whatever the plan draws).

The oracle is the client's own plan, never the service's arithmetic: which items must be paid,
refused (unknown or closed account), returned (退票) and re-issued (once; a second re-issue of
the same returned item must be refused), and so every account's balance to the fen; then the
bank's SQLite file is read directly after the last kill: one posting per payment, one per return,
none twice, every balance as planned, all balances summing to zero.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from simulator.backend.bank_client import BankClient
from simulator.backend.loopback import free_port
from simulator.backend.ports import AccountOpening, Batch, Item, ItemReturn, Unavailable
from simulator.seeds import generator

ROOT_SEED = 20261202
ITEMS, ACCOUNTS, CLOSED, UNKNOWN, RETURNS, CHUNK = 10_000, 300, 8, 20, 200, 500
PLAN = {"crash": {"bank.before_commit": 0.002, "bank.after_commit": 0.002, "bank.between_items": 0.0002}}
#: how many of the client's first CALLS requests it kills the service during (which ones: seeded)
CLIENT_KILLS, CALLS = 6, 380


class ServedBank:
    """`ykt bank serve` as a subprocess, restarted after every death; counts what killed it."""

    def __init__(self, tmp: Path) -> None:
        self.db, self.plan, self.tmp = tmp / "bank.sqlite3", tmp / "faults.yaml", tmp
        self.plan.write_text(yaml.safe_dump(PLAN))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.starts += 1
        log = (self.tmp / f"serve-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.cli", "bank", "serve", "--port", str(self.port), "--db", str(self.db),
             "--faults", str(self.plan), "--fault-seed", str(ROOT_SEED + self.starts)],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return  # died while starting (a client kill): the caller restarts it
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/openapi.json", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"ykt bank serve did not come up on {self.url}")

    def kill_soon(self, delay: float) -> None:
        """SIGKILL the running process `delay` seconds from now (if it is still the one running)."""
        proc = self.proc
        threading.Timer(delay, lambda: proc.poll() is None and proc.kill()).start()

    def plan_kills(self) -> Counter:
        kills = Counter()
        for log in self.tmp.glob("serve-*.log"):
            for line in log.read_text().splitlines():
                if line.startswith("fault plan: SIGKILL at "):
                    kills[line.removeprefix("fault plan: SIGKILL at ")] += 1
        return kills

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Client:
    """Sends each request until it is answered, restarting the service whenever it died."""

    def __init__(self, served: ServedBank) -> None:
        self.served = served
        self.bank = BankClient(served.url, timeout=10)
        self.rng = generator(ROOT_SEED, "bank-crash", "client")
        self.kill_at = set(self.rng.sample(range(1, CALLS), CLIENT_KILLS))
        self.calls = 0
        self.replays = 0  # re-sent after no answer
        self.duplicates = 0  # re-sent after an answer: must get the saved one

    def call(self, method, *args):
        while True:
            self.calls += 1
            if self.calls in self.kill_at:
                self.served.kill_soon(self.rng.uniform(0, 0.02))
            try:
                answer = method(*args)
            except Unavailable:
                self.replays += 1
                if self.served.proc.poll() is not None:
                    self.served.proc.wait()
                    self.served.start()
                continue
            if self.rng.random() < 0.05:
                self.duplicates += 1
                assert self.call(method, *args) == answer, f"a duplicate of {method.__name__} got another answer"
            return answer


@pytest.mark.timeout(240)
def test_a_10000_item_batch_is_paid_exactly_once_through_crashes(tmp_path):
    started = time.monotonic()
    plan = generator(ROOT_SEED, "bank-crash", "plan")
    served = ServedBank(tmp_path)
    served.start()
    client = Client(served)
    try:
        pans = [f"62999910{n:08d}" for n in range(ACCOUNTS)]
        for pan in pans:
            client.call(client.bank.open_account, AccountOpening(pan, 1, 0))
        closed = pans[-CLOSED:]
        for pan in closed:
            assert client.call(client.bank.close_account, pan).status == "closed"
        unknown = [f"62999920{n:08d}" for n in range(UNKNOWN)]
        items = [Item(f"i{n:05d}", plan.choice(pans + unknown), plan.randint(1, 50_000)) for n in range(ITEMS)]
        batch = Batch("SUBSIDY-2026-12", "kaifeng-subsidy-office", ITEMS, sum(i.amount for i in items))
        assert client.call(client.bank.open_batch, batch) == batch

        expected = Counter()  # pan -> fen the client's plan says it must hold
        results = {}
        for start in range(0, ITEMS, CHUNK):
            chunk = tuple(items[start:start + CHUNK])
            for item, result in zip(chunk, client.call(client.bank.pay, batch.batch_id, chunk), strict=True):
                results[item.item_id] = result
        for item in items:
            payable = item.pan in pans and item.pan not in closed
            assert results[item.item_id].status == ("paid" if payable else "refused"), (item, results[item.item_id])
            expected[item.pan] += item.amount if payable else 0

        paid = [i for i in items if results[i.item_id].status == "paid"]
        returned = plan.sample(paid, RETURNS)
        answers = client.call(client.bank.return_items, batch.batch_id,
                              tuple(ItemReturn(i.item_id, "account frozen after payment") for i in returned))
        assert all(a.returned for a in answers), [a for a in answers if not a.returned][:3]
        open_pans = [p for p in pans if p not in closed]
        reissues = [Item(f"{i.item_id}-r", plan.choice(open_pans), i.amount, reissue_of=i.item_id) for i in returned]
        for i in returned:
            expected[i.pan] -= i.amount
        for r in reissues:
            expected[r.pan] += r.amount
        assert {r.status for r in client.call(client.bank.pay, batch.batch_id, tuple(reissues))} == {"paid"}
        twice = tuple(Item(f"{i.item_id}-r2", open_pans[0], i.amount, reissue_of=i.item_id) for i in returned[:10])
        second = client.call(client.bank.pay, batch.batch_id, twice)
        assert all(r.status == "refused" and "already re-issued" in r.detail for r in second), second

        r = client.call(client.bank.reconcile, batch.batch_id)
        paid_amount = sum(i.amount for i in paid) - sum(i.amount for i in returned) + sum(i.amount for i in reissues)
        assert (r.received_count, r.received_amount) == (ITEMS, batch.total_amount)
        assert (r.returned_count, r.reissued_count, r.outstanding_count) == (RETURNS, RETURNS, 0)
        assert (r.paid_count, r.paid_amount) == (len(paid) - RETURNS + RETURNS, paid_amount)
        assert (r.ledger_amount, r.balanced) == (paid_amount, True)
        for pan in pans[:50]:  # through the service, a sample ...
            assert client.call(client.bank.account, pan).balance == expected[pan]
    finally:
        served.stop()
        client.bank.close()

    db = sqlite3.connect(served.db)  # ... and all of them in the file, after the last kill
    balances = dict(db.execute("SELECT id, balance FROM accounts WHERE kind = 'card'"))
    assert {pan: balances[pan] for pan in pans} == {pan: expected[pan] for pan in pans}
    assert db.execute("SELECT SUM(balance) FROM accounts").fetchone()[0] == 0
    per_item = Counter(db.execute("SELECT ref, kind FROM postings WHERE batch_id = ?", (batch.batch_id,)))
    want = Counter({(i.item_id, "disbursement"): 1 for i in paid + reissues})
    want.update({(i.item_id, "return"): 1 for i in returned})
    assert per_item == want, f"postings differ: {(per_item - want) + (want - per_item)}"

    plan_kills = served.plan_kills()
    crashes = served.starts - 1  # each start after the first followed one death
    by_client = crashes - sum(plan_kills.values())
    print(f"\nseed {ROOT_SEED}: {ITEMS} items ({len(paid)} paid, {ITEMS - len(paid)} refused, {RETURNS} returned "
          "and re-issued once) "
          f"in {time.monotonic() - started:.1f} s; survived {crashes} crashes (fault plan: {dict(plan_kills)}; "
          f"the client's SIGKILLs in flight: {by_client}), {served.starts} starts, {client.replays} replays "
          f"after no answer, {client.duplicates} duplicates answered from the saved result; "
          f"reconciliation balanced to the fen: {paid_amount} fen paid")
    assert crashes >= 5, "too few crashes to show anything: raise the plan's chances"
