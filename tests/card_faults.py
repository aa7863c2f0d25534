"""Test helper: catch the card OS's own faults, which it answers with 6F00 and logs (CARD-APDU-001)."""

from __future__ import annotations

import logging


class CardFaults(logging.Handler):
    """Collects 'card fault' log records: an exception of ours caught inside the card OS."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger("simulator.card.cardos")

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> CardFaults:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
