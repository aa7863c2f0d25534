"""What one replication measures at one site, gathered as the world runs.

Counts (arrivals, balks, completions per server, rejections by reason, offline fallbacks),
times (each person's arrival and wait, each server's busy time), the number waiting and the
number in the system integrated over time (`Occupancy`: the time-average queue length and Little's
law's L come from it, independently of the waits), and money as both sides see it: what moved on the holders' cards
or accounts, what the servers recorded, and how it settled (online or in the offline upload).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field


class Occupancy:
    """The number waiting and the number in the system, counts that change at instants: their
    integrals over time (the time-average queue length and Little's law's L), the queue's also per
    `bin_s` bin of the day for the chart, and its peak.

    One `change` moves either count or both (an arrival joins both at once), and brings up to date
    only the integral whose count moved: each keeps its own last change, so each area adds up the
    same products as a counter of its own would. The bins cost nothing between bin edges: the
    queue's integral is noted at each edge it passes, a bin being the difference of two notes.
    """

    def __init__(self, bin_s: float) -> None:
        self.bin_s = bin_s
        self.waiting, self.peak, self.waiting_since, self.queue_area = 0, 0, 0.0, 0.0
        self.inside, self.inside_since, self.system_area = 0, 0.0, 0.0
        self.at_edges: list[float] = []  # the queue's integral from 0 to each bin edge passed
        self.edge = bin_s  # the next bin edge

    def change(self, now: float, waiting: int, inside: int) -> None:
        """The counts move by `waiting` and `inside` at `now` (never earlier than their last change)."""
        if waiting:
            if now >= self.edge:
                self.edge = self._note_edges(self.at_edges, self.edge, now)
            n = self.waiting
            if n:
                self.queue_area += n * (now - self.waiting_since)
            self.waiting_since = now
            n += waiting
            self.waiting = n
            if n > self.peak:
                self.peak = n
        if inside:
            n = self.inside
            if n:
                self.system_area += n * (now - self.inside_since)
            self.inside_since = now
            self.inside = n + inside

    def _queue_area_at(self, t: float) -> float:
        """The queue's integral from 0 to `t`, no change since its last."""
        return self.queue_area + self.waiting * (t - self.waiting_since)

    def _note_edges(self, notes: list[float], edge: float, until: float) -> float:
        """Append the queue's integral at each bin edge from `edge` up to `until` to `notes`;
        the next edge after them."""
        while until >= edge:
            notes.append(self._queue_area_at(edge))
            edge += self.bin_s
        return edge

    def means(self, until: float) -> list[float]:
        """The time-average queue in each bin up to `until` (the last bin may be partial; `until`
        no earlier than the last change)."""
        notes = list(self.at_edges)
        self._note_edges(notes, self.edge, until)
        notes.append(self._queue_area_at(until))
        areas = [b - a for a, b in zip([0.0, *notes], notes, strict=False)]
        return [a / min(self.bin_s, until - i * self.bin_s) if until > i * self.bin_s else 0.0
                for i, a in enumerate(areas)]


@dataclass
class SiteMetrics:
    """One site's measurements in one replication (`servers` gates or kiosks)."""

    servers: int
    bin_s: float
    arrivals: int = 0
    balked: int = 0
    served_in_window: list[int] = field(default_factory=list)
    busy_s: list[float] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    sojourns_s: float = 0.0
    rejections: Counter = field(default_factory=Counter)
    offline_fallbacks: int = 0
    holders: int = 0
    recorded: int = 0
    settled_online: int = 0
    settled_offline: int = 0

    def __post_init__(self) -> None:
        self.served_in_window = [0] * self.servers
        self.busy_s = [0.0] * self.servers
        self.occupancy = Occupancy(self.bin_s)

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
            "queue_mean": self.occupancy.queue_area / end if end else 0.0,
            "queue_peak": self.occupancy.peak,
            "queue_over_day": self.occupancy.means(end),
            "wait_over_day": wait_over_day(self.arrived_at, self.waits, self.bin_s, end),
            "rejections": dict(sorted(self.rejections.items())),
            "offline_fallbacks": self.offline_fallbacks,
            "money": {
                "holders": self.holders,
                "recorded": self.recorded,
                "settled_online": self.settled_online,
                "settled_offline": self.settled_offline,
            },
            "little": {
                "queue_area": self.occupancy.queue_area,
                "waits_sum": sum(self.waits),
                "system_area": self.occupancy.system_area,
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
