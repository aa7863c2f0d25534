"""The yikatong pytest plugin (registered through the `pytest11` entry point).

Importing it must stay cheap and must not import the simulator: an integrator's own pytest
loads it for every run. The certification options and fixtures arrive with the conformance
suites; for now it registers the marker that names the clause a test checks.
"""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "clause(id): the clause of the unified interface standard this test checks"
    )
