"""The storage every back-end service keeps its state in: one SQLite file per service, WAL mode.

Why SQLite in WAL mode with `synchronous=FULL`: a committed transaction survives the process being
killed (SIGKILL, not a polite close), which is what exactly-once money needs; readers do not block
the writer. The schema is versioned in code: a service passes its migrations in order, and
`PRAGMA user_version` records how many were applied, so a newer service opens an older file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class StoreError(Exception):
    """The file cannot be used: a newer schema than this code knows, or not an SQLite database."""


class Store:
    """An SQLite database opened for one service; `path` ':memory:' for a throw-away one."""

    def __init__(self, path: str | Path, migrations: Sequence[str]) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        #: one connection serves every thread of the service (uvicorn runs sync routes in a pool):
        #: a transaction or read holds it whole, so two threads never interleave a BEGIN
        self.lock = threading.RLock()
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate(migrations)
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise StoreError(f"{self.path}: {error}") from None

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

        `durable=False` commits without waiting for the disk (synchronous=NORMAL for this one): the
        transaction survives the process being killed, as every other, but not the machine losing
        power (until the next durable commit or checkpoint syncs it). Only for entries that matter
        for minutes, like a replay log, where waiting for the disk on every request would be most of
        the request's time (bench/bench_platform_load.py)."""
        with self.lock:
            if not durable:
                self.db.execute("PRAGMA synchronous=NORMAL")
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            finally:
                if not durable:
                    self.db.execute("PRAGMA synchronous=FULL")

    def query(self, sql: str, parameters: Sequence | dict = ()) -> list[sqlite3.Row]:
        """The rows of one read."""
        with self.lock:
            return self.db.execute(sql, parameters).fetchall()

    def close(self) -> None:
        self.db.close()
