"""The one shape every transport has: connect (ATR), transmit (APDU in, response + SW out).

Template method, as pySim's `LinkBase` and pyscard's `CardConnection`: the public methods are
written once here (connection state, tracing, timing); a transport implements only the private
primitives `_connect`, `_transmit` and `_disconnect`, and translates its library's exceptions
into `simulator.transport.errors` inside them.

Tracers are injected, so APDU logs, report attachments and (later, in their own layer) personal
data masking live in one place and not in every driver. With no tracer attached, `transmit` costs
one attribute test and one call over the primitive: the in-process link is the embedded default
and has to carry more than 50k APDU/s.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from simulator.apdu import CommandAPDU, ResponseAPDU
from simulator.transport.errors import NoCardError


@runtime_checkable
class Tracer(Protocol):
    """Observes a transport. Called synchronously; an exception it raises propagates."""

    def on_connect(self, atr: bytes) -> None: ...

    def on_exchange(self, command: bytes, response: bytes, seconds: float) -> None:
        """One command and its full response (data + SW), `seconds` by the transport's clock."""
        ...

    def on_error(self, command: bytes | None, exc: Exception) -> None:
        """`command` failed with `exc` (None when the failure was in connect)."""
        ...


@dataclass(frozen=True, slots=True)
class Exchange:
    """One traced round trip; bytes as on the wire, unmasked."""

    command: bytes
    response: bytes
    seconds: float


class TraceRecorder:
    """A tracer that keeps everything in lists, for tests and report attachments.

    It records raw bytes: masking personal data is a later layer on top, not done here.
    """

    def __init__(self) -> None:
        self.atrs: list[bytes] = []
        self.exchanges: list[Exchange] = []
        self.errors: list[tuple[bytes | None, Exception]] = []

    def on_connect(self, atr: bytes) -> None:
        self.atrs.append(atr)

    def on_exchange(self, command: bytes, response: bytes, seconds: float) -> None:
        self.exchanges.append(Exchange(command, response, seconds))

    def on_error(self, command: bytes | None, exc: Exception) -> None:
        self.errors.append((command, exc))


class Transport(ABC):
    """A link to one card. Use as a context manager: enter connects, exit disconnects.

    `connect()` on a connected transport reconnects, which powers the card down and up again
    (a cold reset). After a `LinkError` the transport may be disconnected (see the subclass);
    `transmit` on a disconnected transport raises `NoCardError`.
    """

    def __init__(
        self,
        *,
        tracers: Iterable[Tracer] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._tracers: list[Tracer] = list(tracers)
        self._clock = clock
        self._atr: bytes | None = None

    # -- what a transport implements -------------------------------------------------------

    @abstractmethod
    def _connect(self) -> bytes:
        """Power the card up and return its ATR."""

    @abstractmethod
    def _transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return the response including SW1 SW2."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Release the card (power it down); must not raise for a card that is already gone."""

    # -- the public face, written once -----------------------------------------------------

    @property
    def atr(self) -> bytes | None:
        """The ATR of the current connection, or None when not connected."""
        return self._atr

    @property
    def connected(self) -> bool:
        return self._atr is not None

    def add_tracer(self, tracer: Tracer) -> None:
        self._tracers.append(tracer)

    def remove_tracer(self, tracer: Tracer) -> None:
        """Detach a tracer added earlier (a no-op if it is not attached)."""
        if tracer in self._tracers:
            self._tracers.remove(tracer)

    def connect(self) -> bytes:
        """Power the card up (reconnecting if connected); return the ATR."""
        if self._atr is not None:
            self.disconnect()
        try:
            atr = bytes(self._connect())
        except Exception as exc:
            for tracer in self._tracers:
                tracer.on_error(None, exc)
            raise
        self._atr = atr
        for tracer in self._tracers:
            tracer.on_connect(atr)
        return atr

    def transmit(self, apdu: bytes) -> bytes:
        """Send a command APDU; return the response APDU bytes (data + SW1 SW2)."""
        if self._atr is None:
            raise NoCardError(
                "transport not connected (never connected, disconnected, or the card was torn "
                "away): call connect() first"
            )
        if not self._tracers:
            return self._transmit(apdu)
        start = self._clock()
        try:
            response = self._transmit(apdu)
        except Exception as exc:
            for tracer in self._tracers:
                tracer.on_error(apdu, exc)
            raise
        seconds = self._clock() - start
        for tracer in self._tracers:
            tracer.on_exchange(apdu, response, seconds)
        return response

    def send(
        self,
        cla: int,
        ins: int,
        p1: int,
        p2: int,
        data: bytes = b"",
        le: int | None = None,
    ) -> ResponseAPDU:
        """Encode a command (short or extended length as needed), transmit, parse the answer."""
        raw = CommandAPDU(cla, ins, p1, p2, bytes(data), le).to_bytes()
        return ResponseAPDU.parse(self.transmit(raw))

    def disconnect(self) -> None:
        """Release the card; a no-op when not connected."""
        if self._atr is None:
            return
        self._atr = None
        self._disconnect()

    def _lost(self) -> None:
        """For subclasses: the card is gone (torn away), so the connection is over."""
        self._atr = None

    def __enter__(self) -> Self:
        if self._atr is None:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
