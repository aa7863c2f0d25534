"""iVerifyPIN: the right PIN, a wrong PIN with the tries left, a blocked PIN."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.requires("pin_entry")


def _verify_sws(card) -> list[int]:
    return [int.from_bytes(x.response[-2:], "big") for x in card.exchanges if x.command[1:2] == b"\x20"]


@pytest.mark.clause("READER-PIN-001")
def test_the_right_pin(bench, api):
    bench.present("normal")  # the right PIN leaves the card as it was: it may be reused
    code, _ = bench.call("iVerifyPIN", 1, bench.pin("normal"))
    assert code == 0, f"iVerifyPIN with the card's PIN returned {code}, expected 0"


@pytest.mark.clause("READER-PIN-002")
def test_a_wrong_pin_reports_the_tries_left(bench, api):
    card = bench.present("normal", fresh=True)
    expected = api["conditions"]["pin_wrong"]["code"]
    wrong = "000000" if bench.pin("normal") != "000000" else "111111"
    for _ in range(2):
        code, out = bench.call("iVerifyPIN", 1, wrong)
        sw = _verify_sws(card)[-1]
        assert sw & 0xFFF0 == 0x63C0, f"the card answered VERIFY with {sw:04X}: check the reader's APDU"
        assert code == expected, f"iVerifyPIN with a wrong PIN returned {code}, expected {expected} (PIN错)"
        assert out == str(sw & 0x0F), (f"after a wrong PIN the card has {sw & 0x0F} tries left (SW {sw:04X}); "
                                        f"pOutInfo says {out!r}")


@pytest.mark.clause("READER-PIN-003")
def test_a_blocked_pin(bench, api):
    bench.present("pin_blocked", fresh=True)
    code, _ = bench.call("iVerifyPIN", 1, bench.pin("pin_blocked"))
    expected = api["conditions"]["pin_blocked"]["code"]
    assert code == expected, f"iVerifyPIN on a card whose PIN is blocked returned {code}, expected {expected} (PIN锁定)"
