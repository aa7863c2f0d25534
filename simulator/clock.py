"""The clock every device, card and back-end reads time from, moved by whoever drives them.

The embedded default and the SimPy world move it; in front of a real DUT the harness moves it only
when the DUT declares `clock_control`. Injected everywhere, so expiry windows, retry back-offs and
recovery timers run instantly and reproducibly.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

#: the personalisation date of every simulated card, and the harness clock's start
AS_OF = date(2026, 11, 23)
START = datetime(2026, 11, 23, 8, 0)


class Clock:
    """A settable clock: `clock()` is the current time, `clock.advance(s)` moves it forward."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds`; a ValueError naming the value, the clock unchanged, for a
        negative or non-finite one (a clock never runs backwards) or one past datetime.max."""
        if not 0 <= seconds < math.inf:
            raise ValueError(f"{seconds!r} is not a finite number of seconds >= 0")
        try:
            self.now += timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(f"{seconds!r} s from {self.now.isoformat()} is past {datetime.max.isoformat()}") from None
