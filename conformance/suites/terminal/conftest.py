"""One parameter per terminal of the DUT, the `terminal` fixture that judges applicability per
terminal (a DUT may hold several terminals of different kinds: the plugin's `requires` check sees
the union of their capabilities, this one the capabilities of the terminal under test), and the
findings every presentation's checks leave, raised once a test has judged what it was written for."""

from __future__ import annotations

import pytest

from conformance.plugin import judge_applicability, make_dut
from conformance.verdicts import not_applicable

from . import _harness as h

NO_TERMINAL = "no-terminal"


def pytest_generate_tests(metafunc) -> None:
    if "terminal_name" not in metafunc.fixturenames:
        return
    try:
        names = list(make_dut(metafunc.config).terminals)
    except Exception:  # noqa: BLE001 - the `dut` fixture makes it again and reports it: broken
        names = ["dut-unavailable"]
    metafunc.parametrize("terminal_name", names or [NO_TERMINAL], ids=str)


@pytest.fixture(scope="session")
def harness(profile) -> h.Harness:
    """The harness's side of the run's profile: its cards, the AIDs, the suite's oracle."""
    return h.Harness(profile)


@pytest.fixture
def terminal(request, dut, terminal_name):
    """The terminal under test; skips (not applicable) when it lacks a `requires` capability."""
    if terminal_name == NO_TERMINAL:
        not_applicable("the DUT plays no terminal role")
    role = dut.terminals[terminal_name]
    judge_applicability(request.node, frozenset(role.capabilities), who=f"terminal {role.name} ({role.kind})")
    return role


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """The checks every presentation gets (`_harness.show`: money, the decision record) fail the
    test after its own judgement, so a test's own clause names the defect it was written for first."""
    h.forget_findings()
    result = yield
    h.settle()
    return result
