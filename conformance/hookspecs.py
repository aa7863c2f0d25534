"""Hooks a lab's conftest may implement to plug its own device adapter into the suites."""

import pytest


@pytest.hookspec(firstresult=True)
def pytest_yikatong_make_dut(config, spec: str, info: dict, profile):
    """Return the device under test for `--dut spec` (first non-None result wins), or None to pass.

    `profile` is the run's `simulator.profile.Profile` (`--profile` with `--region` layered over
    it), which a simulated device should follow; an implementation may leave it out of its
    parameters (pluggy passes only the arguments it names)."""
