"""The platform under a fault plan (`simulator.backend.service_faults`, `ykt platform serve
--faults`): a refusal is a JSON 503 with Retry-After that never reaches the platform, and a crash
at one of its points SIGKILLs a served platform right after the change was committed, which a
restart then still holds."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from simulator.backend.loopback import free_port, wait_until_serving
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app
from simulator.backend.platform.client import DepartmentClient
from simulator.backend.platform.serve import wall_clock, with_faults
from simulator.backend.service_faults import ServiceFaults, ServicePlan
from simulator.clock import Clock

SECRET = b"\x33" * 32
ROOT = Path(__file__).resolve().parents[1]
CARD = {"card_number": "K00000009", "citizen_id": "410203198506150131", "name": "测试丙", "birth_date": "1985-06-15",
        "region": "410200"}


class Elapsed:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(plan: dict, elapsed: Elapsed):
    clock = Clock()
    platform = Platform(open_store(":memory:"), clock=clock, seed=4, operator_secret=SECRET)
    faults = ServiceFaults(ServicePlan.from_dict(plan), service="platform", seed=1, elapsed=elapsed)
    http = TestClient(with_faults(make_app(platform), faults))
    return platform, DepartmentClient(http, department="operator", secret=SECRET, clock=clock, rng=random.Random(5))


def test_an_error_rate_of_one_answers_every_request_503_without_reaching_the_platform():
    platform, client = _client({"error_rate": 1.0}, Elapsed())
    answer = client.request("POST", "/cards", CARD)
    assert answer.status_code == 503 and int(answer.headers["retry-after"]) >= 1
    assert answer.json()["error"] == "service_unavailable" and "injected error" in answer.json()["detail"]
    assert platform.store.query("SELECT count(*) AS n FROM cards")[0]["n"] == 0


def test_an_outage_answers_503_until_it_ends_with_the_time_left():
    elapsed = Elapsed()
    _, client = _client({"outages": [[10, 25]]}, elapsed)
    assert client.request("GET", "/usage-summary").status_code == 200
    elapsed.now = 12.5
    inside = client.request("POST", "/cards", CARD)
    assert inside.status_code == 503 and inside.headers["retry-after"] in ("12", "13"), inside.headers
    elapsed.now = 25.0
    assert client.request("POST", "/cards", CARD).status_code == 201


def _serve(tmp_path: Path, port: int, *extra: str) -> subprocess.Popen:
    process = subprocess.Popen([str(Path(sys.executable).with_name("ykt")), "platform", "serve", "--port", str(port),
                                "--db", str(tmp_path / "platform.sqlite"), "--operator-secret", SECRET.hex(), *extra],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/openapi.json", process=process)
    except RuntimeError:
        process.kill()
        raise
    return process


def _operator(port: int, http: httpx.Client, seed: int) -> DepartmentClient:
    return DepartmentClient(http, department="operator", secret=SECRET, clock=wall_clock, rng=random.Random(seed))


def test_a_crash_point_kills_the_served_platform_after_the_commit(tmp_path):
    plan = tmp_path / "crash.yaml"
    plan.write_text(yaml.safe_dump({"crash": {"platform.lifecycle.committed": 1.0}}), encoding="utf-8")
    port = free_port()
    process = _serve(tmp_path, port, "--faults", str(plan))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            operator = _operator(port, http, 6)
            assert operator.request("POST", "/cards", CARD).status_code == 201
            with pytest.raises(httpx.HTTPError):  # the answer never comes: the process died at the point
                operator.request("POST", f"/cards/{CARD['card_number']}/actions", {"action": "report_lost"})
        assert process.wait(10) == -signal.SIGKILL
        assert "SIGKILL at platform.lifecycle.committed" in process.stderr.read().decode()
    finally:
        process.kill()
        process.wait(10)
    process = _serve(tmp_path, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            card = _operator(port, http, 7).request("GET", f"/cards/{CARD['card_number']}").json()
        assert card["status"] == "lost", "the change committed before the crash is lost after the restart"
    finally:
        process.kill()
        process.wait(10)


def test_a_plan_naming_a_point_the_registry_lacks_is_refused(tmp_path):
    plan = tmp_path / "bad.yaml"
    plan.write_text(yaml.safe_dump({"crash": {"platform.nowhere": 1.0}}), encoding="utf-8")
    done = subprocess.run([str(Path(sys.executable).with_name("ykt")), "platform", "serve", "--faults", str(plan),
                           "--db", str(tmp_path / "p.sqlite")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "platform.nowhere" in done.stderr, done.stderr
