"""Data element formats: BCD dates, 社会保障号码 with its check character, GBK names, 卡识别码, 卡号.

Judged from the card's own content, so they hold for a real card of any holder; values that
appear in a message are masked (simulator.privacy). The check characters are verified here, in
the verifying form of their rules, not with the card's personalisation code that computes them.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

from datetime import date

import pytest

from simulator.privacy import mask_value

clause = pytest.mark.clause
#: 卡号: weights of its first 8 characters (A=10 ... Z=35); with the check character (X=10) the sum is 0 mod 11
CARD_NUMBER_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _check_value(char: str) -> int:
    """A check character's value: a digit, or X for 10."""
    return 10 if char.upper() == "X" else int(char)


def _citizen_id_checks(citizen_id: str) -> bool:
    """GB 11643 (ISO 7064 MOD 11-2): the 18 characters, weighted by 2^17 ... 2^0, sum to 1 mod 11."""
    values = [*map(int, citizen_id[:17]), _check_value(citizen_id[17])]
    return sum(v * pow(2, 17 - i, 11) for i, v in enumerate(values)) % 11 == 1


def _card_number_checks(number: str) -> bool:
    """The 9th character of 卡号 completes the weighted sum of the first 8 to 0 mod 11."""
    total = sum(int(c, 36) * w for c, w in zip(number[:8], CARD_NUMBER_WEIGHTS, strict=True))
    return (total + _check_value(number[8])) % 11 == 0


def _date(host, name: str) -> date:
    __tracebackhide__ = True
    value = host.element(name)
    assert isinstance(value, date), f"{name} did not decode as a date"
    return value


@clause("CARD-DATA-001")
def test_dates_are_bcd_calendar_days_and_issue_precedes_expiry(opened):
    issued, expires = _date(opened, "issue_date"), _date(opened, "expiry_date")
    _date(opened, "birth_date")
    assert issued < expires, f"发卡日期 {issued} does not precede 卡有效期 {expires}"


@clause("CARD-DATA-002")
def test_the_citizen_id_carries_its_check_character_and_the_birth_date(opened):
    citizen_id = opened.element("citizen_id")
    shown = mask_value("citizen_id", citizen_id)
    assert len(citizen_id) == 18 and citizen_id[:17].isdigit(), (
        f"社会保障号码 {shown} is not 17 digits and a check character")
    assert citizen_id[17] in "0123456789Xx" and _citizen_id_checks(citizen_id), (
        f"社会保障号码 {shown} ends in a wrong check character (GB 11643 MOD 11-2 gives another)")
    birth = _date(opened, "birth_date")
    assert citizen_id[6:14] == f"{birth:%Y%m%d}", f"the birth date inside 社会保障号码 {shown} is not 出生日期"


@clause("CARD-DATA-003")
def test_name_card_identifier_and_card_number_formats(opened):
    name = opened.element("name")  # the GBK codec fails the test on bytes that are not GBK
    assert name, "姓名 is empty"
    card_id = opened.card_identifier
    region = card_id[:3].hex()
    assert region.isdigit(), f"卡识别码 does not start with a 6-digit BCD region code ({region.upper()})"
    assert card_id[3:8] == bytes.fromhex("D156000005"), (
        f"卡识别码 continues with {card_id[3:8].hex().upper()} after the region code; the profile requires D156000005")
    number = opened.element("card_number")
    shown = mask_value("card_number", number)
    assert len(number) == 9 and number.isascii() and number.isalnum(), f"卡号 {shown} is not 9 letters or digits"
    assert (number[8].isdigit() or number[8] == "X") and _card_number_checks(number), (
        f"卡号 {shown} ends in a wrong check character")
