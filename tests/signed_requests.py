"""Genuine QuickPass authorisations for the bank's tests: what a persona's card really signed.

A POS in front of a bank that approves everything and keeps what it was sent: the requests carry
the card's own cryptograms (ATC 1, 2, ...), the oracle the bank's own check must agree with.
"""

from __future__ import annotations

import random
from datetime import datetime

from simulator.backend.ports import Authorisation, AuthorisationResult
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF
from simulator.devices.pos import QuickPassPOS
from simulator.transport import InProcessTransport

ONLINE = bytes.fromhex("26800000")  # TTQ: online cryptogram required


class Capture:
    """A bank that approves everything and keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[Authorisation] = []

    def authorise(self, request: Authorisation) -> AuthorisationResult:
        self.sent.append(request)
        return AuthorisationResult(request.request_id, True, "00")


def genuine(persona: str = "bank", count: int = 1, amount: int = 500, seed: int = 1) -> list[Authorisation]:
    """`count` authorisations of `amount` fen the card of `persona` really signed."""
    capture, card = Capture(), CardOS(personas.image(persona, as_of=AS_OF))
    pos = QuickPassPOS(terminal_id="POS1", clock=lambda: datetime(2026, 11, 23, 12), bank=capture, amount=amount,
                       ttq=ONLINE, rng=random.Random(seed))
    for _ in range(count):
        pos.present(InProcessTransport(card))
    return capture.sent
