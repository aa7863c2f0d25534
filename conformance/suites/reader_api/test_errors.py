"""Return codes of iReadCardBas for a missing card and a locked application."""

from __future__ import annotations

import pytest

from simulator.profile import load


@pytest.mark.clause("READER-ERR-001")
def test_no_card(bench, api):
    bench.present(None)
    code, out = bench.call("iReadCardBas", 1)
    expected = api["conditions"]["no_card"]["code"]
    assert code == expected, f"iReadCardBas with no card on the reader returned {code}, expected {expected} (无卡)"
    assert out == "", f"iReadCardBas with no card wrote {out!r} into pOutInfo"


@pytest.mark.clause("READER-ERR-002")
def test_locked_application(bench, api):
    card = bench.present("app_locked")
    code, out = bench.call("iReadCardBas", 1)
    selects = [x for x in card.exchanges if x.command[1:2] == b"\xa4" and len(x.response) >= 2]
    sw = int.from_bytes(selects[-1].response[-2:], "big") if selects else int(
        load("national/ssse", "ssse")["application"]["locked_select_sw"], 16)
    condition = api["conditions"]["application_locked"]
    expected = condition.get("code", -sw)  # without a code: rule minus_sw
    assert code == expected, (f"iReadCardBas of a card whose social-security application is locked (SELECT "
                              f"answered {sw:04X}) returned {code}, expected {expected} (the -(SW) rule)")
    assert out == "", "a locked card's data was written into pOutInfo"
