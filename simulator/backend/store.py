"""The storage every back-end service keeps its state in: one SQLite file per service, WAL mode.

Why SQLite in WAL mode with `synchronous=FULL`: a committed transaction survives the process being
killed (SIGKILL, not a polite close), which is what exactly-once money needs; readers do not block
the writer. The schema is versioned in code: a service passes its migrations in order, and
`PRAGMA user_version` records how many were applied, so a newer service opens an older file.

Checkpoints (copying the WAL back into the database file, with a wait for the disk) run in a
background thread of the store, never in a request: left to SQLite, the commit that finds the WAL
over 1000 pages does it, and that request, with every one queued behind the store's lock, waits
for the copy and the disk (a few milliseconds every few hundred replay-log entries: the platform's
p99 in bench/bench_platform_load.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

#: seconds between two background checkpoints
CHECKPOINT_PERIOD = 0.5


class StoreError(Exception):
    """The file cannot be used: a newer schema than this code knows, or not an SQLite database."""


class Store:
    """An SQLite database opened for one service; `path` ':memory:' for a throw-away one."""

    def __init__(self, path: str | Path, migrations: Sequence[str]) -> None:
        self.path = str(path)
        #: one connection serves every thread of the service (uvicorn runs sync routes in a pool):
        #: a transaction or read holds the lock whole, so two threads never interleave a BEGIN
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._set_up(self.db, "FULL")
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate(migrations)
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise StoreError(f"{self.path}: {error}") from None
        #: the connection of the transactions that do not wait for the disk (`durable=False`): a
        #: second one to the same file, set to synchronous=NORMAL once, so that no transaction
        #: switches the setting back and forth (two statements each, a third of a replay-log
        #: entry's cost); serialised with the first by the same lock. An in-memory database has no
        #: disk to wait for, and a second connection would be another database: there it is the same.
        self._not_durable = self.db
        self._checkpoints: _Checkpoints | None = None
        if self.path != ":memory:":
            self._not_durable = self._set_up(sqlite3.connect(self.path, isolation_level=None,
                                                             check_same_thread=False), "NORMAL")
            for db in (self.db, self._not_durable):
                db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = _Checkpoints(self.path)

    @staticmethod
    def _set_up(db: sqlite3.Connection, synchronous: str) -> sqlite3.Connection:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _migrate(self, migrations: Sequence[str]) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            raise StoreError(f"{self.path}: schema version {version}, this code knows {len(migrations)}")
        for number, script in enumerate(migrations[version:], start=version + 1):
            with self.transaction():
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock is taken up front): committed
        whole when the block ends, rolled back whole when it raises.

        `durable=False` commits without waiting for the disk (on the connection set to
        synchronous=NORMAL): the transaction survives the process being killed, as every other, but
        not the machine losing power (until the next durable commit or checkpoint syncs it). Only
        for entries that matter for minutes, like a replay log, where waiting for the disk on every
        request would be most of the request's time (bench/bench_platform_load.py)."""
        db = self.db if durable else self._not_durable
        with self.lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def query(self, sql: str, parameters: Sequence | dict = ()) -> list[sqlite3.Row]:
        """The rows of one read."""
        with self.lock:
            return self.db.execute(sql, parameters).fetchall()

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
        self._not_durable.close()
        self.db.close()


class _Checkpoints(threading.Thread):
    """Checkpoints the WAL of the file at `path` every CHECKPOINT_PERIOD, on its own connection.

    PASSIVE: it copies what no reader still needs and never waits for a lock, so the service's
    transactions go on meanwhile (sqlite3 releases the GIL while SQLite works); whatever it could
    not copy it copies next time. A commit is on disk in the WAL before it returns, whatever this
    thread does, so killing the process between checkpoints loses nothing (tests/test_store.py)."""

    def __init__(self, path: str) -> None:
        super().__init__(name=f"checkpoints {path}", daemon=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(CHECKPOINT_PERIOD):
            self.checkpoint()
        self.checkpoint()
        self.db.close()

    def checkpoint(self) -> None:
        with suppress(sqlite3.OperationalError):  # busy: the next period copies what this one could not
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def stop(self) -> None:
        self.stopped.set()
        self.join()
