"""The reference library's loans (simulator/departments/lending.py) against a served platform on a
test clock: a lost card borrows nothing but its item comes back and that return is reported; a
return the counter tries again after the platform was unreachable is the same event; the control
API names what is wrong with a loan or a return (JSON 4xx). What is judged is what the platform
holds, not what the library answers."""

from __future__ import annotations

import random
from datetime import date

import pytest
from fastapi.testclient import TestClient

from simulator.backend.loopback import free_port, serving
from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app as platform_app
from simulator.clock import Clock
from simulator.departments import Hospital, Library, PlatformLink
from simulator.departments.api import make_app

READER = {"card_number": "D1000000A", "citizen_id": "410203199001011234", "name": "测试读者",
          "birth_date": "1990-01-01"}
ANOTHER = {**READER, "card_number": "D1000000B", "citizen_id": "410203199202025678", "name": "测试读者二"}


@pytest.fixture
def lab():
    """A platform served on loopback with two readers' cards, and the library registered at it."""
    clock = Clock()
    platform = Platform(open_store(":memory:"), clock=clock, seed=5, operator_secret=b"\x11" * 32)
    for card in (READER, ANOTHER):
        platform.issue_card(card_number=card["card_number"], citizen_id=card["citizen_id"], name=card["name"],
                            birth_date=date.fromisoformat(card["birth_date"]), region="410200")
    secret = platform.register_department(department_id="lib-test", name="测试图书馆", purpose="library",
                                          callback_url=None)
    with serving(platform_app(platform)) as url:
        link = PlatformLink(url, "lib-test", secret)
        yield platform, Library(clock=clock, rng=random.Random(7), sleep=lambda seconds: None, link=link), link


def _uses(platform: Platform, card: dict) -> list[tuple[str, str]]:
    return [(row["kind"], row["event_id"]) for row in platform.store.query(
        "SELECT kind, event_id FROM usage_events WHERE card_number = ? ORDER BY rowid", (card["card_number"],))]


def test_a_lost_card_borrows_nothing_but_its_item_comes_back_and_is_reported(lab):
    platform, library, _ = lab
    assert library.lend(READER, "BK-1")["outcome"] == "served"
    assert library.lend(ANOTHER, "BK-1") == {"outcome": "refused", "reason": "on_loan"}
    platform.transition(READER["card_number"], "report_lost")
    assert library.lend(READER, "BK-2") == {"outcome": "refused", "reason": "card_lost"}
    assert library.take_back("BK-1", READER)["outcome"] == "served"
    assert [kind for kind, _ in _uses(platform, READER)] == ["loan", "return"]
    assert library.state()["loans"] == {}
    assert library.lend(ANOTHER, "BK-1")["outcome"] == "served"
    assert library.state()["loans"] == {"BK-1": ANOTHER["card_number"]}


def test_a_return_tried_again_after_the_platform_was_unreachable_is_the_same_event(lab):
    platform, library, link = lab
    library.lend(READER, "BK-3")
    library.configure(PlatformLink(f"http://127.0.0.1:{free_port()}", link.department_id, link.secret))
    assert library.take_back("BK-3")["outcome"] == "failed"
    assert library.state()["loans"] == {"BK-3": READER["card_number"]}, "a return not reported keeps its loan"
    pending = library.returning["BK-3"]["event_id"]
    library.configure(link)
    assert library.take_back("BK-3")["outcome"] == "served"
    assert _uses(platform, READER)[1:] == [("return", pending)]


def test_the_control_api_names_what_is_wrong_with_a_loan_or_a_return():
    library = Library(clock=Clock(), rng=random.Random(8))
    with TestClient(make_app(library)) as client:
        answer = client.post("/control/returns", json={"item_id": "BK-9"})
        assert answer.status_code == 409 and answer.json()["error"] == "not_on_loan", answer.text
        assert "BK-9" in answer.json()["detail"]
        answer = client.post("/control/loans", json={"item_id": "BK 9", "card": READER})
        assert answer.status_code == 422 and "item_id" in answer.json()["detail"], answer.text
    with TestClient(make_app(Hospital(clock=Clock(), rng=random.Random(9)))) as client:
        answer = client.post("/control/loans", json={"item_id": "BK-9", "card": READER})
    assert answer.status_code == 404 and answer.json()["error"] == "not_lending", answer.text
