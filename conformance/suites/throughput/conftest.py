"""One parameter per terminal of the DUT and its `terminal` fixture, as the terminal suite has them
(a DUT may hold several terminals); the gate's limits (a terminal of a kind the throughput profile
does not judge is not applicable); its presentations, measured once per terminal for the session;
the run's root seed (`--dut-info seed=N`, default 1)."""

from __future__ import annotations

import pytest

from conformance.suites.terminal import conftest as terminal_suite
from conformance.verdicts import not_applicable

from ._limits import GateLimits, for_kind
from ._measure import Observed, measure

pytest_generate_tests = terminal_suite.pytest_generate_tests
terminal = terminal_suite.terminal
harness = terminal_suite.harness


@pytest.fixture(scope="session")
def seed(dut) -> int:
    given = dut.settings.get("seed", "1")
    try:
        return int(given)
    except ValueError:
        raise pytest.UsageError(f"--dut-info seed= takes an integer root seed, got {given!r}") from None


@pytest.fixture(scope="session")
def _limits(profile) -> dict[str, GateLimits | None]:
    """The limits of each terminal kind met so far (its scenarios resolved once per run)."""
    return {}


@pytest.fixture
def gate(terminal, profile, _limits) -> GateLimits:
    if terminal.kind not in _limits:
        _limits[terminal.kind] = for_kind(terminal.kind, profile)
    limits = _limits[terminal.kind]
    if limits is None:
        not_applicable(f"{terminal.name} is a {terminal.kind} terminal; the throughput clauses judge the gates of "
                       f"{', '.join(profile['throughput']['sites'])} (throughput.yaml sites)")
    return limits


@pytest.fixture(scope="session")
def _measured() -> dict[str, list[Observed]]:
    return {}


@pytest.fixture
def observed(dut, terminal, gate, harness, _measured) -> list[Observed]:
    """The gate's presentations of the seeded cards (every persona of its site), measured once."""
    if terminal.name not in _measured:
        _measured[terminal.name] = measure(terminal, gate.site.personas.names, harness=harness,
                                           cards=gate.throughput["cards_per_persona"], in_process=dut.simulated)
    return _measured[terminal.name]


@pytest.fixture
def charts(request) -> bool:
    """Whether the site model's charts are drawn: only when an Allure report is being recorded."""
    return request.config.pluginmanager.hasplugin("allure_listener")
