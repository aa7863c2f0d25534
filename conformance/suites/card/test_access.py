"""Access conditions: EF06 closed until key 0A (or the PIN on 2nd generation), writes need key 04,
and the security state does not survive a power cycle.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import ELEMENTS, READ_KEY, SFI, WRITE_KEY, expect
from simulator.apdu import SW

clause = pytest.mark.clause


@clause("CARD-ACC-001")
def test_ef06_answers_6982_before_authentication(host):
    host.select_ssse()
    for element in (e for e in ELEMENTS.values() if e.file == "EF06"):
        expect(host.read_record(SFI["EF06"], element.tag, by_tag=True), SW.SECURITY_NOT_SATISFIED,
               f"READ RECORD EF06 {element.zh} before authentication")
    expect(host.read_record(SFI["EF06"], 0x7E), SW.SECURITY_NOT_SATISFIED,
           "READ RECORD EF06 record 126 (none) before authentication: access is checked before the record lookup")


@clause("CARD-ACC-001")
def test_ef06_stays_closed_to_the_write_key_on_a_3rd_generation_card(host):
    host.select_ssse()
    if host.generation < 3:
        pytest.skip("not applicable: a 2nd-generation card opens EF06 with its PIN")
    host.authenticate(WRITE_KEY)
    expect(host.read_record(SFI["EF06"], 1), SW.SECURITY_NOT_SATISFIED,
           "READ RECORD EF06 after EXTERNAL AUTHENTICATE with key 04 (the read key is 0A)")


def _rewrite_card_type(host):
    """UPDATE RECORD EF05 record 2 (卡类别) with its own value: harmless if the card wrongly allows it."""
    element = ELEMENTS["card_type"]
    record = host.ef05(element.record)
    return host.send(0x00, 0xDC, element.record, SFI["EF05"] << 3 | 0b100, record)


@clause("CARD-ACC-002")
def test_writes_need_external_authentication_with_key_04(host):
    host.select_ssse()
    expect(_rewrite_card_type(host), SW.SECURITY_NOT_SATISFIED, "UPDATE RECORD EF05 before authentication")
    host.authenticate(READ_KEY)
    expect(_rewrite_card_type(host), SW.SECURITY_NOT_SATISFIED, "UPDATE RECORD EF05 after authentication with key 0A")
    host.authenticate(WRITE_KEY)
    expect(_rewrite_card_type(host), SW.OK, "UPDATE RECORD EF05 (same value) after authentication with key 04")


@clause("CARD-ACC-002")
def test_the_security_state_is_lost_at_power_down(host):
    host.select_ssse()
    host.authenticate(WRITE_KEY)
    host.reconnect()
    host.select_ssse()
    expect(_rewrite_card_type(host), SW.SECURITY_NOT_SATISFIED,
           "UPDATE RECORD EF05 after key 04 was authenticated and the card powered down and up again")
    host.authenticate(READ_KEY)
    host.reconnect()
    host.select_ssse()
    expect(host.read_record(SFI["EF06"], 1), SW.SECURITY_NOT_SATISFIED,
           "READ RECORD EF06 after key 0A was authenticated and the card powered down and up again")
