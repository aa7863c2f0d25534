"""The platform's fault plan: its errors and outages are answered as the clients expect them (503,
JSON, Retry-After) without reaching the platform, its latency is drawn from its seed, a plan
naming what does not exist is refused, and its crash point ends a served platform right after the
change was committed, which a restart then still holds."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from simulator.backend.background import wait_until_serving
from simulator.backend.fault_plan import FaultPlanError, FaultyService, ServiceFaultPlan
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app
from simulator.backend.platform.client import DepartmentClient
from simulator.backend.platform.serve import CRASH_EXIT, wall_clock
from simulator.clock import Clock
from simulator.profile import ProfileError

SECRET = b"\x33" * 32
ROOT = Path(__file__).resolve().parents[1]
CARD = {"card_number": "K00000009", "citizen_id": "410203198506150131", "name": "测试丙", "birth_date": "1985-06-15",
        "region": "410200"}


class Elapsed:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(plan: ServiceFaultPlan, elapsed: Elapsed, slept: list[float] | None = None):
    clock = Clock()
    platform = Platform(open_store(":memory:"), clock=clock, seed=4, operator_secret=SECRET)

    async def sleep(seconds: float) -> None:
        (slept if slept is not None else []).append(seconds)

    http = TestClient(FaultyService(make_app(platform), plan, elapsed=elapsed, sleep=sleep))
    return platform, DepartmentClient(http, department="operator", secret=SECRET, clock=clock, rng=random.Random(5))


def test_an_error_rate_of_one_answers_every_request_503_without_reaching_the_platform():
    platform, client = _client(ServiceFaultPlan(error_rate=1.0, retry_after_seconds=7), Elapsed())
    answer = client.request("POST", "/cards", CARD)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "7"
    assert answer.json()["error"] == "service_unavailable" and "error rate" in answer.json()["detail"]
    assert platform.store.query("SELECT count(*) AS n FROM cards")[0]["n"] == 0


def test_an_outage_answers_503_until_it_ends_with_the_time_left():
    elapsed = Elapsed()
    platform, client = _client(ServiceFaultPlan(outages=((10.0, 25.0),)), elapsed)
    assert client.request("GET", "/usage-summary").status_code == 200
    elapsed.now = 12.5
    inside = client.request("POST", "/cards", CARD)
    assert inside.status_code == 503 and inside.headers["retry-after"] == "13", inside.headers
    elapsed.now = 25.0
    assert client.request("POST", "/cards", CARD).status_code == 201


def test_latency_is_drawn_from_the_plan_and_its_seed():
    plan = ServiceFaultPlan(seed=9, latency={"distribution": "uniform", "low_ms": 5, "high_ms": 50})
    draws = []
    for _ in range(2):
        slept: list[float] = []
        _, client = _client(plan, Elapsed(), slept)
        for _ in range(20):
            client.request("GET", "/usage-summary")
        draws.append(slept)
    assert draws[0] == draws[1] and len(set(draws[0])) == 20
    assert all(0.005 <= s <= 0.05 for s in draws[0])


@pytest.mark.parametrize(("document", "refusal", "error"), [
    ({"crash": {"point": "platform.nowhere"}}, "no fault point 'platform.nowhere'", FaultPlanError),
    ({"outages": [{"from_s": 5, "to_s": 5}]}, "ends before it starts", FaultPlanError),
    ({"error_rate": 1.5}, "at error_rate", ProfileError),
    ({"latency": {"distribution": "uniform", "low_ms": 1}}, "high_ms", ProfileError)])
def test_a_plan_naming_what_does_not_exist_is_refused(document, refusal, error):
    with pytest.raises(error, match=refusal):
        ServiceFaultPlan.from_document(document, where="plan.yaml")


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_crash_point_ends_the_served_platform_after_the_commit(tmp_path):
    plan = tmp_path / "crash.yaml"
    plan.write_text(yaml.safe_dump({"crash": {"point": "platform.lifecycle.committed", "hit": 0}}), encoding="utf-8")
    port = _free_port()
    process = _serve(tmp_path, port, "--faults", str(plan))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            operator = DepartmentClient(http, department="operator", secret=SECRET, clock=wall_clock,
                                        rng=random.Random(6))
            assert operator.request("POST", "/cards", CARD).status_code == 201
            with pytest.raises(httpx.HTTPError):  # the answer never comes: the process died at the point
                operator.request("POST", f"/cards/{CARD['card_number']}/actions", {"action": "report_lost"})
        assert process.wait(10) == CRASH_EXIT
        assert "crash at platform.lifecycle.committed" in process.stderr.read().decode()
    finally:
        process.kill()
        process.wait(10)
    process = _serve(tmp_path, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            operator = DepartmentClient(http, department="operator", secret=SECRET, clock=wall_clock,
                                        rng=random.Random(7))
            card = operator.request("GET", f"/cards/{CARD['card_number']}").json()
        assert card["status"] == "lost", "the change committed before the crash is lost after the restart"
    finally:
        process.kill()
        process.wait(10)
