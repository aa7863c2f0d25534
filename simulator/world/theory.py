"""The analytic queueing results the world is validated against (tests/test_world_theory.py).

Erlang C: the mean wait in an M/M/c queue; Pollaczek-Khinchine: the mean wait in an M/G/1 queue,
which needs only the service time's first two moments.
"""

from __future__ import annotations


def erlang_c(servers: int, offered: float) -> float:
    """The probability that an arrival waits in M/M/c with `offered` = λ/μ Erlangs (< servers)."""
    if not 0 < offered < servers:
        raise ValueError(f"offered load {offered} must be between 0 and {servers} servers")
    term, total = 1.0, 1.0  # a^k/k! built up term by term
    for k in range(1, servers):
        term *= offered / k
        total += term
    top = term * offered / servers * servers / (servers - offered)
    return top / (total + top)


def mmc_mean_wait(arrival_rate: float, service_mean: float, servers: int) -> float:
    """Mean time in queue of M/M/c: C(c, a) / (c μ - λ)."""
    offered = arrival_rate * service_mean
    return erlang_c(servers, offered) / (servers / service_mean - arrival_rate)


def mg1_mean_wait(arrival_rate: float, service_mean: float, service_second_moment: float) -> float:
    """Mean time in queue of M/G/1 (Pollaczek-Khinchine): λ E[S²] / (2 (1 - ρ))."""
    rho = arrival_rate * service_mean
    if not 0 < rho < 1:
        raise ValueError(f"utilisation {rho} must be between 0 and 1")
    return arrival_rate * service_second_moment / (2 * (1 - rho))
