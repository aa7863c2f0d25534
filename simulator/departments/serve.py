"""Serving a reference department as its own process (`ykt department serve`): the wall clock and
real sleeping at the edge, a generator from the root seed for nonces and event ids."""

from __future__ import annotations

import uvicorn
import yaml

from simulator import seeds
from simulator.backend.platform.serve import wall_clock
from simulator.profile import Profile, national

from .api import make_app
from .department import Department, PlatformLink
from .kinds import Library, department_class


def make_department(kind: str, *, seed: int, profile: Profile, link: PlatformLink | None = None,
                    cls: type[Department] | None = None) -> Department:
    """A department of `kind` (or the class `cls`, e.g. a seeded-defect one) on the wall clock,
    keeping the rules of `profile`."""
    chosen = cls or department_class(kind)
    return chosen(clock=wall_clock, rng=seeds.generator(seed, "department", chosen.kind), link=link, profile=profile)


def serve(department: Department, *, host: str, port: int) -> None:
    """Serve `department` until interrupted."""
    uvicorn.run(make_app(department), host=host, port=port, log_level="warning")


def openapi_yaml() -> str:
    """The document a department publishes, as YAML (what profiles/national/department_api.yaml holds)."""
    app = make_app(make_department(Library.kind, seed=0, profile=national()))
    return yaml.safe_dump(app.openapi(), allow_unicode=True, sort_keys=False, width=120)
