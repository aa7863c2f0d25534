"""The bank served over HTTP (simulator/backend/bank_service.py, `ykt bank serve`).

- The contract: the /openapi.json the running app publishes equals profiles/national/bank_api.yaml
  in everything but prose (tests/contracts.py says how strictly; tests/test_service_contracts.py
  checks it for every service); here, that the comparison can fail.
- schemathesis generates valid and invalid requests for every operation from the profile file
  (not from the app) and runs all its checks: no 5xx, documented status codes and bodies that
  fit their schema, malformed input refused with 4xx (404 for a path that no longer matches).
- Then the edges the fuzz is weak at: 409 with a JSON body, 413, malformed JSON, the fault
  plan's 503s with Retry-After, and a POS authorising through `BankClient` over loopback.
"""

from __future__ import annotations

import contextlib
import copy
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import schemathesis
import yaml
from contracts import differences_but_prose, judge_fuzzed
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from signed_requests import genuine

from simulator.backend import ports
from simulator.backend.bank_client import BankClient
from simulator.backend.bank_service import MAX_BODY, make_app
from simulator.backend.ledger import Ledger
from simulator.backend.loopback import serving
from simulator.backend.service_faults import PlanError, ServiceFaults, ServicePlan
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF
from simulator.devices.pos import QuickPassPOS
from simulator.profile import PROFILE_ROOT
from simulator.transport import InProcessTransport

DOCUMENT = yaml.safe_load((Path(PROFILE_ROOT) / "national" / "bank_api.yaml").read_text(encoding="utf-8"))
PAN = "6299990000000017"
CHECKS = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [404, 413, 422]}}})
bank_api = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CHECKS)
FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _app():
    ledger = Ledger()
    ledger.open_account(ports.AccountOpening(PAN, 1, 100_000))
    return make_app(ledger)


def test_the_profile_is_caught_when_it_drifts():
    """The comparison of tests/test_service_contracts.py can fail: a changed bound, a missing
    operation, a new prose-free key in the document are differences; prose is not."""
    assert differences_but_prose(_app().openapi(), DOCUMENT) == []
    drifted = copy.deepcopy(DOCUMENT)
    drifted["components"]["schemas"]["Item"]["properties"]["amount"]["maximum"] += 1
    drifted["components"]["schemas"]["Item"]["description"] = "reworded"
    del drifted["paths"]["/reversals"]
    assert differences_but_prose(_app().openapi(), drifted) == ["POST /reversals served, not documented",
                                                                "schema Item differs or is missing"]


@pytest.fixture(scope="module")
def fuzzed():
    return _app()


@bank_api.parametrize()
@FUZZ
def test_every_bank_operation_answers_every_request_by_the_document(case, fuzzed):
    judge_fuzzed(case, fuzzed)


# -- the edges --------------------------------------------------------------------------------
@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(_app()) as client:
        yield client


def _error(answer, status: int, code: str, *named: str) -> None:
    body = answer.json()
    assert (answer.status_code, set(body), body["error"]) == (status, {"error", "detail"}, code), body
    for text in named:
        assert text in body["detail"], body


def test_an_id_reused_with_other_content_is_409_with_a_json_body(client):
    batch = {"payer": "office", "item_count": 2, "total_amount": 300}
    assert client.put("/disbursements/B1", json=batch).status_code == 200
    assert client.put("/disbursements/B1", json=batch).json()["batch_id"] == "B1"
    _error(client.put("/disbursements/B1", json={**batch, "total_amount": 301}), 409, "conflict", "B1")
    item = {"item_id": "i1", "pan": PAN, "amount": 100}
    assert client.post("/disbursements/B1/items", json={"items": [item]}).json()["results"][0]["status"] == "paid"
    _error(client.post("/disbursements/B1/items", json={"items": [{**item, "amount": 99}]}), 409, "conflict", "i1")
    _error(client.post("/disbursements/B1/items", json={"items": [{**item, "item_id": "i2", "amount": 201}]}),
           409, "refused", "announced")
    assert client.get(f"/accounts/{PAN}").json()["balance"] == 100_100


def test_malformed_and_oversized_bodies_are_refused_by_name(client):
    _error(client.post("/reversals", content=b"{not json", headers={"content-type": "application/json"}),
           422, "invalid_request", "JSON")
    _error(client.post("/reversals", json={"request_id": "r", "original_id": "o", "amount": "5", "terminal_id": "t"}),
           422, "invalid_request", "amount")
    _error(client.post("/accounts", json={"pan": PAN, "pan_sequence": 1, "opening_balance": 1, "extra": 1}),
           422, "invalid_request", "extra")
    _error(client.post("/disbursements/B1/items", content=b" " * (MAX_BODY + 1),
                       headers={"content-type": "application/json"}), 413, "invalid_request", str(MAX_BODY))
    chunks = (b" " * 65536 for _ in range(MAX_BODY // 65536 + 1))  # no length announced: sent chunked
    _error(client.post("/disbursements/B1/items", content=chunks, headers={"content-type": "application/json"}),
           413, "invalid_request", str(MAX_BODY))
    _error(client.get("/disbursements/nope/reconciliation"), 404, "not_found", "nope")
    _error(client.get("/accounts/6299990000000025"), 404, "not_found")
    assert "6299990000000025" not in client.get("/accounts/6299990000000025").text  # masked PAN in the detail


def test_the_fault_plan_refuses_before_the_bank_acts():
    now = [0.0]
    plan = ServicePlan.from_dict({"outages": [[10, 20]], "error_rate": 0.0})
    ledger = Ledger()
    with TestClient(make_app(ledger, faults=ServiceFaults(plan, service="bank", seed=1, elapsed=lambda: now[0]))) as c:
        opening = {"pan": PAN, "pan_sequence": 1, "opening_balance": 5}
        now[0] = 12.4
        answer = c.post("/accounts", json=opening)
        _error(answer, 503, "unavailable", "outage")
        assert answer.headers["retry-after"] == "8"
        now[0] = 20.0
        assert c.post("/accounts", json=opening).status_code == 200
    always = ServicePlan.from_dict({"error_rate": 1})
    with TestClient(make_app(Ledger(), faults=ServiceFaults(always, service="bank", seed=1, elapsed=lambda: 0))) as c:
        _error(c.post("/accounts", json=opening), 503, "unavailable", "injected")


@pytest.mark.parametrize(("plan", "named"), [
    ({"latency": {"distribution": "normal", "ms": 1}}, "distribution"),
    ({"latency": {"distribution": "uniform", "low_ms": 1}}, "high_ms"),
    ({"error_rate": 1.5}, "error_rate"),
    ({"outages": [[5, 2]]}, "outages[0]"),
    ({"crash": {"bank.nowhere": 0.1}}, "bank.nowhere"),
    ({"crashes": {}}, "crashes"),
])
def test_a_fault_plan_that_cannot_be_followed_is_refused_by_name(plan, named):
    with pytest.raises(PlanError, match=named.replace("[", r"\[").replace("]", r"\]")):
        ServicePlan.from_dict(plan)


def test_latency_draws_come_from_the_plans_seed():
    plan = ServicePlan.from_dict({"latency": {"distribution": "exponential", "mean_ms": 10}})
    faults = [ServiceFaults(plan, service="bank", seed=seed, elapsed=lambda: 0) for seed in (7, 7, 8)]
    draws = [[f.latency() for _ in range(200)] for f in faults]
    assert draws[0] == draws[1] != draws[2]
    assert 0.005 < sum(draws[0]) / 200 < 0.02  # mean 10 ms


# -- a POS through the HTTP client ------------------------------------------------------------
@contextlib.contextmanager
def served_bank(plan: dict | None = None) -> Iterator[tuple[str, Ledger]]:
    """The bank (with the fault plan `plan`, if any) on a loopback port in this process."""
    ledger = Ledger()
    ledger.open_account(ports.AccountOpening(PAN, 1, 100_000))
    faults = ServiceFaults(ServicePlan.from_dict(plan), service="bank", seed=1, elapsed=lambda: 0) if plan else None
    with serving(make_app(ledger, faults=faults)) as url:
        yield url, ledger


def test_a_pos_authorises_through_the_served_bank_and_declines_when_it_is_gone():
    with served_bank() as (url, ledger):
        _authorise_then_lose_the_bank(url, ledger)


def _authorise_then_lose_the_bank(url: str, ledger: Ledger) -> None:
    card = CardOS(personas.image("bank", as_of=AS_OF))
    bank = BankClient(url, timeout=2.0)
    pos = QuickPassPOS(terminal_id="POS1", clock=lambda: datetime(2026, 11, 23, 12), bank=bank, amount=700,
                       ttq=bytes.fromhex("26800000"), rng=random.Random(3))
    assert pos.present(InProcessTransport(card)).reason == "APPROVED_ONLINE"
    assert ledger.account(PAN).balance == 100_000 - 700
    bank.close()
    pos.bank = BankClient("http://127.0.0.1:9", timeout=0.5)  # nothing listens on the discard port
    with pytest.raises(ports.Unavailable) as gone:
        pos.bank.account(PAN)
    assert PAN not in str(gone.value) and PAN[-4:] in str(gone.value)  # the PAN masked in the error
    out = pos.present(InProcessTransport(card))
    assert out.reason == "DECLINED" and "kept until the bank takes it" in out.detail and len(pos.unacknowledged) == 1


def test_a_pos_whose_authorisation_times_out_is_never_charged():
    """The answers come after the POS gave up (the plan delays each answer, not its effect): the
    bank applied the authorisation, then the reversal (its retries are the same request), and
    the account ends where it started."""
    with served_bank({"latency": {"distribution": "fixed", "ms": 400}}) as (url, ledger):
        _time_out(url, ledger)


def _time_out(url: str, ledger: Ledger) -> None:
    pos = QuickPassPOS(terminal_id="POS1", clock=lambda: datetime(2026, 11, 23, 12), bank=BankClient(url, timeout=0.1),
                       amount=700, ttq=bytes.fromhex("26800000"), rng=random.Random(3))
    out = pos.present(InProcessTransport(CardOS(personas.image("bank", as_of=AS_OF))))
    assert out.reason == "DECLINED" and "kept until the bank takes it" in out.detail
    assert len(pos.unacknowledged) == 1  # every attempt timed out too: kept for the next authorisation
    assert ledger.store.query("SELECT approved FROM authorisations")[0][0] == 1  # charged, answer lost
    assert ledger.account(PAN).balance == 100_000  # and paid back
    assert ledger.total() == 0
    assert len(ledger.store.query("SELECT * FROM reversals")) == 1  # the retries were one reversal


@pytest.mark.parametrize(("setup", "named"), [
    (lambda tmp: ["--faults", str(_write(tmp / "plan.yaml", "crash: {bank.nowhere: 1}"))], "bank.nowhere"),
    (lambda tmp: ["--faults", str(tmp / "missing.yaml")], "missing.yaml"),
    (lambda tmp: ["--db", str(_write(tmp / "not.db", "plain text, not SQLite" * 100))], "not.db"),
    (lambda tmp: ["--port", "0"], "--port"),
])
def test_ykt_bank_serve_refuses_bad_options_as_usage_errors(tmp_path, setup, named):
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "bank", "serve", "--db", str(tmp_path / "b.db"),
                           *setup(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 64, done
    assert named in done.stderr, done.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_client_speaks_every_port_operation_and_maps_the_errors():
    ride = genuine(amount=300)[0]
    with served_bank() as (url, ledger):
        bank = BankClient(url)
        charge = ports.TransitCharge(ride.request_id, ride.pan, ride.pan_sequence, ride.amount, "BUS1", ride.tags)
        assert bank.charge_transit(charge).charged and bank.charge_transit(charge).charged
        with pytest.raises(ports.IdConflict):
            bank.charge_transit(ports.TransitCharge(ride.request_id, ride.pan, ride.pan_sequence, ride.amount, "BUS2",
                                              ride.tags))
        assert bank.account(PAN).balance == 100_000 - ride.amount
        bank.open_batch(ports.Batch("B1", "office", 1, 50))
        with pytest.raises(ports.Refused, match="announced"):
            bank.pay("B1", (ports.Item("i1", PAN, 51),))
        assert bank.pay("B1", (ports.Item("i1", PAN, 50),))[0].status == "paid"
        assert bank.return_items("B1", (ports.ItemReturn("i1", "wrong account"),))[0].returned
        assert bank.reconcile("B1").outstanding_amount == 50
        with pytest.raises(ports.NotFound):
            bank.reconcile("B2")
        assert bank.close_account(PAN).status == "closed"
        bank.close()
    assert ledger.total() == 0
