"""GET CHALLENGE, and EXTERNAL / INTERNAL AUTHENTICATE against the issuer's keys (simulator.backend.issuer).

PYTEST_DONT_REWRITE: assertion messages here are written for the vendor and carry no card data;
pytest's rewriting would add the compared values to them, personal data included.
"""

from __future__ import annotations

import os

import pytest

from conformance.suites.card._host import READ_KEY, expect, sw_text
from simulator.apdu import SW, counter_sw
from simulator.card.apps import ssse
from simulator.crypto.auth import internal_auth_result

clause = pytest.mark.clause
#: how often the freshness test connects, power-cycles a link and selects the SSSE on it
LINKS, POWER_UPS, SELECTIONS = 3, 3, 2


@clause("CARD-AUTH-001")
def test_external_authenticate_with_the_issuers_cryptogram(host):
    host.select_ssse()
    host.authenticate(READ_KEY)


@clause("CARD-AUTH-001")
def test_external_authenticate_needs_a_fresh_challenge(host):
    host.select_ssse()
    expect(host.send(0x00, 0x82, 0x00, READ_KEY, bytes(16)), SW.CONDITIONS_NOT_SATISFIED,
           "EXTERNAL AUTHENTICATE without GET CHALLENGE")
    challenge = host.challenge()
    cryptogram = host.cryptogram(READ_KEY, challenge)
    expect(host.send(0x00, 0x82, 0x00, READ_KEY, cryptogram), SW.OK, "EXTERNAL AUTHENTICATE")
    expect(host.send(0x00, 0x82, 0x00, READ_KEY, cryptogram), SW.CONDITIONS_NOT_SATISFIED,
           "EXTERNAL AUTHENTICATE replaying a challenge already used")


@clause("CARD-AUTH-001")
def test_a_wrong_cryptogram_answers_63cx_and_the_right_one_still_opens(host):
    host.select_ssse()
    key_tries = host.layout.ssse_profile["keys"]["0A"]["tries"]
    answer = host.external_authenticate(READ_KEY, wrong=True)
    assert answer.sw & 0xFFF0 == 0x63C0 and answer.sw & 0x0F < key_tries, (
        f"EXTERNAL AUTHENTICATE with a wrong cryptogram answered {sw_text(answer.sw)}; the profile requires 63Cx "
        f"with x < {key_tries} tries left")
    host.authenticate(READ_KEY)


@clause("CARD-AUTH-001")
def test_wrong_cryptograms_block_the_key(card):
    host = card.open_to_destroy()
    host.select_ssse()
    for left in range(host.layout.ssse_profile["keys"]["0A"]["tries"] - 1, -1, -1):
        sw = counter_sw(left) if left else SW.AUTH_METHOD_BLOCKED
        expect(host.external_authenticate(READ_KEY, wrong=True), sw,
               f"EXTERNAL AUTHENTICATE with a wrong cryptogram ({left} tries should be left)")
    expect(host.external_authenticate(READ_KEY), SW.AUTH_METHOD_BLOCKED,
           "EXTERNAL AUTHENTICATE with the right cryptogram once key 0A is blocked")


@clause("CARD-AUTH-003")
def test_challenges_never_repeat_across_selections_resets_and_links(card):
    seen: dict[bytes, str] = {}
    for link in range(1, LINKS + 1):
        host = card.open()
        for power_up in range(1, POWER_UPS + 1):
            for selection in range(1, SELECTIONS + 1):
                host.select_ssse()
                for length in (8, 8, 4):
                    challenge = host.challenge(length)
                    where = f"link {link}, power-up {power_up}, selection {selection}, Le={length}"
                    assert challenge not in seen, (
                        f"GET CHALLENGE at {where} answered the challenge of {seen[challenge]}")
                    seen[challenge] = where
            host.reconnect()


@clause("CARD-AUTH-002")
def test_internal_authenticate_answers_what_the_issuers_key_gives(host):
    host.select_ssse()
    generation = host.generation
    algorithm = host.layout.ssse_profile["generations"][str(generation)]["algorithm"]
    key = ssse.card_key(host.issuer.document("ssse", "01"), 0x01, host.card_identifier, algorithm)
    factor, original = os.urandom(8), os.urandom(8)
    answer = host.ok("INTERNAL AUTHENTICATE", 0x00, 0x88, 0x00, 0x01, factor + original, le=0)
    expected = internal_auth_result(algorithm, key, factor, original)
    assert answer == expected, (f"INTERNAL AUTHENTICATE answered {answer.hex().upper()}; the issuer's key in "
                                f"{algorithm} (generation {generation}) gives {expected.hex().upper()}: the card is "
                                f"not genuine")
