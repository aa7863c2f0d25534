"""The function set: a certified reader library exports the interface's functions."""

from __future__ import annotations

import pytest

from conformance.verdicts import not_tested


def _exported(reader) -> frozenset[str]:
    functions = getattr(reader, "functions", None)
    if functions is None:
        not_tested(f"{reader.name} does not say which functions it exports",
                   need="an adapter that lists the library's exported symbols (the lib: adapter does)")
    return frozenset(functions)


@pytest.mark.clause("READER-FUNC-001")
def test_core_functions_are_exported(reader, api):
    core = {name for name, spec in api["functions"].items() if spec["group"] == "core"}
    missing = sorted(core - _exported(reader))
    assert not missing, (f"the library does not export {', '.join(missing)} "
                         f"({'; '.join(api['functions'][m]['signature'] for m in missing)})")


@pytest.mark.requires("hsm")
@pytest.mark.clause("READER-FUNC-002")
def test_hsm_functions_are_exported(reader, api):
    hsm = {name for name, spec in api["functions"].items() if spec["group"] == "hsm"}
    missing = sorted(hsm - _exported(reader))
    assert not missing, f"the library declares the HSM path but does not export {', '.join(missing)}"
