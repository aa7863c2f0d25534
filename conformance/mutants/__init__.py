"""Seeded-defect devices: each suite must fail every one of them (the suites' proof of power).

Every module here exports `MUTANTS`, a list of `Mutant`; `all_mutants()` gathers them by name.
A mutant is one reference device with one defect, selected with `--dut sim:mutant=NAME`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mutant:
    name: str
    role: str  # "card", "terminal", "reader" or "department"
    defect: str  # what is wrong, in one sentence
    build: Callable[..., Any]  # role-specific factory (see conformance.adapters.sim)
    kind: str = ""  # terminal kind (bus, gate_exit, ...) or department kind (library, hospital, subsidy)
    #: the suite that must fail it, when not its role's own (a terminal too slow for its station's
    #: gate array is the throughput suite's to catch, not the terminal suite's)
    suite: str = ""
    #: the region whose rule it breaks (regional.py): it passes the national suites, and the suites
    #: run for that region (`--region`) must fail it on the region's clause
    region: str = ""

    def __post_init__(self) -> None:
        if self.role not in ("card", "terminal", "reader", "department"):
            raise ValueError(f"mutant {self.name}: role is card, terminal, reader or department, got {self.role!r}")


def all_mutants() -> dict[str, Mutant]:
    found: dict[str, Mutant] = {}
    for info in pkgutil.iter_modules(__path__):
        for mutant in importlib.import_module(f"{__name__}.{info.name}").MUTANTS:
            if mutant.name in found:
                raise ValueError(f"two mutants are named {mutant.name!r}")
            found[mutant.name] = mutant
    return found
