"""Fixtures of the card suite: the DUT's card role, wrapped for the tests (see `_lab.CardLab`)."""

from __future__ import annotations

import pytest

from conformance.evidence import at_test_end
from conformance.plugin import declaration
from conformance.suites.card._host import CardLayout, Host
from conformance.suites.card._lab import CardLab
from conformance.verdicts import not_applicable, not_tested


@pytest.fixture(scope="session")
def layout(profile) -> CardLayout:
    """The run's profile as the card suite reads it (documents, elements, AIDs, codes)."""
    return CardLayout.of(profile)


@pytest.fixture(scope="session")
def card_role(dut):
    if dut.card is None:
        not_applicable(f"{dut.name} plays no card role")
    return dut.card


@pytest.fixture
def card(card_role, dut, request, profile, layout) -> CardLab:
    """Opens links to the card under test (its samples, with the ICS's test keys); when the test
    ends attaches their traces (to the test), then disconnects them."""
    lab = CardLab(card_role, dut, declaration(request.config), profile=profile, layout=layout)
    at_test_end(request, lab.attach_traces)
    yield lab
    lab.close()


@pytest.fixture
def host(card) -> Host:
    """A connected link to the card under test (the `normal` persona when the harness chooses)."""
    return card.open()


@pytest.fixture
def known_pin(host) -> str | None:
    """The PIN of the card under test: the persona's when the harness chose it, else the sample's
    (ICS `samples` pin, or --dut-info pin); a `Pin`, masked wherever it is shown."""
    return host.pin


@pytest.fixture
def pin(host, card, known_pin) -> str:
    """The known PIN; when the test ends on a sample it restores PIN and try counter (`restore_pin`)."""
    if known_pin is None:
        not_tested("the PIN of the card in the reader is not known",
                   need="the sample's PIN (ICS samples: pin, or --dut-info pin=...)")
    yield known_pin
    card.restore_pin(host)


@pytest.fixture
def opened(host, known_pin) -> Host:
    """The SSSE selected and EF06 opened (key 0A; the PIN on a 2nd-generation card, if known)."""
    host.select_ssse()
    host.open_ef06(known_pin)
    return host
