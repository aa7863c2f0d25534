"""Links between a harness and a card: in-process, or through the real PC/SC stack.

`open_transport(spec, card=...)` picks an implementation from a registry by scheme:
"inprocess" (the embedded default, needs `card`) or "pcsc:<reader name>". The pieces that put a
virtual card behind real PC/SC (`Pcscd`, `VpcdCard`) are here too. Every failure of a link is a
`LinkError`: a conformance verdict of *broken*, never pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from simulator.card.interface import Card
from simulator.transport.base import Exchange, Tracer, TraceRecorder, Transport
from simulator.transport.errors import (
    CardRemovedError,
    LinkError,
    LinkTimeoutError,
    NoCardError,
    ReaderNotFoundError,
    ServiceUnavailableError,
)
from simulator.transport.inprocess import InProcessTransport
from simulator.transport.pcsc import PcscTransport, list_readers, wait_for_card
from simulator.transport.pcscd import Pcscd, reader_name
from simulator.transport.vpcd import VPCD_PORT, VpcdCard

__all__ = [
    "VPCD_PORT",
    "CardRemovedError",
    "Exchange",
    "InProcessTransport",
    "LinkError",
    "LinkTimeoutError",
    "NoCardError",
    "PcscTransport",
    "Pcscd",
    "ReaderNotFoundError",
    "ServiceUnavailableError",
    "TraceRecorder",
    "Tracer",
    "Transport",
    "VpcdCard",
    "list_readers",
    "open_transport",
    "reader_name",
    "wait_for_card",
]


def _inprocess(rest: str, card: Card | None, tracers: Iterable[Tracer]) -> Transport:
    if rest:
        raise ValueError(f"'inprocess' takes no argument, got 'inprocess:{rest}'")
    if card is None:
        raise ValueError("'inprocess' needs the card: open_transport('inprocess', card=...)")
    return InProcessTransport(card, tracers=tracers)


def _pcsc(rest: str, card: Card | None, tracers: Iterable[Tracer]) -> Transport:
    if not rest:
        raise ValueError("'pcsc' needs a reader name: 'pcsc:Virtual PCD 00 00'")
    if card is not None:
        raise ValueError("'pcsc' talks to the card in the reader; do not pass card=")
    return PcscTransport(rest, tracers=tracers)


#: scheme -> factory(argument after the colon, card, tracers)
TRANSPORTS: dict[str, Callable[[str, Card | None, Iterable[Tracer]], Transport]] = {
    "inprocess": _inprocess,
    "pcsc": _pcsc,
}


def open_transport(spec: str, *, card: Card | None = None, tracers: Iterable[Tracer] = ()) -> Transport:
    """Make an unconnected transport from "scheme[:argument]", e.g. "pcsc:Virtual PCD 00 00"."""
    scheme, _, rest = spec.partition(":")
    try:
        factory = TRANSPORTS[scheme]
    except KeyError:
        valid = ", ".join(sorted(TRANSPORTS))
        raise ValueError(f"unknown transport {spec!r}; valid schemes: {valid}") from None
    return factory(rest, card, tracers)
