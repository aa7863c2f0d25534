"""The charts of a simulation run as PNG files (matplotlib, Agg: no display needed): queue length
and wait over the day, throughput per gate, and the wait distribution, each site a line or a bar
group, averaged over the replications.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def _mean_series(results: list[dict], site: str, key: str) -> list[float]:
    series = [r["sites"][site][key] for r in results]
    length = max(len(s) for s in series)
    padded = [s + [0.0] * (length - len(s)) for s in series]
    return [sum(col) / len(padded) for col in zip(*padded, strict=True)]


def _chart(path: Path, draw: Callable[[plt.Axes], None], **labels: str) -> Path:
    """One PNG: `draw` puts each site on the axes, `labels` name them (xlabel, ylabel, title)."""
    figure, axes = plt.subplots(figsize=(8, 4))
    draw(axes)
    axes.set(**labels)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _over_day(results: list[dict], key: str, bin_s: float) -> Callable[[plt.Axes], None]:
    def draw(axes: plt.Axes) -> None:
        for site in results[0]["sites"]:
            series = _mean_series(results, site, key)
            axes.step([i * bin_s / 3600 for i in range(len(series))], series, where="post", label=site)

    return draw


def _throughput(results: list[dict]) -> Callable[[plt.Axes], None]:
    def draw(axes: plt.Axes) -> None:
        x = 0
        for site in results[0]["sites"]:
            per_server = _mean_series(results, site, "throughput_per_server_per_hour")
            axes.bar(range(x, x + len(per_server)), per_server, label=site)
            x += len(per_server) + 1

    return draw


def _wait_distribution(results: list[dict]) -> Callable[[plt.Axes], None]:
    def draw(axes: plt.Axes) -> None:
        for site in results[0]["sites"]:
            axes.plot(_mean_series(results, site, "wait_percentiles_s"), range(101), label=site)

    return draw


#: chart name -> (what it draws from the results, its labels)
CHARTS: dict[str, tuple[Callable[[list[dict], float], Callable[[plt.Axes], None]], dict[str, str]]] = {
    "queue_over_day": (lambda results, bin_s: _over_day(results, "queue_over_day", bin_s),
                       {"xlabel": "hours from the start", "ylabel": "people waiting (mean)",
                        "title": "Queue length over the day"}),
    "wait_over_day": (lambda results, bin_s: _over_day(results, "wait_over_day", bin_s),
                      {"xlabel": "hours from the start", "ylabel": "mean wait (s)",
                       "title": "Wait over the day, by arrival time"}),
    "throughput_per_server": (lambda results, bin_s: _throughput(results),
                              {"xlabel": "server (gate, kiosk) by site", "ylabel": "persons per hour",
                               "title": "Throughput per server"}),
    "wait_distribution": (lambda results, bin_s: _wait_distribution(results),
                          {"xlabel": "wait (s)", "ylabel": "percent of people waiting at most this long",
                           "title": "Wait distribution"}),
}


def write(results: list[dict], *, bin_s: float, out: Path, names: Iterable[str] = tuple(CHARTS)) -> list[Path]:
    """The charts `names` (all four by default) of `results` (replications of one scenario) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    return [_chart(out / f"{name}.png", CHARTS[name][0](results, bin_s), **CHARTS[name][1]) for name in names]
