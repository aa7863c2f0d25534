"""A `Transport` to a card that the conformance harness serves over HTTP: the APDU relay.

A terminal under test that cannot read the harness's virtual card through PC/SC (an `http:`
DUT: no vpcd on its machine, or a device with its own reader stack) reaches the card through the
relay of the terminal control protocol (profiles/national/terminal_api.yaml, callbacks
`cardRelay`): `POST <relay>/power {"action": "up"|"down"}` answers `{"atr": hex}` and
`POST <relay>/apdu {"command": hex}` answers `{"response": hex}`. HTTP 410 Gone means the card
left the field (torn away mid-command, or the presentation is over): `CardRemovedError`, as a
card pulled out of a reader, and the transport is disconnected.

Every other failure is a `LinkError` (a verdict of *broken*): a relay that does not answer in
time is `LinkTimeoutError`; no relay at the URL (nothing listening, or 404: nothing served there)
when powering up is `NoCardError`; a connection that drops mid-command is `CardRemovedError` (the
card's link went away, as vpcd's empty answer); an answer outside the protocol is a plain
`LinkError` naming what was wrong.

One HTTP connection is kept alive for the whole session (a transaction is a dozen APDUs), so
`close()` the transport when done with it; `disconnect()` alone keeps the connection for a later
`connect()`. source: modelled.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

import httpx

from simulator.transport.base import Tracer, Transport
from simulator.transport.errors import CardRemovedError, LinkError, LinkTimeoutError, NoCardError

#: seconds the relay has to answer one request (a card answers in milliseconds)
DEFAULT_TIMEOUT = 10.0


class RelayTransport(Transport):
    """The card behind the harness's HTTP relay at `url` (the relay's base URL)."""

    def __init__(
        self,
        url: str,
        *,
        tracers: Iterable[Tracer] = (),
        clock: Callable[[], float] = time.perf_counter,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"relay URL must start with http:// or https://, got {url!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        super().__init__(tracers=tracers, clock=clock)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"<RelayTransport {self.url} {'connected' if self.connected else 'not connected'}>"

    # -- the protocol ----------------------------------------------------------------------

    def _post(self, path: str, body: dict, *, doing: str, dropped: type[LinkError]) -> dict:
        """POST `body`, return the JSON answer; `dropped` is raised when the connection fails or
        nothing is served at the URL (404)."""
        if self._client is None:
            # No TLS context for a plain-http relay: building one costs ~16 ms per transaction.
            self._client = httpx.Client(timeout=self.timeout, verify=self.url.startswith("https://"))
        url = self.url + path
        try:
            answer = self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise LinkTimeoutError(f"{doing}: the card relay {url} did not answer within {self.timeout} s") from exc
        except httpx.HTTPError as exc:
            raise dropped(f"{doing}: the card relay {url} failed: {type(exc).__name__}: {exc}") from exc
        if answer.status_code == 410:
            raise CardRemovedError(f"{doing}: the card left the field (relay {url}: 410 {_detail(answer)})")
        if answer.status_code == 404:
            raise dropped(f"{doing}: nothing is served at {url} (404 {_detail(answer)}): no card there")
        if answer.status_code != 200:
            raise LinkError(f"{doing}: the card relay {url} answered HTTP {answer.status_code}: {_detail(answer)}")
        try:
            document = answer.json()
        except ValueError as exc:
            raise LinkError(f"{doing}: the card relay {url} answered no JSON: {answer.text[:200]!r}") from exc
        if not isinstance(document, dict):
            raise LinkError(f"{doing}: the card relay {url} answered {document!r}, not a JSON object")
        return document

    @staticmethod
    def _hex(document: dict, key: str, *, doing: str, minimum: int = 0) -> bytes:
        value = document.get(key)
        try:
            data = bytes.fromhex(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise LinkError(f"{doing}: the card relay answered {key}={value!r}, not hexadecimal bytes") from None
        if len(data) < minimum:
            raise LinkError(f"{doing}: the card relay answered a {len(data)}-byte {key} (at least {minimum} expected)")
        return data

    # -- the transport primitives ----------------------------------------------------------

    def _connect(self) -> bytes:
        document = self._post("/power", {"action": "up"}, doing="power-up", dropped=NoCardError)
        return self._hex(document, "atr", doing="power-up", minimum=2)

    def _transmit(self, apdu: bytes) -> bytes:
        doing = f"APDU {bytes(apdu[:4]).hex().upper()}"
        try:
            document = self._post("/apdu", {"command": bytes(apdu).hex().upper()}, doing=doing,
                                  dropped=CardRemovedError)
        except CardRemovedError:
            self._lost()
            raise
        return self._hex(document, "response", doing=doing, minimum=2)

    def _disconnect(self) -> None:
        with contextlib.suppress(LinkError):  # a card that already left the field needs no power-down
            self._post("/power", {"action": "down"}, doing="power-down", dropped=CardRemovedError)

    def close(self) -> None:
        """Disconnect and release the HTTP connection (connect() opens a new one)."""
        try:
            self.disconnect()
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None


def _detail(answer: httpx.Response) -> str:
    try:
        document = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason_phrase
    if isinstance(document, dict) and "detail" in document:
        return f"{document.get('error', '')}: {document['detail']}".lstrip(": ")
    return str(document)[:200]
