"""The load kiosk talks to the load host through its port (`ports.LoadHostPort`).

The kiosk of simulator/devices/transit.py sends one `LoadRequest` through whatever implements
the port: the issuer's host by default, here a recorder in front of it, or a host that refuses.
The oracle is the card's own balance.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from simulator.backend.load_host import LoadHost as IssuerLoadHost
from simulator.backend.ports import LoadAnswer, LoadRequest
from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.clock import Clock
from simulator.devices.transit import LoadKiosk
from simulator.transport import InProcessTransport


class Recorder:
    def __init__(self, port, *, refuse: bool = False):
        self.port, self.refuse, self.sent = port, refuse, []

    def authorise(self, request: LoadRequest) -> LoadAnswer:
        self.sent.append(request)
        answer = self.port.authorise(request)
        return dataclasses.replace(answer, approved=False, mac2=b"", detail="refused by the host") if self.refuse \
            else answer


def _balance(card: CardOS) -> int:
    app = next(a for a in card.image.applications.values() if a.kind == "epurse")
    return int.from_bytes(card.nvm[epurse.balance_key(app.path)], "big", signed=True)


def _load(port) -> tuple:
    card = CardOS(personas.image("normal", as_of=date(2026, 11, 23)))
    before = _balance(card)
    kiosk = LoadKiosk(terminal_id="000000000301", amount=3000, clock=Clock(), host=port)
    return kiosk.present(InProcessTransport(card)), _balance(card) - before


def test_a_load_goes_through_the_port_once_with_its_own_id():
    recorder = Recorder(IssuerLoadHost())
    out, loaded = _load(recorder)
    assert (out.reason, out.loaded, loaded) == ("OK", 3000, 3000)
    [request] = recorder.sent
    assert request.amount == 3000 and request.request_id.startswith("load:") and len(request.mac1) == 4


def test_a_refusal_from_the_port_is_declined_and_loads_nothing():
    out, loaded = _load(Recorder(IssuerLoadHost(), refuse=True))
    assert (out.reason, out.loaded, loaded) == ("DECLINED", 0, 0) and "refused by the host" in out.detail
