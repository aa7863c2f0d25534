"""Return codes of iReadCardBas for a missing card, a locked application, a refused EF05 record and
a malformed 卡识别码."""

from __future__ import annotations

import pytest

from conformance.suites.reader_api import _cards
from simulator.apdu import SW
from simulator.card.apps import ssse


@pytest.mark.clause("READER-ERR-001")
def test_no_card(bench, api):
    bench.present(None)
    code, out = bench.call("iReadCardBas", 1)
    expected = api["conditions"]["no_card"]["code"]
    assert code == expected, f"iReadCardBas with no card on the reader returned {code}, expected {expected} (无卡)"
    assert out == "", f"iReadCardBas with no card wrote {out!r} into pOutInfo"


@pytest.mark.clause("READER-ERR-002")
def test_locked_application(bench, api, ssse_profile):
    card = bench.present("app_locked")
    code, out = bench.call("iReadCardBas", 1)
    selects = [x for x in card.exchanges if x.command[1:2] == b"\xa4" and len(x.response) >= 2]
    sw = int.from_bytes(selects[-1].response[-2:], "big") if selects else int(
        ssse_profile["application"]["locked_select_sw"], 16)
    condition = api["conditions"]["application_locked"]
    expected = condition.get("code", -sw)  # without a code: rule minus_sw
    assert code == expected, (f"iReadCardBas of a card whose social-security application is locked (SELECT "
                              f"answered {sw:04X}) returned {code}, expected {expected} (the -(SW) rule)")
    assert out == "", "a locked card's data was written into pOutInfo"


#: EF05 records iReadCardBas needs, by element (national.ssse elements): a card cut short before
#: the first or the last of them
NEEDED = ("card_identifier", "expiry_date")


def _refused_reads(card) -> list[int]:
    """The status words of the READ RECORDs the card refused, in order (card-side trace)."""
    return [sw for x in card.exchanges if x.command[1:2] == b"\xb2" and len(x.response) >= 2
            and (sw := int.from_bytes(x.response[-2:], "big")) != SW.OK]


@pytest.mark.clause("READER-ERR-003")
@pytest.mark.parametrize("name", NEEDED)
def test_a_refused_ef05_record_returns_its_status_word(bench, api, ssse_profile, name):
    element = ssse.elements(ssse_profile)[name]
    card = bench.present("normal", alter=_cards.ef05_ending_before(element.record))
    code, out = bench.call("iReadCardBas", 1)
    refused = _refused_reads(card)
    assert refused, (f"iReadCardBas of a card whose EF05 ends before record {element.record} ({element.zh}) returned "
                     f"{code} without reading that record")
    expected = -refused[0]  # conditions.record_refused: rule minus_sw
    assert code == expected, (f"iReadCardBas of a card that refused EF05 record {element.record} ({element.zh}) "
                              f"with {refused[0]:04X} returned {code}, expected {expected} (the -(SW) rule)")
    assert out == "", "a read refused for a missing EF05 record still wrote card data into pOutInfo"


#: EF05 record 1 as no card conforming to CARD-FILE-001 holds it, by what is wrong
MALFORMED_IDENTIFIERS = {
    "tag 02": "0210" + "00" * 16,
    "length byte 10 over 8 bytes": "0110" + "00" * 8,
    "8 bytes": "0108" + "00" * 8,
}


@pytest.mark.clause("READER-ERR-004")
@pytest.mark.parametrize("record", MALFORMED_IDENTIFIERS.values(), ids=MALFORMED_IDENTIFIERS.keys())
def test_a_malformed_card_identifier_returns_minus_20(bench, api, record):
    bench.present("normal", alter=_cards.ef05_record(1, bytes.fromhex(record)))
    code, out = bench.call("iReadCardBas", 1)
    expected = api["conditions"]["card_identifier_malformed"]["code"]
    assert code == expected, (f"iReadCardBas of a card whose EF05 record 1 is {record} (not tag 01, length 16) "
                              f"returned {code}, expected {expected} (卡识别码格式错)")
    assert out == "", "a read refused for a malformed 卡识别码 still wrote card data into pOutInfo"
