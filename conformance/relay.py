"""The harness side of the APDU relay: serves one card over HTTP to a terminal under test.

For `http:` DUTs (conformance/adapters/http.py): a terminal that has no PC/SC reader for the
harness's virtual card reaches it through `simulator.transport.relay.RelayTransport`, speaking
the `cardRelay` callbacks of profiles/national/terminal_api.yaml:

    POST <url>/power {"action": "up"|"down"}  ->  {"atr": hex}
    POST <url>/apdu  {"command": hex}         ->  {"response": hex}

A `CardRelay` is one presentation of one card: `start()` binds a random free port (127.0.0.1
unless told otherwise) and serves from daemon threads; `close()` ends the presentation, powers
the card down (it left the field) and answers any late request 410 Gone. A tear (the card raises
`simulator.faults.PowerLost`) answers that command 410 Gone and every later one too: to the
terminal the card was pulled mid-command, exactly as a torn card in the field. The URL carries a
random token, so a stale terminal request or a stranger on the network cannot reach a card it
was not shown. Request bodies are checked against the protocol document
(`conformance.adapters.http.parse`), and everything the relay refuses, http.server's own refusals
included, is answered with the protocol's JSON error body. source: modelled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from conformance.adapters.http import InvalidRequest, parse
from simulator.card.interface import Card
from simulator.faults import PowerLost

log = logging.getLogger(__name__)

#: the largest request body accepted: a 65,535-byte APDU as hex, with room for the JSON around it
MAX_BODY = 2 * 0x10000 + 256
#: what the relay reads and drops, at most, of a body it refused unread (bytes, seconds), so that
#: closing the connection does not reset it before the client has read the refusal
DRAIN = (64 << 20, 5.0)
#: the relay's operations: the last part of the URL path -> the protocol's schema of the request body
OPERATIONS = {"power": "PowerRequest", "apdu": "ApduRequest"}


class CardRelay:
    """Serves `card` over HTTP until closed. A context manager: start, close."""

    def __init__(self, card: Card, *, host: str = "127.0.0.1", advertise: str | None = None) -> None:
        if not isinstance(card, Card):
            raise TypeError(f"CardRelay needs a Card, got {type(card).__name__}")
        self.card = card
        self.host = host
        self.advertise = advertise or host
        self.tear: PowerLost | None = None  # the PowerLost that ended the presentation, if any
        self.errors: list[str] = []  # what went wrong on the harness's side (not the terminal's)
        self.requests = 0
        self.token = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._closed = False
        self._powered = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<CardRelay {self.url if self._server else 'not started'}>"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the relay is not started: call start() first")
        host = self.advertise if ":" not in self.advertise else f"[{self.advertise}]"
        return f"http://{host}:{self._server.server_address[1]}/{self.token}"

    def start(self) -> str:
        """Bind a free port and serve; returns the relay's URL."""
        if self._server is not None:
            raise RuntimeError(f"{self!r} is already started")
        server = (_Server6 if ":" in self.host else _Server)((self.host, 0), _Handler)
        server.relay = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005},
                                        name=f"card-relay:{server.server_address[1]}", daemon=True)
        self._thread.start()
        return self.url

    def close(self) -> None:
        """End the presentation: the card leaves the field. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._powered and self.tear is None:
                # a card fault is kept in self.errors; a tear does not matter: it is leaving anyway
                with contextlib.suppress(_CardFault, PowerLost):
                    self._call(self.card.power_down)
            self._powered = False
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what a request does ---------------------------------------------------------------

    def handle(self, operation: str, raw: bytes) -> tuple[int, dict]:
        """Answer one relay request (an `OPERATIONS` name and its body): (HTTP status, JSON body)."""
        with self._lock:
            self.requests += 1
            try:
                body = parse(raw, OPERATIONS[operation])
            except InvalidRequest as exc:
                return 400, _error("invalid_request", f"{operation}: {exc}")
            if self._closed or self.tear is not None:
                why = f"torn away: {self.tear}" if self.tear is not None else "the presentation is over"
                return 410, _error("card_gone", f"the card has left the field ({why})")
            try:
                if operation == "power" and body["action"] == "up":
                    atr = self._call(self.card.power_up)
                    self._powered = True
                    return 200, {"atr": atr.hex().upper()}
                if operation == "power":
                    self._call(self.card.power_down)
                    self._powered = False
                    return 200, {"atr": ""}
                if not self._powered:
                    return 400, _error("invalid_request", "the card is not powered: POST power {\"action\": \"up\"}")
                return 200, {"response": self._call(self.card.transmit, bytes.fromhex(body["command"])).hex().upper()}
            except PowerLost as exc:
                self.tear = exc
                self._powered = False
                log.info("%r: card torn away (%s): answering 410 from now on", self, exc)
                return 410, _error("card_gone", f"the card was torn away mid-command ({exc})")

    def _call(self, function, *args):
        try:
            return function(*args)
        except PowerLost:
            raise
        except Exception as exc:  # the card broke its contract: a harness problem, kept and reported
            self.errors.append(f"{type(exc).__name__}: {exc}")
            log.exception("%r: the card raised", self)
            raise _CardFault(exc) from exc


class _CardFault(Exception):
    pass


def _error(code: str, detail: str) -> dict:
    return {"error": code, "detail": detail}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            log.debug("relay: the terminal at %s went away: %s", client_address, exc)  # its own business
        else:
            log.exception("relay: request from %s failed", client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for the whole transaction
    timeout = 30  # an idle keep-alive connection ends after this many seconds
    server: ThreadingHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY the body waits ~40 ms for the
        # client's delayed ACK (the same trap as vpcd's, simulator/transport/vpcd.py).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        relay: CardRelay = self.server.relay  # type: ignore[attr-defined]
        length = self._length()
        if length is None:
            return
        raw = self.rfile.read(length)
        prefix, _, operation = urlsplit(self.path).path.rpartition("/")
        if prefix != f"/{relay.token}" or operation not in OPERATIONS:
            self._reply(404, _error("not_found", f"no relay operation at {self.path}"))
            return
        try:
            status, answer = relay.handle(operation, raw)
        except _CardFault as exc:
            status, answer = 500, _error("harness_fault", f"the harness's card failed: {exc.__cause__}")
        self._reply(status, answer)

    def _length(self) -> int | None:
        """The body's length from Content-Length; None once a refusal is sent."""
        text = self.headers.get("Content-Length", "0")
        if "Transfer-Encoding" in self.headers or not text.isdecimal():
            self.send_error(HTTPStatus.BAD_REQUEST, "the relay takes a body with a Content-Length of decimal digits")
            return None
        if int(text) > MAX_BODY:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a {text}-byte body is larger than {MAX_BODY} bytes")
            return None
        return int(text)

    def _drain(self) -> None:
        """Finish the answer, then read and drop what the client still sends (up to `DRAIN`): a socket
        closed with unread data sends a TCP reset, which can destroy the answer before it is read."""
        self.wfile.flush()
        limit, seconds = DRAIN
        deadline = time.monotonic() + seconds
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while limit > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                limit -= len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A refusal that ends the connection (the rest of the stream cannot be trusted to start a
        request): ours of a body's framing, and http.server's own (a bad request line, a method
        without `do_<METHOD>`, ...), as the protocol's JSON error. A method other than POST is 405
        with `Allow: POST`, as RFC 9110 asks."""
        if code == HTTPStatus.NOT_IMPLEMENTED:  # what http.server answers a method it has no do_ for
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"the relay takes POST, not {self.command}"
        self.close_connection = True
        error = "not_found" if code in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED) else "invalid_request"
        self._reply(code, _error(error, message or HTTPStatus(code).phrase))
        self._drain()

    def _reply(self, status: int, answer: dict) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "POST")
        if self.close_connection:  # or the client would send its next request on a closing connection
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.address_string(), format % args)
