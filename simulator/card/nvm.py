"""The card's non-volatile memory (EEPROM) with journaled, tear-safe writes.

Why a journal: a card may lose power between any two EEPROM page writes (pulled out of the
field). Every write command therefore goes through `write()`, which first copies the new values
to a journal, sets a commit flag (the one atomic step), applies the values page by page and
clears the journal. `recover()` at power-up rolls a committed journal forward and drops an
uncommitted one, so every value is all-old or all-new. Each step is a named tear point.
"""

from __future__ import annotations

from simulator.faults import FaultPlan, point

JOURNAL_PAGE = point("nvm.journal", "a page of the write journal is about to be written")
COMMIT = point("nvm.commit", "the journal's commit flag is about to be set (the atomic step)")
APPLY_PAGE = point("nvm.apply", "a page of a live value is about to be overwritten")
CLEAR = point("nvm.clear", "the applied journal is about to be cleared")
DONE = point("nvm.done", "a write has completed; the command's response is not yet sent")


class NVM:
    """Values by key (file contents, records, PIN and key counters), written atomically."""

    def __init__(self, data: dict[str, bytes], *, page_size: int, faults: FaultPlan | None = None):
        if page_size < 1:
            raise ValueError(f"NVM page size must be positive, got {page_size}")
        self.data = dict(data)
        self.page_size = page_size
        self.faults = faults or FaultPlan()
        self.journal: dict[str, bytes] = {}
        self.committed = False

    def get(self, key: str, default: bytes | None = None) -> bytes | None:
        return self.data.get(key, default)

    def __getitem__(self, key: str) -> bytes:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def _pages(self, value: bytes) -> range:
        return range(max(1, -(-len(value) // self.page_size)))

    def write(self, updates: dict[str, bytes]) -> None:
        """Write all `updates` as one atomic step (a tear leaves all-old or all-new)."""
        hit = self.faults.hit
        self.journal = {}
        for key, value in updates.items():
            for _ in self._pages(value):
                hit(JOURNAL_PAGE)
            self.journal[key] = value
        hit(COMMIT)
        self.committed = True
        self._apply(hit)
        hit(DONE)

    def _apply(self, hit) -> None:
        for key, new in self.journal.items():
            old = self.data.get(key, b"")
            for page in self._pages(new):
                hit(APPLY_PAGE)
                end = (page + 1) * self.page_size
                self.data[key] = new[:end] + old[end:] if end < len(new) else new
        hit(CLEAR)
        self.journal = {}
        self.committed = False

    def recover(self) -> None:
        """Power-up: finish a committed write, forget an uncommitted one."""
        if self.committed:
            self._apply(lambda _name: None)
        self.journal = {}
        self.committed = False
