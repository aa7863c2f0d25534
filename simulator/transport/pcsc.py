"""A `Transport` through the PC/SC stack (pcscd) with pyscard, plus reader listing and waiting.

We call pyscard's thin `smartcard.scard` layer, which returns PC/SC return codes instead of
raising, and translate the codes in one table: they are the codes behind pyscard's
`NoCardException` (0x8010000C), "Card was removed" (0x80100069), "Transaction failed"
(0x80100016) and `EstablishContextException` / "Service not available" (0x8010001D). Matching
codes is exact where matching pyscard's messages would not be, and it saves the high-level
connection's per-APDU conversions and observer dispatch.

Waiting for a card uses SCardGetStatusChange (it wakes on pcscd's own state change) rather than
fixed sleeps. pcscd polls vpcd readers every 400 ms, so an insertion shows up within ~0.4 s.
After pulling a card, wait >= 0.5 s before inserting another in the same slot
(`simulator.transport.vpcd.VpcdCard` does so itself) or pcscd may never report it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from smartcard import scard

from simulator.transport.base import Tracer, Transport
from simulator.transport.errors import (
    CardRemovedError,
    LinkError,
    LinkTimeoutError,
    NoCardError,
    ReaderNotFoundError,
    ServiceUnavailableError,
)

_OK = scard.SCARD_S_SUCCESS

#: PC/SC return code -> our error. Codes not listed become a plain `LinkError`.
_ERRORS: dict[int, type[LinkError]] = {
    scard.SCARD_E_NO_SMARTCARD: NoCardError,
    scard.SCARD_W_REMOVED_CARD: CardRemovedError,
    scard.SCARD_E_NOT_TRANSACTED: CardRemovedError,  # the card vanished mid-transmit
    scard.SCARD_W_UNPOWERED_CARD: CardRemovedError,
    scard.SCARD_E_NO_SERVICE: ServiceUnavailableError,
    scard.SCARD_E_SERVICE_STOPPED: ServiceUnavailableError,
    scard.SCARD_E_TIMEOUT: LinkTimeoutError,
}
#: Codes meaning the named reader is not there.
_NO_READER = frozenset(
    {
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_NO_READERS_AVAILABLE,
    }
)


def _error(hresult: int, doing: str) -> LinkError:
    cls = _ERRORS.get(hresult, LinkError)
    return cls(f"{doing}: {scard.SCardGetErrorMessage(hresult)} (0x{hresult & 0xFFFFFFFF:08X})")


def _establish() -> int:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != _OK:
        raise _error(hresult, "cannot reach pcscd (is it running?)")
    return context


def _release(context: int) -> None:
    scard.SCardReleaseContext(context)


def _list(context: int) -> list[str]:
    hresult, readers = scard.SCardListReaders(context, [])
    if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if hresult != _OK:
        raise _error(hresult, "listing readers")
    return list(readers)


def _reader_not_found(context: int, reader: str) -> ReaderNotFoundError:
    try:
        available = _list(context)
    except LinkError:
        available = []
    return ReaderNotFoundError(reader, available)


def list_readers() -> list[str]:
    """Names of the readers pcscd knows; `ServiceUnavailableError` if pcscd is not running."""
    context = _establish()
    try:
        return _list(context)
    finally:
        _release(context)


def wait_for_card(reader: str, *, present: bool = True, timeout: float = 5.0) -> bytes:
    """Block until `reader` holds a responsive card (returns its ATR) or is empty (returns b"").

    Raises `LinkTimeoutError` after `timeout` seconds, `ReaderNotFoundError` for an unknown
    reader (listing the known ones), `ServiceUnavailableError` if pcscd is not running.
    """
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
    deadline = time.monotonic() + timeout
    want = "a card" if present else "no card"
    context = _establish()
    try:
        state = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(context, remaining_ms, [(reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                raise LinkTimeoutError(
                    f"reader {reader!r} did not report {want} within {timeout} s (state 0x{state:04X})"
                )
            if hresult in _NO_READER:
                raise _reader_not_found(context, reader)
            if hresult != _OK:
                raise _error(hresult, f"waiting for {want} in {reader!r}")
            _, event, atr = states[0]
            if event & scard.SCARD_STATE_UNKNOWN:
                raise _reader_not_found(context, reader)
            if present:
                if event & scard.SCARD_STATE_PRESENT and not event & scard.SCARD_STATE_MUTE:
                    return bytes(atr)
            elif event & scard.SCARD_STATE_EMPTY:
                return b""
            state = event & ~scard.SCARD_STATE_CHANGED
    finally:
        _release(context)


class PcscTransport(Transport):
    """A card in a PC/SC reader, by reader name, in shared mode.

    connect() offers T=0 and T=1 and uses whichever pcscd negotiates from the ATR; disconnect()
    powers the card down, so card state (the selected application) does not survive it.
    """

    def __init__(
        self,
        reader: str,
        *,
        tracers: Iterable[Tracer] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not isinstance(reader, str) or not reader:
            raise ValueError(f"reader must be a non-empty reader name, got {reader!r}")
        super().__init__(tracers=tracers, clock=clock)
        self.reader = reader
        self.protocol: int | None = None  # scard.SCARD_PROTOCOL_T0 or _T1 once connected
        self._context: int | None = None
        self._card: int | None = None
        self._pci = scard.SCARD_PCI_T1

    def _connect(self) -> bytes:
        context = _establish()
        try:
            hresult, card, protocol = scard.SCardConnect(
                context,
                self.reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if hresult in _NO_READER:
                raise _reader_not_found(context, self.reader)
            if hresult == scard.SCARD_W_REMOVED_CARD:  # at connect time: simply no card
                hresult = scard.SCARD_E_NO_SMARTCARD
            if hresult != _OK:
                raise _error(hresult, f"connecting to {self.reader!r}")
            hresult, _name, _state, _protocol, atr = scard.SCardStatus(card)
            if hresult != _OK:
                scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
                raise _error(hresult, f"reading the ATR in {self.reader!r}")
        except BaseException:
            _release(context)
            raise
        self._context, self._card, self.protocol = context, card, protocol
        self._pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        return bytes(atr)

    def _transmit(self, apdu: bytes) -> bytes:
        hresult, response = scard.SCardTransmit(self._card, self._pci, list(apdu))
        if hresult != _OK:
            raise _error(hresult, f"transmit to {self.reader!r}")
        if len(response) < 2:
            # vpcd reports success with no bytes when the card's socket closed before it
            # answered (a card torn away mid-command): a response without SW is a lost card.
            raise CardRemovedError(
                f"transmit to {self.reader!r}: {len(response)}-byte response without a status "
                "word (the card's link dropped mid-command)"
            )
        return bytes(response)

    def _disconnect(self) -> None:
        card, context = self._card, self._context
        self._card = self._context = self.protocol = None
        try:
            if card is not None:
                # Return code ignored: a pulled card or a stopped pcscd leaves nothing to free.
                scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
        finally:
            if context is not None:
                _release(context)
