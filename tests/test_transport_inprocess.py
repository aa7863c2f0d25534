"""The in-process link and the parts every transport shares: tracing, send(), the registry."""

from __future__ import annotations

import pytest

from simulator.apdu import SW, CommandAPDU, ResponseAPDU
from simulator.card.interface import EchoCard
from simulator.faults import PowerLost
from simulator.transport import (
    CardRemovedError,
    Exchange,
    InProcessTransport,
    NoCardError,
    PcscTransport,
    TraceRecorder,
    open_transport,
)

READ_BINARY = bytes.fromhex("00B0000010")


class CountingCard(EchoCard):
    """EchoCard that counts power cycles and tears at its `tear_at`-th transmit (0-based)."""

    def __init__(self, *, tear_at: int | None = None) -> None:
        self.tear_at = tear_at
        self.transmits = 0
        self.power_ups = 0
        self.power_downs = 0

    def power_up(self) -> bytes:
        self.power_ups += 1
        return super().power_up()

    def power_down(self) -> None:
        self.power_downs += 1

    def transmit(self, apdu: bytes) -> bytes:
        index = self.transmits
        self.transmits += 1
        if index == self.tear_at:
            raise PowerLost("test.tear", index)
        return super().transmit(apdu)


class FakeClock:
    """Each reading advances by `step` seconds: an exchange takes exactly one step."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_round_trip_powers_card_and_echoes():
    card = CountingCard()
    with InProcessTransport(card) as link:
        assert link.atr == EchoCard.atr
        assert card.power_ups == 1
        assert link.transmit(bytes.fromhex("00D6000003AABBCC")) == bytes.fromhex("AABBCC9000")
        assert link.transmit(READ_BINARY) == b"\x90\x00"
    assert not link.connected
    assert card.power_downs == 1


def test_send_encodes_and_parses():
    link = InProcessTransport(EchoCard())
    link.connect()
    assert link.send(0x00, 0xD6, 0, 0, data=b"\x01\x02") == ResponseAPDU(b"\x01\x02", SW.OK)
    # extended length: the card receives exactly what CommandAPDU encodes
    big = bytes(300)
    expected = CommandAPDU(0x00, 0xD6, 0, 0, big, 4096).to_bytes()
    assert link.send(0x00, 0xD6, 0, 0, data=big, le=4096).data == expected[5:]


def test_tracer_records_exchanges_with_injected_clock():
    recorder = TraceRecorder()
    link = InProcessTransport(EchoCard(), tracers=[recorder], clock=FakeClock(0.25))
    link.connect()
    link.transmit(bytes.fromhex("00D6000001AA"))
    link.transmit(READ_BINARY)
    assert recorder.atrs == [EchoCard.atr]
    assert recorder.exchanges == [
        Exchange(bytes.fromhex("00D6000001AA"), bytes.fromhex("AA9000"), 0.25),
        Exchange(READ_BINARY, b"\x90\x00", 0.25),
    ]
    assert recorder.errors == []


def test_tear_is_card_removed_and_disconnects():
    card = CountingCard(tear_at=1)
    recorder = TraceRecorder()
    link = InProcessTransport(card, tracers=[recorder])
    link.connect()
    link.transmit(READ_BINARY)
    with pytest.raises(CardRemovedError) as info:
        link.transmit(READ_BINARY)
    assert isinstance(info.value.__cause__, PowerLost)
    assert not link.connected
    assert recorder.errors == [(READ_BINARY, info.value)]
    with pytest.raises(NoCardError):  # never a silent pass after a tear
        link.transmit(READ_BINARY)
    assert link.connect() == EchoCard.atr  # re-powered by a new connect
    assert card.power_ups == 2
    assert link.transmit(READ_BINARY) == b"\x90\x00"


def test_transmit_before_connect_is_no_card():
    with pytest.raises(NoCardError, match="not connected"):
        InProcessTransport(EchoCard()).transmit(READ_BINARY)


def test_reconnect_is_a_power_cycle():
    card = CountingCard()
    link = InProcessTransport(card)
    link.connect()
    link.connect()
    assert (card.power_ups, card.power_downs) == (2, 1)


def test_rejects_what_is_not_a_card():
    with pytest.raises(TypeError, match="needs a Card"):
        InProcessTransport(object())


def test_registry_opens_by_scheme():
    card = EchoCard()
    link = open_transport("inprocess", card=card)
    assert isinstance(link, InProcessTransport) and link.card is card
    pcsc = open_transport("pcsc:Virtual PCD 00 01")
    assert isinstance(pcsc, PcscTransport) and pcsc.reader == "Virtual PCD 00 01"
    assert not pcsc.connected  # opening does not connect


@pytest.mark.parametrize(
    ("spec", "kwargs", "message"),
    [
        ("serial:/dev/ttyS0", {}, "valid schemes: inprocess, pcsc"),
        ("inprocess", {}, "needs the card"),
        ("pcsc:", {}, "needs a reader name"),
        ("pcsc:Virtual PCD 00 00", {"card": EchoCard()}, "do not pass card="),
    ],
)
def test_registry_errors_name_the_problem(spec, kwargs, message):
    with pytest.raises(ValueError, match=message):
        open_transport(spec, **kwargs)
