"""Hooks a lab's conftest may implement to plug its own device adapter into the suites."""

import pytest


@pytest.hookspec(firstresult=True)
def pytest_yikatong_make_dut(config, spec: str, info: dict):
    """Return the device under test for `--dut spec` (first non-None result wins), or None to pass."""
