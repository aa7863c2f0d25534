"""What one replication measures at one site, gathered as the world runs.

Counts (arrivals, balks, completions per server, rejections by reason, offline fallbacks),
times (each person's arrival and wait, each server's busy time), the number waiting and the
number in the system integrated over time (`Tally`: the time-average queue length and Little's
law's L come from it, independently of the waits), and money as both sides see it: what moved on the holders' cards
or accounts, what the servers recorded, and how it settled (online or in the offline upload).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field


class Tally:
    """A count that changes at instants (people waiting, people in the system): its integral over
    time in total and per `bin_s` bin of the day, for the time-average and the chart over the day."""

    def __init__(self, bin_s: float) -> None:
        self.bin_s, self.n, self.peak, self.last, self.area = bin_s, 0, 0, 0.0, 0.0
        self.bins: list[float] = [0.0]
        self.edge = bin_s  # where the current bin ends

    def change(self, now: float, delta: int) -> None:
        """The count moves by `delta` at `now` (never earlier than the last change)."""
        n = self.n
        if n:
            added = n * (now - self.last)
            self.area += added
            if now < self.edge:
                self.bins[-1] += added
            else:
                self._cross(now)
        self.last = now
        n += delta
        self.n = n
        if n > self.peak:
            self.peak = n

    def _cross(self, now: float) -> None:
        """Spread the interval since the last change over the bins it crosses."""
        n, bins, t = self.n, self.bins, self.last
        while now >= self.edge:
            bins[-1] += n * (self.edge - t)
            bins.append(0.0)
            t, self.edge = self.edge, self.edge + self.bin_s
        bins[-1] += n * (now - t)

    def means(self, until: float) -> list[float]:
        """The time-average count in each bin up to `until` (the last bin may be partial)."""
        bins = self.bins + [0.0] * (int(until // self.bin_s) + 1 - len(self.bins))
        return [a / min(self.bin_s, until - i * self.bin_s) if until > i * self.bin_s else 0.0
                for i, a in enumerate(bins)]


@dataclass
class SiteMetrics:
    """One site's measurements in one replication (`servers` gates or kiosks)."""

    servers: int
    bin_s: float
    arrivals: int = 0
    balked: int = 0
    served: list[int] = field(default_factory=list)
    served_in_window: list[int] = field(default_factory=list)
    busy_s: list[float] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    sojourns_s: float = 0.0
    rejections: Counter = field(default_factory=Counter)
    offline_fallbacks: int = 0
    holders: int = 0
    recorded: list[int] = field(default_factory=list)
    settled_online: int = 0
    settled_offline: int = 0

    def __post_init__(self) -> None:
        self.served = [0] * self.servers
        self.served_in_window = [0] * self.servers
        self.busy_s = [0.0] * self.servers
        self.recorded = [0] * self.servers
        self.queue = Tally(self.bin_s)
        self.system = Tally(self.bin_s)

    def summary(self, *, duration: float, end: float) -> dict:
        """The replication's figures for this site, JSON-ready; `duration` is the arrival window,
        `end` the time the last person left."""
        waits = sorted(self.waits)
        hours = duration / 3600
        completed = len(waits)
        utilisation = [b / end for b in self.busy_s] if end else [0.0] * self.servers
        return {
            "arrivals": self.arrivals,
            "balked": self.balked,
            "completed": completed,
            "throughput_per_hour": sum(self.served_in_window) / hours,
            "throughput_per_server_per_hour": [n / hours for n in self.served_in_window],
            "utilisation": utilisation,
            "utilisation_mean": sum(utilisation) / self.servers,
            "wait_mean_s": statistics.fmean(waits) if waits else 0.0,
            "wait_p50_s": quantile(waits, 0.50),
            "wait_p95_s": quantile(waits, 0.95),
            "wait_p99_s": quantile(waits, 0.99),
            "wait_percentiles_s": [quantile(waits, q / 100) for q in range(101)],
            "queue_mean": self.queue.area / end if end else 0.0,
            "queue_peak": self.queue.peak,
            "queue_over_day": self.queue.means(end),
            "wait_over_day": wait_over_day(self.arrived_at, self.waits, self.bin_s, end),
            "rejections": dict(sorted(self.rejections.items())),
            "offline_fallbacks": self.offline_fallbacks,
            "money": {
                "holders": self.holders,
                "recorded": sum(self.recorded),
                "settled_online": self.settled_online,
                "settled_offline": self.settled_offline,
            },
            "little": {
                "queue_area": self.queue.area,
                "waits_sum": sum(self.waits),
                "system_area": self.system.area,
                "sojourns_sum": self.sojourns_s,
            },
            "end_s": end,
        }


def quantile(ordered: list[float], q: float) -> float:
    """The `q` quantile of ascending `ordered` (linear interpolation, numpy's default); 0 if empty."""
    if not ordered:
        return 0.0
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def wait_over_day(arrived_at: list[float], waits: list[float], bin_s: float, end: float) -> list[float]:
    """The mean wait of those who arrived in each `bin_s` bin (0 where nobody arrived)."""
    bins = int(end // bin_s) + 1
    total, count = [0.0] * bins, [0] * bins
    for t, w in zip(arrived_at, waits, strict=True):
        i = int(t // bin_s)
        total[i] += w
        count[i] += 1
    return [s / n if n else 0.0 for s, n in zip(total, count, strict=True)]
