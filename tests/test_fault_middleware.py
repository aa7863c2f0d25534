"""One fault middleware for every served back-end (simulator/backend/fault_middleware.py): the bank
and the platform, under the same plan, refuse alike (a JSON 503 naming the service and why, with
Retry-After, before the service acted) and keep publishing their document through an outage."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from simulator.backend.bank_service import make_app as bank_app
from simulator.backend.ledger import Ledger
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app as platform_app
from simulator.backend.platform.serve import with_faults
from simulator.backend.service_faults import ServiceFaults, ServicePlan
from simulator.clock import Clock

PAN = "6299990000000017"


def _bank(faults: ServiceFaults):
    ledger = Ledger()
    return bank_app(ledger, faults=faults), lambda: ledger.store.query("SELECT count(*) FROM accounts")[0][0]


def _platform(faults: ServiceFaults):
    platform = Platform(open_store(":memory:"), clock=Clock(), seed=1, operator_secret=b"\x01" * 32)
    return with_faults(platform_app(platform), faults), lambda: platform.store.query("SELECT count(*) FROM cards")[0][0]


#: service -> (app factory, its refusal code, a request that would change its state)
SERVICES = {
    "bank": (_bank, "unavailable", ("POST", "/accounts", {"pan": PAN, "pan_sequence": 1})),
    "platform": (_platform, "service_unavailable", ("POST", "/cards", {"card_number": "K00000001"})),
}


@pytest.mark.parametrize("service", SERVICES)
def test_an_outage_refuses_every_operation_alike_and_never_the_document(service):
    factory, code, (method, path, body) = SERVICES[service]
    now = [11.6]
    faults = ServiceFaults(ServicePlan.from_dict({"outages": [[10, 20]]}), service=service, seed=1,
                           elapsed=lambda: now[0])
    app, state = factory(faults)
    with TestClient(app) as client:
        answer = client.request(method, path, json=body)
        assert answer.status_code == 503, answer.text
        why = "outage until 20 s after start"
        assert answer.json() == {"error": code, "detail": f"the {service} is unavailable ({why})"}
        assert answer.headers["retry-after"] == "8"
        assert state() == 0  # refused before the service saw it
        assert client.get("/openapi.json").status_code == 200
        now[0] = 20.0
        assert client.request(method, path, json=body).status_code != 503
