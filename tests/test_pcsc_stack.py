"""Through the real PC/SC stack: our card behind vpcd, pcscd in the middle, pyscard in front.

Every failure of the stack must surface as a specific `LinkError` (a *broken* verdict), never
as a pass. One pcscd serves the whole session (pcscd polls card presence every 400 ms, so each
insertion costs up to that); tests alternate the two slots to avoid the re-insertion gap.
"""

from __future__ import annotations

import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from simulator.apdu import SW, CommandAPDU, ResponseAPDU
from simulator.card.interface import EchoCard
from simulator.faults import PowerLost
from simulator.transport import (
    CardRemovedError,
    LinkTimeoutError,
    NoCardError,
    Pcscd,
    PcscTransport,
    ReaderNotFoundError,
    ServiceUnavailableError,
    TraceRecorder,
    VpcdCard,
    list_readers,
    open_transport,
    wait_for_card,
)

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(15)]

READ_BINARY = bytes.fromhex("00B0000010")


class LengthCard(EchoCard):
    """Answers any command with Ne pattern bytes + 9000 and keeps what it received."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.received.append(apdu)
        ne = CommandAPDU.parse(apdu).ne or 0
        return bytes(i & 0xFF for i in range(ne)) + b"\x90\x00"


class TaggedCard(EchoCard):
    """Echoes the command data behind its own tag, so answers show which card gave them."""

    def __init__(self, tag: bytes) -> None:
        self.tag = tag

    def transmit(self, apdu: bytes) -> bytes:
        return self.tag + apdu[5:] + b"\x90\x00"


class TearingCard(EchoCard):
    """Loses power (a tear) in its `tear_at`-th transmit (0-based)."""

    def __init__(self, tear_at: int) -> None:
        self.tear_at = tear_at
        self.transmits = 0

    def transmit(self, apdu: bytes) -> bytes:
        index = self.transmits
        self.transmits += 1
        if index == self.tear_at:
            raise PowerLost("test.tear", index)
        return super().transmit(apdu)


def free_port_pair() -> int:
    """A port P with P and P + 1 free right now (for a pcscd or card that must find nobody)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 0xFFFF:
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair found")


def test_echo_card_seen_through_pyscard(vpcd_slot):
    reader, _ = vpcd_slot(EchoCard(), slot=0)
    assert wait_for_card(reader, timeout=1) == EchoCard.atr
    recorder = TraceRecorder()
    with PcscTransport(reader, tracers=[recorder]) as link:
        assert link.atr == EchoCard.atr
        assert link.protocol is not None
        assert link.transmit(bytes.fromhex("00D6000004DEADBEEF")) == bytes.fromhex("DEADBEEF9000")
        assert link.send(0x00, 0xB0, 0, 0, le=16) == ResponseAPDU(b"", SW.OK)
    assert recorder.atrs == [EchoCard.atr]
    assert [e.response for e in recorder.exchanges] == [bytes.fromhex("DEADBEEF9000"), b"\x90\x00"]
    assert all(0 < e.seconds < 1 for e in recorder.exchanges)
    with open_transport(f"pcsc:{reader}") as link:  # the registry reaches the same reader
        assert link.transmit(READ_BINARY) == b"\x90\x00"


def test_extended_length_apdu(vpcd_slot):
    card = LengthCard()
    reader, _ = vpcd_slot(card, slot=1)
    data = bytes(range(256)) * 2  # 512 bytes: needs an extended Lc
    with PcscTransport(reader) as link:
        response = link.send(0x80, 0xCA, 0x01, 0x02, data=data, le=4096)
    assert response.sw == SW.OK
    assert response.data == bytes(i & 0xFF for i in range(4096))
    assert card.received == [CommandAPDU(0x80, 0xCA, 0x01, 0x02, data, 4096).to_bytes()]


def test_two_slots_in_parallel_without_cross_talk(vpcd_slot):
    tags = [b"A", b"B"]
    readers = {tag: vpcd_slot(TaggedCard(tag), slot=slot)[0] for slot, tag in enumerate(tags)}

    def hammer(tag: bytes) -> bytes:
        with PcscTransport(readers[tag]) as link:
            for i in range(300):
                payload = os.urandom(1 + i % 32)
                command = bytes((0x00, 0xD6, 0, 0, len(payload))) + payload
                assert link.transmit(command) == tag + payload + b"\x90\x00"
        return tag

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(hammer, readers)) == sorted(readers)


def test_card_removed_mid_session_is_an_error(vpcd_slot):
    reader, vcard = vpcd_slot(EchoCard(), slot=0)
    with PcscTransport(reader) as link:
        assert link.transmit(READ_BINARY) == b"\x90\x00"
        vcard.remove()
        with pytest.raises(CardRemovedError):
            link.transmit(READ_BINARY)
        with pytest.raises(CardRemovedError):  # and it stays an error, never a pass
            link.transmit(READ_BINARY)
    # Another card in the same slot is seen (VpcdCard waits out pcscd's re-insertion gap).
    reader, _ = vpcd_slot(TaggedCard(b"N"), slot=0)
    with PcscTransport(reader) as link:
        assert link.transmit(READ_BINARY) == b"N\x90\x00"


def test_power_lost_mid_command_is_card_removed(vpcd_slot):
    reader, vcard = vpcd_slot(TearingCard(tear_at=1), slot=1)
    with PcscTransport(reader) as link:
        assert link.transmit(READ_BINARY) == b"\x90\x00"
        with pytest.raises(CardRemovedError):
            link.transmit(READ_BINARY)
    vcard.remove()
    assert isinstance(vcard.tear, PowerLost)
    assert vcard.last_error is None
    assert wait_for_card(reader, present=False, timeout=2) == b""


def test_no_card_is_no_card_error(pcscd):
    reader = pcscd.reader(1)
    wait_for_card(reader, present=False, timeout=2)
    with pytest.raises(NoCardError):
        PcscTransport(reader).connect()


def test_wait_for_card_times_out_on_an_empty_slot(pcscd):
    reader = pcscd.reader(1)
    wait_for_card(reader, present=False, timeout=2)
    with pytest.raises(LinkTimeoutError, match="did not report a card"):
        wait_for_card(reader, present=True, timeout=0.1)


def test_unknown_reader_names_the_readers(pcscd):
    with pytest.raises(ReaderNotFoundError) as info:
        PcscTransport("Gemalto PC Twin Reader 00 00").connect()
    assert "Virtual PCD 00 00" in str(info.value)
    assert info.value.available == pcscd.readers
    with pytest.raises(ReaderNotFoundError, match="Virtual PCD 00 01"):
        wait_for_card("No Such Reader", timeout=0.5)


def test_pcscd_not_running_is_service_unavailable(pcscd):
    pcscd.stop()
    try:
        with pytest.raises(ServiceUnavailableError):
            list_readers()
        with pytest.raises(ServiceUnavailableError):
            PcscTransport(pcscd.reader(0)).connect()
    finally:
        pcscd.start()
    assert list_readers() == list(pcscd.readers)


def test_second_pcscd_is_refused_with_an_explanation(pcscd):
    other = Pcscd(port=free_port_pair())
    with pytest.raises(ServiceUnavailableError, match=f"another pcscd.*pid {pcscd.pid}"):
        other.start()
    assert not other.running


def test_busy_port_is_explained(pcscd):
    pcscd.stop()
    try:
        with socket.socket() as squatter:
            squatter.bind(("0.0.0.0", 0))
            squatter.listen()
            port = squatter.getsockname()[1]
            with pytest.raises(ServiceUnavailableError, match=f"port {port} is in use"):
                Pcscd(port=port).start()
    finally:
        pcscd.start()


def test_card_without_vpcd_times_out():
    vcard = VpcdCard(EchoCard(), port=free_port_pair())
    with pytest.raises(LinkTimeoutError, match="is pcscd running"):
        vcard.insert(timeout=0.2)
    assert not vcard.inserted


def test_one_card_per_slot(vpcd_slot):
    _, vcard = vpcd_slot(EchoCard(), slot=1)
    with pytest.raises(ValueError, match="already holds"):
        VpcdCard(EchoCard(), port=vcard.port).insert()


def test_no_card_thread_left_behind():
    assert not [t for t in threading.enumerate() if t.name.startswith("vpcd-card")]
