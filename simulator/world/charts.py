"""The charts of a simulation run as PNG files (matplotlib, Agg: no display needed): queue length
and wait over the day, throughput per gate, and the wait distribution, each site a line or a bar
group, averaged over the replications.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def _mean_series(results: list[dict], site: str, key: str) -> list[float]:
    series = [r["sites"][site][key] for r in results]
    length = max(len(s) for s in series)
    padded = [s + [0.0] * (length - len(s)) for s in series]
    return [sum(col) / len(padded) for col in zip(*padded, strict=True)]


def _over_day(results: list[dict], key: str, ylabel: str, title: str, bin_s: float, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(8, 4))
    for site in results[0]["sites"]:
        series = _mean_series(results, site, key)
        axes.step([i * bin_s / 3600 for i in range(len(series))], series, where="post", label=site)
    axes.set(xlabel="hours from the start", ylabel=ylabel, title=title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _throughput(results: list[dict], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(8, 4))
    x = 0
    for site in results[0]["sites"]:
        per_server = [sum(col) / len(results) for col in
                      zip(*(r["sites"][site]["throughput_per_server_per_hour"] for r in results), strict=True)]
        axes.bar(range(x, x + len(per_server)), per_server, label=site)
        x += len(per_server) + 1
    axes.set(xlabel="server (gate, kiosk) by site", ylabel="persons per hour", title="Throughput per server")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _wait_distribution(results: list[dict], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(8, 4))
    for site in results[0]["sites"]:
        percentiles = _mean_series(results, site, "wait_percentiles_s")
        axes.plot(percentiles, range(101), label=site)
    axes.set(xlabel="wait (s)", ylabel="percent of people waiting at most this long", title="Wait distribution")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write(results: list[dict], *, bin_s: float, out: Path) -> list[Path]:
    """All four charts of `results` (replications of one scenario) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        _over_day(results, "queue_over_day", "people waiting (mean)", "Queue length over the day", bin_s,
                  out / "queue_over_day.png"),
        _over_day(results, "wait_over_day", "mean wait (s)", "Wait over the day, by arrival time", bin_s,
                  out / "wait_over_day.png"),
        _throughput(results, out / "throughput_per_server.png"),
        _wait_distribution(results, out / "wait_distribution.png"),
    ]
