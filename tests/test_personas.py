"""Personas resolve to synthetic, self-consistent card data on an injected date."""

from datetime import date

import pytest

from simulator.card import personas
from simulator.card.apps import ssse
from simulator.profile import national

AS_OF = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("+8y", date(2034, 11, 23)), ("-1d", date(2026, 11, 22)), ("-3m", date(2026, 8, 23)),
     ("1985-06-15", date(1985, 6, 15))],
)
def test_relative_dates(text, expected):
    assert personas.resolve_date(text, AS_OF) == expected


def test_leap_day_moves_to_the_last_day_of_february():
    assert personas.resolve_date("+1y", date(2028, 2, 29)) == date(2029, 2, 28)


def test_check_characters_reproduce_published_examples():
    # GB 11643 example number 11010519491231002X; 卡号 example X00000019 (ssc-card.md)
    assert ssse.citizen_id_check("11010519491231002") == "X"
    assert ssse.card_number_check("X0000001") == "9"


@pytest.mark.parametrize("name", sorted(national().personas))
def test_every_persona_builds_a_consistent_card(name):
    p = personas.resolve(name, as_of=AS_OF)
    v = p.values
    assert v["citizen_id"][-1] == ssse.citizen_id_check(v["citizen_id"][:17])
    assert v["citizen_id"][6:14] == f"{v['birth_date']:%Y%m%d}"
    assert v["card_number"][-1] == ssse.card_number_check(v["card_number"][:8])
    assert v["card_identifier"][3:8] == bytes.fromhex("D156000005")
    image = personas.image(name, as_of=AS_OF)
    assert len(image.atr) - 4 == image.atr[1] & 0x0F


def test_dated_personas_are_what_their_names_say():
    expired = personas.resolve("expired", as_of=AS_OF).values
    assert expired["expiry_date"] < AS_OF
    not_yet = personas.resolve("not_yet_valid", as_of=AS_OF).values
    assert not_yet["issue_date"] > AS_OF
    elderly = personas.resolve("elderly", as_of=AS_OF).values["birth_date"]
    minor = personas.resolve("minor", as_of=AS_OF).values["birth_date"]
    assert (AS_OF - elderly).days // 365 >= 70
    assert (AS_OF - minor).days // 365 < 18
    assert personas.resolve("second_generation", as_of=AS_OF).generation == 2
    assert personas.resolve("wrong_region", as_of=AS_OF).values["card_identifier"][:3].hex() == "330300"
