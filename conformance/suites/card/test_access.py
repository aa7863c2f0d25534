"""Access conditions: EF06 closed until key 0A (or the PIN on 2nd generation), writes to EF05 and
EF06 need key 04, and the security state survives neither a power cycle nor selecting another
application.

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import pytest

from conformance.suites.card._host import READ_KEY, WRITE_KEY, expect
from conformance.verdicts import not_tested
from simulator.apdu import SW

clause = pytest.mark.clause


@clause("CARD-ACC-001")
def test_ef06_answers_6982_before_authentication(host):
    host.select_ssse()
    for element in (e for e in host.layout.elements.values() if e.file == "EF06"):
        expect(host.read_record(host.layout.sfi["EF06"], element.tag, by_tag=True), SW.SECURITY_NOT_SATISFIED,
               f"READ RECORD EF06 {element.zh} before authentication")
    expect(host.read_record(host.layout.sfi["EF06"], 0x7E), SW.SECURITY_NOT_SATISFIED,
           "READ RECORD EF06 record 126 (none) before authentication: access is checked before the record lookup")


@clause("CARD-ACC-001")
def test_ef06_stays_closed_to_the_write_key_on_a_3rd_generation_card(host):
    host.select_ssse()
    if host.generation < 3:
        not_tested("the card reports the 2nd generation, whose EF06 opens with the PIN: the rule is the 3rd's",
                   need="a 3rd-generation sample")
    host.authenticate(WRITE_KEY)
    expect(host.read_record(host.layout.sfi["EF06"], 1), SW.SECURITY_NOT_SATISFIED,
           "READ RECORD EF06 after EXTERNAL AUTHENTICATE with key 04 (the read key is 0A)")


#: a record of EF05 and one of EF06 the write tests rewrite with their own value, by element name
REWRITTEN = {"EF05": "card_type", "EF06": "sex"}


def _record(host, file: str, known_pin) -> bytes:
    """The record the write tests rewrite (of EF06 once its read condition holds); the card is then
    powered down and up, so that nothing is authenticated, and the SSSE selected."""
    __tracebackhide__ = True
    host.select_ssse()
    element = host.layout.elements[REWRITTEN[file]]
    if file == "EF06":
        host.open_ef06(known_pin)
    record = expect(host.read_record(host.layout.sfi[file], element.tag, by_tag=True), SW.OK,
                    f"READ RECORD {file} {element.zh}").data
    host.reconnect()
    host.select_ssse()
    return record


def _rewrite(host, file: str, record: bytes):
    """UPDATE RECORD of `file` by identifier with the record's own value: harmless if the card wrongly allows it."""
    __tracebackhide__ = True
    return host.send(0x00, 0xDC, record[0], host.layout.sfi[file] << 3, record)


@clause("CARD-ACC-002")
@pytest.mark.parametrize("file", sorted(REWRITTEN))
def test_writes_need_external_authentication_with_key_04(host, known_pin, file):
    record = _record(host, file, known_pin)
    expect(_rewrite(host, file, record), SW.SECURITY_NOT_SATISFIED, f"UPDATE RECORD {file} before authentication")
    host.authenticate(READ_KEY)
    if known_pin is not None:
        expect(host.verify(known_pin), SW.OK, "VERIFY with the card's PIN")
    expect(_rewrite(host, file, record), SW.SECURITY_NOT_SATISFIED,
           f"UPDATE RECORD {file} after authentication with key 0A{' and the PIN' if known_pin else ''}")
    host.authenticate(WRITE_KEY)
    expect(_rewrite(host, file, record), SW.OK, f"UPDATE RECORD {file} (same value) after authentication with key 04")


@clause("CARD-ACC-002")
@pytest.mark.parametrize("how", ["power cycle", "another application"])
def test_the_security_state_is_lost_at_power_down_and_on_selecting_another_application(card, host, how):
    record = _record(host, "EF05", None)

    def lose(host) -> None:
        __tracebackhide__ = True
        if how == "power cycle":
            host.reconnect()
        else:
            card.select_another_application(host)
        host.select_ssse()

    host.authenticate(WRITE_KEY)
    lose(host)
    expect(_rewrite(host, "EF05", record), SW.SECURITY_NOT_SATISFIED,
           f"UPDATE RECORD EF05 after key 04 was authenticated and a {how}")
    host.authenticate(READ_KEY)
    lose(host)
    expect(host.read_record(host.layout.sfi["EF06"], 1), SW.SECURITY_NOT_SATISFIED,
           f"READ RECORD EF06 after key 0A was authenticated and a {how}")
