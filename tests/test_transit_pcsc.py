"""A metro gate and its PSAM complete purchases through the real PC/SC stack: the card in vpcd
slot 0, the PSAM in slot 1, both read through pcscd + pyscard like a terminal's own readers."""

from datetime import date, datetime, timedelta

import pytest

from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.devices.psam import psam_image
from simulator.devices.transit import MetroGate
from simulator.transport import PcscTransport

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(60)]


def test_metro_journey_through_pcscd_and_vpcd(vpcd_slot):
    card = CardOS(personas.image("normal", as_of=date(2026, 11, 23)))
    psam_card = CardOS(psam_image(terminal_id=bytes.fromhex("000000000101")))
    card_reader, _ = vpcd_slot(card, slot=0)
    psam_reader, _ = vpcd_slot(psam_card, slot=1)
    now = [datetime(2026, 11, 23, 8, 0)]
    with PcscTransport(psam_reader) as psam_link:
        entry = MetroGate(terminal_id="G1", station="0101", direction="entry", psam=psam_link, clock=lambda: now[0])
        exit_ = MetroGate(terminal_id="G2", station="0105", direction="exit", psam=psam_link, clock=lambda: now[0])
        first = entry.present(PcscTransport(card_reader))
        now[0] += timedelta(minutes=25)
        second = exit_.present(PcscTransport(card_reader))
    assert (first.reason, second.reason, second.debited) == ("OK", "OK", 500)
    app = next(a for a in card.image.applications.values() if a.kind == "epurse")
    assert int.from_bytes(card.nvm[epurse.balance_key(app.path)], "big", signed=True) == 4500
    assert second.modelled_ms is not None and second.wall_ms > 0
