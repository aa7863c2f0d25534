"""The department under test, the platform the suite plays for it (one per session, in recording
mode), and the session tying them together; injections never outlive the test that made them.

    --dut-info platform_host=0.0.0.0   where the suite's platform listens (default 127.0.0.1: the
                                       department runs on this machine)
    --dut-info platform_advertise=H    the host name the department reaches the platform by (needed
                                       with platform_host=0.0.0.0)
    --dut-info seed=N                  the root seed of the holders and ids (default: a fresh one,
                                       printed in the header so a run can be repeated)
"""

from __future__ import annotations

import secrets

import pytest

from conformance.verdicts import not_applicable

from ._harness import Integration
from ._platform import RecordingPlatform

SEED_KEY = pytest.StashKey[int]()


def _seed(config) -> int:
    from conformance.plugin import dut_info

    given = dut_info(config).get("seed")
    if given is None:
        return config.stash.setdefault(SEED_KEY, secrets.randbits(32))
    if not given.isdigit():
        raise pytest.UsageError(f"--dut-info seed takes a number, got {given!r}")
    return int(given)


def pytest_report_header(config) -> str:
    return f"integration suite seed: {_seed(config)} (repeat with --dut-info seed={_seed(config)})"


@pytest.fixture(scope="session")
def department(dut):
    if dut.department is None:
        not_applicable("the DUT plays no department role")
    return dut.department


@pytest.fixture(scope="session")
def recording_platform(request, department, profile):
    from conformance.plugin import dut_info

    info = dut_info(request.config)
    host, advertise = info.get("platform_host", "127.0.0.1"), info.get("platform_advertise")
    if host in ("0.0.0.0", "::") and not advertise:
        raise pytest.UsageError("--dut-info platform_host=0.0.0.0 needs platform_advertise=<the name the department "
                                "reaches this machine by>")
    with RecordingPlatform(profile=profile, host=host, advertise=advertise) as platform:
        yield platform


@pytest.fixture(scope="session")
def integration_session(request, department, recording_platform, profile) -> Integration:
    return Integration(department, recording_platform, seed=_seed(request.config), profile=profile)


@pytest.fixture
def session(integration_session):
    """The session, with no injection left from another test."""
    integration_session.platform.clear_injections()
    yield integration_session
    integration_session.platform.clear_injections()
