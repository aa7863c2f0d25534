"""The back-ends' SQLite store: WAL mode, versioned schema, whole transactions, survives SIGKILL."""

import os
import signal
import subprocess
import sys

import pytest

from simulator.backend.store import Store, StoreError

MIGRATIONS = ["CREATE TABLE item (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)",
              "ALTER TABLE item ADD COLUMN note TEXT"]


def test_schema_is_versioned_and_reopened(tmp_path):
    path = tmp_path / "s.sqlite"
    first = Store(path, MIGRATIONS[:1])
    assert first.query("PRAGMA journal_mode")[0][0] == "wal"
    first.close()
    second = Store(path, MIGRATIONS)
    assert second.query("PRAGMA user_version")[0][0] == 2
    assert [row["name"] for row in second.query("PRAGMA table_info(item)")] == ["id", "amount", "note"]
    second.close()
    with pytest.raises(StoreError, match="schema version 2, this code knows 1"):
        Store(path, MIGRATIONS[:1])


def test_a_transaction_that_raises_leaves_nothing():
    store = Store(":memory:", MIGRATIONS)
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO item (id, amount) VALUES ('a', 1)")
        raise RuntimeError("crash between two steps")
    assert store.query("SELECT count(*) FROM item")[0][0] == 0


def test_not_a_database_is_refused(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"not sqlite" * 100)
    with pytest.raises(StoreError, match="junk"):
        Store(path, MIGRATIONS)


@pytest.mark.parametrize("durable", [True, False])
def test_a_committed_write_survives_sigkill(tmp_path, durable):
    """Also one committed without waiting for the disk: only the machine's power can lose it."""
    path = tmp_path / "s.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from simulator.backend.store import Store\n"
        f"s = Store({str(path)!r}, {MIGRATIONS!r})\n"
        f"with s.transaction(durable={durable}) as db:\n"
        "    db.execute(\"INSERT INTO item (id, amount) VALUES ('paid', 100)\")\n"
        "print('committed', flush=True)\n"
        "s.db.execute('BEGIN IMMEDIATE'); s.db.execute(\"INSERT INTO item (id, amount) VALUES ('half', 1)\")\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert writer.stdout.readline().strip() == "committed"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    store = Store(path, MIGRATIONS)
    assert [tuple(row) for row in store.query("SELECT id, amount FROM item")] == [("paid", 100)]


def test_only_the_transactions_that_do_not_wait_for_the_disk_skip_it(tmp_path):
    """durable=False runs on its own connection (synchronous=NORMAL); every other write and every
    read stays on the one that waits for the disk, and each sees the other's commits."""
    store = Store(tmp_path / "s.sqlite", MIGRATIONS)
    with store.transaction(durable=False) as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        db.execute("INSERT INTO item (id, amount) VALUES ('a', 1)")
    with store.transaction() as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        db.execute("INSERT INTO item (id, amount) VALUES ('b', 2)")
    assert store.query("PRAGMA synchronous")[0][0] == 2
    with pytest.raises(RuntimeError), store.transaction(durable=False) as db:
        db.execute("INSERT INTO item (id, amount) VALUES ('c', 3)")
        raise RuntimeError("refused half-way")
    with store.transaction(durable=False) as db:
        assert [row[0] for row in db.execute("SELECT id FROM item ORDER BY id")] == ["a", "b"]
    assert [row["id"] for row in store.query("SELECT id FROM item ORDER BY id")] == ["a", "b"]
    store.close()


def test_an_in_memory_store_is_one_database_for_both_kinds_of_transaction():
    store = Store(":memory:", MIGRATIONS)
    with store.transaction(durable=False) as db:
        db.execute("INSERT INTO item (id, amount) VALUES ('a', 1)")
    assert store.query("SELECT id FROM item")[0][0] == "a"


@pytest.mark.parametrize("durable", [True, False])
def test_checkpoints_run_in_the_background_not_in_a_commit(tmp_path, durable):
    """No commit copies the WAL into the database file (bench/bench_platform_load.py: that copy, on
    the request path, was the platform's p99); the store's own thread does, within a few periods."""
    import time

    path = tmp_path / "s.sqlite"
    store = Store(path, MIGRATIONS)
    for db in (store.db, store._not_durable):
        assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    before = path.stat().st_size
    for n in range(3000):  # far over the 1000 pages at which a commit would checkpoint by default
        with store.transaction(durable=durable) as db:
            db.execute("INSERT INTO item (id, amount) VALUES (?, ?)", (f"item-{n:05d}-{'x' * 200}", n))
    deadline = time.monotonic() + 10
    while path.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > before, "nothing was checkpointed into the database file in 10 s"
    store.close()
    assert Store(path, MIGRATIONS).query("SELECT count(*) FROM item")[0][0] == 3000
