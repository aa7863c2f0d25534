"""Shared fixtures: one pcscd per session, and virtual cards in its two vpcd slots.

Teardown order matters for the real stack: tests disconnect their readers (use PcscTransport as
a context manager), then `vpcd_slot` pulls the cards, then `pcscd` stops the daemon.
"""

from __future__ import annotations

import pytest

from simulator.card.interface import Card
from simulator.transport import Pcscd, VpcdCard, wait_for_card


@pytest.fixture(scope="session")
def pcscd():
    """Our pcscd with vpcd on the default port (35963/35964), started once per session."""
    with Pcscd() as daemon:
        yield daemon


@pytest.fixture
def vpcd_slot(pcscd):
    """Factory `insert(card, slot=0) -> (reader name, VpcdCard)`; waits until pcscd sees it."""
    inserted: list[VpcdCard] = []

    def insert(card: Card, slot: int = 0) -> tuple[str, VpcdCard]:
        reader = pcscd.reader(slot)
        vcard = VpcdCard(card, port=pcscd.slot_port(slot))
        vcard.insert()
        inserted.append(vcard)
        wait_for_card(reader, present=True, timeout=3)
        return reader, vcard

    yield insert
    for vcard in reversed(inserted):
        vcard.remove()
