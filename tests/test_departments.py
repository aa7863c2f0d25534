"""The reference departments: the document they publish is the profile's, their callback endpoint
refuses what is not the platform's (instantly, on a test clock), and `ykt certify --suite
integration` certifies each of them, built in (`sim:department=KIND`) and served as its own
process by `ykt department serve` with a capability declaration; a declaration whose purpose is
not the department's is refused before anything runs."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from conformance import report
from conformance.ics import DeclarationError, load_declaration
from simulator.backend.loopback import free_port, wait_until_serving
from simulator.backend.platform.signing import callback_headers
from simulator.clock import Clock
from simulator.departments import DEPARTMENTS, CallbackRefused, Library, PlatformLink
from simulator.departments.api import API_PATH, make_app
from simulator.ecode import epoch_seconds

ROOT = Path(__file__).resolve().parents[1]
SECRET = b"\x22" * 32


def ykt(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("ykt")), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


# -- the callback endpoint on a test clock -------------------------------------------------------


@pytest.fixture
def library():
    clock = Clock()
    return Library(clock=clock, rng=random.Random(2), link=PlatformLink("http://platform", "lib", SECRET)), clock


def _event(event_id: str, status: str, at: str) -> bytes:
    return json.dumps({"event_id": event_id, "card_number": "D00000001", "action": "x", "status": status,
                       "at": at}).encode()


def test_a_callback_is_applied_once_and_in_the_order_of_its_events(library):
    department, clock = library
    now = epoch_seconds(clock())
    lost, unreported = _event("evt-1", "lost", "2026-01-01T08:00:00"), _event("evt-2", "normal", "2026-01-01T09:00:00")
    assert department.receive(callback_headers(secret=SECRET, event_id="evt-2", timestamp=now, body=unreported),
                              unreported)
    assert not department.receive(callback_headers(secret=SECRET, event_id="evt-1", timestamp=now, body=lost), lost)
    assert not department.receive(callback_headers(secret=SECRET, event_id="evt-2", timestamp=now + 5,
                                                   body=unreported), unreported)
    assert department.state()["cards"]["D00000001"]["status"] == "normal"
    assert department.state()["applied"] == ["evt-2"]


@pytest.mark.parametrize(("change", "code"), [
    ("unsigned", "unsigned"), ("another key", "bad_signature"), ("stale", "stale_timestamp"),
    ("ahead", "stale_timestamp"), ("not a number", "stale_timestamp")])
def test_a_callback_not_the_platforms_is_refused_with_its_reason(library, change, code):
    department, clock = library
    body, now = _event("evt-9", "lost", "2026-01-01T08:00:00"), epoch_seconds(clock())
    tolerance = department.platform_profile["callbacks"]["tolerance_seconds"]
    timestamp = {"stale": now - tolerance - 1, "ahead": now + tolerance + 1}.get(change, now)
    headers = callback_headers(secret=bytes(32) if change == "another key" else SECRET, event_id="evt-9",
                               timestamp=timestamp, body=body)
    if change == "unsigned":
        del headers["webhook-signature"]
    if change == "not a number":
        headers["webhook-timestamp"] = "1e9"
    with pytest.raises(CallbackRefused) as refused:
        department.receive(headers, body)
    assert refused.value.code == code
    assert department.state() == {"cards": {}, "applied": [], "loans": {}}


# -- certification -----------------------------------------------------------------------------


def _certify(out: Path, *args: str) -> tuple[int, dict | None, str]:
    done = ykt("certify", "--suite", "integration", "--no-html", "--out", str(out), *args)
    path = out / "certificate.json"
    certificate = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return done.returncode, certificate, done.stdout + done.stderr


def _declaration(tmp_path: Path, purpose: str) -> Path:
    path = tmp_path / f"{purpose}.yaml"
    path.write_text(yaml.safe_dump({
        "format": "yikatong.ics/1", "applicant": "测试医院信息科",
        "product": {"kind": "department", "vendor": "ACME HIS", "model": "HIS-1", "purpose": purpose},
        "capabilities": ["callbacks", "card_status", "identity", "data_return"]}, allow_unicode=True),
        encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def served_department():
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).with_name("ykt")), "department", "serve", "--kind",
                                SERVED, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/info", process=process)
    except RuntimeError:
        process.kill()
        raise
    yield url
    process.kill()
    process.wait(10)


#: the reference department certified as a served process; the others are certified built in
SERVED = "hospital"


def test_the_other_reference_departments_are_certified_built_in(tmp_path):
    kinds = sorted(set(DEPARTMENTS) - {SERVED})
    with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        runs = {kind: pool.submit(_certify, tmp_path / kind, "--dut", f"sim:department={kind}") for kind in kinds}
        for kind, run in runs.items():
            code, certificate, output = run.result()
            assert code == report.EXIT_CERTIFIED, f"{kind}:\n{output[-3000:]}"
            assert certificate["outcome"]["certified"], certificate["outcome"]
            judged = {c["id"] for c in certificate["clauses"] if c["verdict"] == "pass"}
            assert {c for c in judged if c.startswith("DEPT-")} == {
                c["id"] for c in certificate["clauses"] if c["id"].startswith("DEPT-")}, kind


def test_a_served_department_is_certified_with_its_declaration(tmp_path, served_department):
    code, certificate, output = _certify(tmp_path / "run", "--dut", served_department,
                                         "--ics", str(_declaration(tmp_path, SERVED)))
    assert code == report.EXIT_CERTIFIED, output[-3000:]
    assert certificate["dut"]["declaration"]["purpose"] == SERVED
    assert {c["verdict"] for c in certificate["clauses"] if c["id"].startswith("DEPT-")} == {"pass"}


def test_a_declaration_of_another_purpose_is_refused_before_running(tmp_path, served_department):
    code, certificate, output = _certify(tmp_path / "run", "--dut", served_department,
                                         "--ics", str(_declaration(tmp_path, "library")))
    assert code == report.EXIT_USAGE, output[-3000:]
    assert certificate is None and "declares the purpose library" in output


@pytest.mark.parametrize(("product", "refusal"), [
    ({"kind": "department"}, "must declare its purpose"),
    ({"kind": "department", "purpose": "operator"}, "must declare its purpose"),
    ({"kind": "bus", "purpose": "transit"}, "only a department declares a purpose")])
def test_a_department_declares_one_purpose_and_only_a_department_does(tmp_path, product, refusal):
    capabilities = ["callbacks", "card_status"] if product["kind"] == "department" else \
        ["purse", "blacklist", "validity", "recovery", "timing", "minimisation"]
    path = tmp_path / "ics.yaml"
    path.write_text(yaml.safe_dump({"format": "yikatong.ics/1", "product": {**product, "vendor": "V", "model": "M"},
                                    "capabilities": capabilities}), encoding="utf-8")
    with pytest.raises(DeclarationError, match=refusal):
        load_declaration(path)


# -- schemathesis: no 5xx, every bad input a JSON 4xx -------------------------------------------

FUZZED = schemathesis.openapi.from_dict(
    yaml.safe_load(API_PATH.read_text(encoding="utf-8")),
    config=schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [400, 422]}}}))


@pytest.fixture(scope="module", params=sorted(DEPARTMENTS))
def fuzzed_department(request):
    """Each kind of department pointed at a platform that is not there (connection refused at once),
    never sleeping."""
    department = DEPARTMENTS[request.param](clock=Clock(), rng=random.Random(3), sleep=lambda seconds: None,
                                            link=PlatformLink(f"http://127.0.0.1:{free_port()}", "lib", SECRET))
    with TestClient(make_app(department), raise_server_exceptions=False) as client:
        yield client


@FUZZED.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_every_request_by_its_document(case, fuzzed_department):
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), str | bytes):
        kwargs["content"] = kwargs.pop("data")
    response = fuzzed_department.request(kwargs.pop("method"), kwargs.pop("url"), **kwargs)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "detail"} and response.json()["detail"], response.text
    case.validate_response(response)


def test_a_platform_url_no_client_can_use_is_refused_at_the_door():
    """"http://[::1" is printable ASCII after the scheme, but httpx cannot parse it: were it taken, the
    next flow would fail inside the client (a 500), so the door refuses it (422, naming the field)."""
    library = Library(clock=Clock(), rng=random.Random(4))
    with TestClient(make_app(library)) as client:
        answer = client.put("/control/platform", json={"platform_url": "http://[::1", "department_id": "lib",
                                                       "secret": SECRET.hex()})
    assert answer.status_code == 422 and "platform_url" in answer.json()["detail"], answer.text
    assert library.link is None
