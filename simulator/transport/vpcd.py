"""Present a `Card` to vsmartcard's vpcd reader driver, so real PC/SC clients can talk to it.

vpcd (the pcscd driver of vsmartcard, Debian package vsmartcard-vpcd) listens on TCP, one port
per reader slot (35963 for "Virtual PCD 00 00", 35964 for "... 00 01"): on every interface as
Debian configures it (a terminal's own pcscd, reached as `host`), on 127.0.0.1 only in the pcscd
the project starts (`simulator.transport.pcscd`). A virtual card is a TCP client of it speaking
the vpicc protocol: every message is a 2-byte big-endian length N then N bytes. N == 1 is a
control byte from vpcd: 0 power off, 1 power on, 2 reset, 4 get ATR (only "get ATR" is answered:
the ATR, framed the same way). Any other N is a command APDU, answered with the framed response
APDU. Connecting is inserting the card; closing the socket is pulling it.

Why we speak the protocol ourselves instead of using vsmartcard's own Python side (vicc): Debian
bookworm's python3-virtualsmartcard is broken as packaged. It installs into a directory on no
interpreter's sys.path, needs PyPI's pycryptodome (Debian ships only `Cryptodome`), calls
sys.exit() on connection errors (fatal inside a test process), and costs ~44 ms per APDU: vpcd
(0.8) sends length and body in two writes with Nagle on, so the second write waits for our
delayed ACK. Re-arming TCP_QUICKACK before every recv brings that to ~0.1 ms; TCP_NODELAY on our
side does not help (shared/notes/pcsc-stack.md). The protocol itself is a few lines.

source: vsmartcard virtualsmartcard/src/vpcd/vpcd.c (framing, control bytes), measured behaviour
in shared/notes/pcsc-stack.md.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Self

from simulator.card.interface import Card
from simulator.faults import PowerLost
from simulator.transport.errors import LinkError, LinkTimeoutError

log = logging.getLogger(__name__)

#: vpcd's first slot; the second slot of the same reader is VPCD_PORT + 1.
VPCD_PORT = 35963

#: After a card is pulled, pcscd may never report the next card inserted into the same slot
#: sooner than this (it polls presence every 400 ms): `insert` waits out the remainder.
REINSERT_GAP = 0.5

_CTRL_POWER_OFF = 0
_CTRL_POWER_ON = 1
_CTRL_RESET = 2
_CTRL_GET_ATR = 4
_MAX_FRAME = 0xFFFF

# Slots in use by cards of this process, and when each was last vacated.
_slots_lock = threading.Lock()
_occupied: dict[tuple[str, int], VpcdCard] = {}
_vacated_at: dict[tuple[str, int], float] = {}


class VpcdCard:
    """A card in a vpcd slot, served from a daemon thread. A context manager: insert, remove.

    `insert()` connects to vpcd (retrying until it accepts, or `LinkTimeoutError`) and serves
    until `remove()`, until vpcd hangs up, or until the card raises `PowerLost` (torn away: the
    socket is closed; vpcd answers the pending command with an *empty* response, which
    `PcscTransport` reports as `CardRemovedError`, and pcscd then sees a card removal).
    Nothing ever crashes silently: a protocol or card error ends the session, is logged, and
    is kept in `last_error`; a tear is kept in `tear`.
    """

    def __init__(self, card: Card, *, host: str = "127.0.0.1", port: int = VPCD_PORT) -> None:
        if not isinstance(card, Card):
            raise TypeError(f"VpcdCard needs a Card, got {type(card).__name__}")
        if not isinstance(port, int) or not 0 < port <= 0xFFFF:
            raise ValueError(f"port must be a TCP port number, got {port!r}")
        self.card = card
        self.host = host
        self.port = port
        self.last_error: BaseException | None = None
        self.tear: PowerLost | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._atr: bytes | None = None

    def __repr__(self) -> str:
        state = "inserted" if self.inserted else "out"
        return f"<VpcdCard {type(self.card).__name__} {self.host}:{self.port} {state}>"

    @property
    def inserted(self) -> bool:
        """True while the card is connected to vpcd and being served."""
        return self._thread is not None and self._thread.is_alive()

    def insert(self, *, timeout: float = 5.0) -> None:
        """Connect to vpcd and start serving; `LinkTimeoutError` if vpcd does not accept in time.

        pcscd notices the card at its next presence poll (within 400 ms); wait for that with
        `simulator.transport.pcsc.wait_for_card`.
        """
        if self.inserted:
            raise RuntimeError(f"{self!r} is already inserted")
        self._join(timeout=0)  # reap a session that ended on its own (tear, vpcd hang-up)
        key = (self.host, self.port)
        with _slots_lock:
            holder = _occupied.get(key)
            if holder is not None and holder is not self:
                raise ValueError(f"slot {self.host}:{self.port} already holds {holder!r}")
            _occupied[key] = self
            wait = _vacated_at.get(key, -REINSERT_GAP) + REINSERT_GAP - time.monotonic()
        try:
            if wait > 0:
                time.sleep(wait)
            sock = self._connect(timeout)
        except BaseException:
            with _slots_lock:
                if _occupied.get(key) is self:
                    del _occupied[key]  # never connected: no re-insertion gap needed
            raise
        self._sock = sock
        self._stopping = False
        self._atr = None
        self.last_error = None
        self.tear = None
        self._thread = threading.Thread(target=self._serve, args=(sock,), name=f"vpcd-card:{self.port}", daemon=True)
        self._thread.start()

    def remove(self, *, timeout: float = 5.0) -> None:
        """Pull the card: close the link and join the serving thread. Idempotent."""
        if self._thread is None:
            return
        self._stopping = True
        sock = self._sock
        if sock is not None:
            # Wakes the thread blocked in recv; OSError if the thread already closed it.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._join(timeout=timeout)

    def _join(self, *, timeout: float) -> None:
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            if timeout == 0:
                return
            raise LinkTimeoutError(
                f"{self!r}: the card did not return within {timeout} s (stuck in the card OS?); "
                "its link is closed, the thread will end when the card returns"
            )
        self._thread = None
        self._sock = None

    def __enter__(self) -> Self:
        self.insert()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    # -- the link --------------------------------------------------------------------------

    def _connect(self, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                sock = socket.create_connection((self.host, self.port), timeout=max(remaining, 0.05))
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise LinkTimeoutError(
                        f"vpcd did not accept a card on {self.host}:{self.port} within "
                        f"{timeout} s ({exc}); is pcscd running with the vpcd driver on this port?"
                    ) from exc
                time.sleep(0.01)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _serve(self, sock: socket.socket) -> None:
        buf = bytearray(2 + _MAX_FRAME)
        view = memoryview(buf)
        card = self.card
        try:
            while True:
                if not self._recv_exactly(sock, view[:2]):
                    break
                size = (buf[0] << 8) | buf[1]
                if size and not self._recv_exactly(sock, view[:size]):
                    raise LinkError(f"vpcd closed the link inside a {size}-byte message")
                if size == 1:
                    self._control(sock, buf[0])
                else:
                    self._send(sock, card.transmit(bytes(view[:size])))
            if not self._stopping:
                self.last_error = LinkError("vpcd closed the link (pcscd stopped?)")
                log.warning("%r: %s", self, self.last_error)
        except PowerLost as exc:
            self.tear = exc
            log.info("%r torn away (%s): closing the link, pcscd sees a removal", self, exc)
        except OSError as exc:
            if not self._stopping:
                self.last_error = exc
                log.warning("%r: link error %s", self, exc)
        except Exception as exc:
            self.last_error = exc
            log.exception("%r: session ended by an error", self)
        finally:
            view.release()
            sock.close()
            self._vacate()

    @staticmethod
    def _recv_exactly(sock: socket.socket, view: memoryview) -> bool:
        """Fill `view`; False on a clean end of stream before the first byte."""
        got = 0
        need = len(view)
        while got < need:
            # Re-armed before every recv: the kernel drops quick-ACK mode on its own, and
            # without it each APDU waits ~44 ms for our delayed ACK (see the module docstring).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            n = sock.recv_into(view[got:])
            if n == 0:
                if got == 0:
                    return False
                raise LinkError(f"vpcd closed the link after {got} of {need} bytes")
            got += n
        return True

    def _control(self, sock: socket.socket, code: int) -> None:
        card = self.card
        if code == _CTRL_GET_ATR:
            if self._atr is None:
                # Asked before any power-up (presence poll of a fresh card): like a reader,
                # learn the ATR by powering the card up.
                self._atr = card.power_up()
            self._send(sock, self._atr)
        elif code == _CTRL_POWER_ON:
            self._atr = card.power_up()
        elif code == _CTRL_POWER_OFF:
            card.power_down()
        elif code == _CTRL_RESET:
            self._atr = card.reset()
        else:
            self.last_error = LinkError(f"vpcd sent unknown control byte 0x{code:02X}; ignored")
            log.warning("%r: %s", self, self.last_error)

    @staticmethod
    def _send(sock: socket.socket, body: bytes) -> None:
        if len(body) > _MAX_FRAME:
            raise LinkError(f"a {len(body)}-byte answer does not fit a vpicc frame (at most {_MAX_FRAME})")
        sock.sendall(len(body).to_bytes(2, "big") + body)  # one write: length and body

    def _vacate(self) -> None:
        key = (self.host, self.port)
        with _slots_lock:
            if _occupied.get(key) is self:
                del _occupied[key]
                _vacated_at[key] = time.monotonic()
