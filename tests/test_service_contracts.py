"""Every service publishes its contract: the /openapi.json each running app answers (served by
uvicorn on loopback, as `ykt ... serve` serves it) is its document in profiles/national/: the
platform, the bank, the voucher service, each kind of reference department and each reference
terminal kind (the POS also when it pays through a served bank). Exactly the file for the documents generated from their
app; for the bank's, written for people, in everything but prose (tests/contracts.py). schemathesis
runs against each of them in its own file (test_platform_api, test_bank_service, test_voucher_service,
test_departments, test_served_input)."""

from __future__ import annotations

import json
import random

import httpx
import pytest
import yaml
from contracts import differences_but_prose

from conformance.adapters.sim import REFERENCE_TERMINALS
from conformance.service import reference_app
from simulator.backend.bank_service import make_app as bank_app
from simulator.backend.ledger import Ledger
from simulator.backend.loopback import serving
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app as platform_app
from simulator.backend.voucher_service import make_app as voucher_app
from simulator.backend.vouchers import VoucherService
from simulator.clock import Clock
from simulator.departments import DEPARTMENTS
from simulator.departments.api import make_app as department_app
from simulator.profile import PROFILE_ROOT


def _platform():
    return platform_app(Platform(open_store(":memory:"), clock=Clock(), seed=3, operator_secret=b"\x11" * 32))


def _department(kind: str):
    return lambda: department_app(DEPARTMENTS[kind](clock=Clock(), rng=random.Random(1)))


def _terminal(kind: str, **options):
    return lambda: reference_app(kind, None, readers=("Contract Reader 00 00",), **options)


#: service -> (its app, its document, whether the document is the app's own output)
SERVICES = {
    "platform": (_platform, "platform_api.yaml", True),
    "bank": (lambda: bank_app(Ledger()), "bank_api.yaml", False),
    **{f"department:{kind}": (_department(kind), "department_api.yaml", True) for kind in DEPARTMENTS},
    **{f"terminal:{kind}": (_terminal(kind), "terminal_api.yaml", True) for kind in REFERENCE_TERMINALS},
    "terminal:pos --bank": (_terminal("pos", bank="http://127.0.0.1:9"), "terminal_api.yaml", True),
    "vouchers": (lambda: voucher_app(VoucherService()), "voucher_api.yaml", True),
}


@pytest.mark.parametrize("service", SERVICES)
def test_the_running_service_publishes_its_profile_document(service):
    factory, name, generated = SERVICES[service]
    document = yaml.safe_load((PROFILE_ROOT / "national" / name).read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.1")
    assert "modelled" in json.dumps(document.get("x-source") or document["info"].get("x-source"))
    with serving(factory()) as url:
        answer = httpx.get(url + "/openapi.json", trust_env=False)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    if generated:
        assert answer.json() == document
    else:
        assert differences_but_prose(answer.json(), document) == []
