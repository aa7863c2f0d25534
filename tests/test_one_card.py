"""One person one card (一人一卡, Sichuan's 一号一卡一码): each holder's current card at the platform,
the second card a region that asks for one card per person refuses to issue, the cards of registries
kept before (存量卡) imported beside it, and the departments that serve only the current card.
Oracles: platform.yaml `lifecycle` (live, one_card_per_person) of the national and regional profiles."""

from __future__ import annotations

import random
from datetime import date

import pytest
from fastapi.testclient import TestClient

from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app
from simulator.backend.platform.client import DepartmentClient
from simulator.backend.platform.schema import MIGRATIONS
from simulator.backend.platform.service import OPERATOR
from simulator.backend.store import Store
from simulator.clock import Clock
from simulator.departments import DEPARTMENTS
from simulator.profile import build, national

SECRET = b"\x09" * 32
HOLDER = {"citizen_id": "510104199301013027", "name": "测试重卡", "birth_date": "1993-01-01", "region": "510100"}


def operator(region: str | None) -> tuple[Platform, DepartmentClient]:
    """A platform keeping `region`'s rules (national for None) and its operator's signing client."""
    clock = Clock()
    profile = build("national", region) if region else national()
    platform = Platform(open_store(":memory:"), clock=clock, seed=3, operator_secret=SECRET, profile=profile)
    client = DepartmentClient(TestClient(make_app(platform)), department=OPERATOR, secret=SECRET, clock=clock,
                              rng=random.Random(4))
    return platform, client


def issue(client: DepartmentClient, card_number: str):
    return client.request("POST", "/cards", {"card_number": card_number, **HOLDER})


def imported(platform: Platform, card_number: str) -> dict:
    return platform.import_card(card_number=card_number, issued=date(2016, 3, 1),
                                **{**HOLDER, "birth_date": date(1993, 1, 1)})


def current(platform: Platform, card_number: str) -> str:
    return platform.card_view(OPERATOR, card_number)["current"]


@pytest.mark.parametrize("region", ["sichuan", "guangdong"])
def test_a_second_card_beside_a_live_one_is_refused_where_one_person_has_one_card(region):
    platform, client = operator(region)
    assert issue(client, "C00000001").status_code == 201
    platform.transition("C00000001", "report_lost")  # lost is still the holder's card: it may be found
    answer = issue(client, "C00000002")
    assert (answer.status_code, answer.json()["error"]) == (409, "holder_has_card"), answer.text
    assert platform.store.query("SELECT count(*) AS n FROM cards")[0]["n"] == 1
    platform.transition("C00000001", "reissue", new_card_number="C00000003")
    assert current(platform, "C00000001") == current(platform, "C00000003") == "C00000003"
    platform.transition("C00000003", "cancel")
    assert issue(client, "C00000004").status_code == 201, "a holder whose cards are not live is issued one"
    assert current(platform, "C00000003") == "C00000004"


def test_nationally_a_second_card_is_issued_and_is_the_current_one():
    platform, client = operator(None)
    assert issue(client, "C00000001").status_code == 201
    answer = issue(client, "C00000002")
    assert answer.status_code == 201, answer.text
    assert answer.json()["current"] == current(platform, "C00000001") == "C00000002"


@pytest.mark.parametrize("region", [None, "sichuan"])
def test_an_imported_card_beside_a_live_one_is_held_but_not_current(region):
    platform, client = operator(region)
    assert imported(platform, "C00000009")["current"] == "C00000009", "a holder's only card is current"
    platform.transition("C00000009", "cancel")
    assert issue(client, "C00000001").status_code == 201
    zombie = imported(platform, "C00000002")
    assert (zombie["status"], zombie["current"]) == ("normal", "C00000001")
    issued = platform.store.query("SELECT issued_at FROM cards WHERE card_number = 'C00000002'")[0]["issued_at"]
    assert issued.startswith("2016-03-01"), "an imported card keeps the date its registry issued it"


def test_a_card_sealed_in_guangdongs_cleanup_is_not_live():
    platform, client = operator("guangdong")
    assert issue(client, "C00000001").status_code == 201
    platform.transition("C00000001", "seal")
    assert issue(client, "C00000002").status_code == 201
    platform.transition("C00000001", "unseal")
    assert current(platform, "C00000001") == "C00000002", "an unsealed zombie card does not come back as current"


def test_a_store_made_before_current_cards_takes_each_holders_card_issued_last(tmp_path):
    path = tmp_path / "platform.sqlite"
    before = Store(path, MIGRATIONS[:-1])
    with before.transaction() as db:
        db.executemany("INSERT INTO cards (card_number, citizen_id, name, birth_date, region, status, issued_at) "
                       "VALUES (?, ?, '测试', '1990-01-01', '410200', 'normal', '2026-01-01')",
                       [("C00000001", "A"), ("C00000002", "A"), ("C00000003", "B")])
    before.close()
    after = Store(path, MIGRATIONS)
    holders = after.query("SELECT citizen_id, card_number FROM holders")
    after.close()
    assert {r["citizen_id"]: r["card_number"] for r in holders} == {"A": "C00000002", "B": "C00000003"}


@pytest.mark.parametrize(("region", "refused"), [(None, None), ("guangdong", "card_not_current"),
                                                 ("sichuan", "card_not_current")])
@pytest.mark.parametrize("kind", sorted(DEPARTMENTS))
def test_departments_serve_only_the_current_card_where_one_person_has_one_card(kind, region, refused):
    profile = build("national", region) if region else national()
    department = DEPARTMENTS[kind](clock=Clock(), rng=random.Random(1), profile=profile)
    view = {"card_number": "C00000002", "status": "normal", "current": "C00000001", "financial_active": True}
    assert department.refusal(view) == refused
    assert department.refusal({**view, "current": "C00000002"}) is None
