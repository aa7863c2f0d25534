"""Link failures: the harness, the reader or the wire failed, not the card under test.

Why a hierarchy of its own: a conformance verdict must tell "the card answered wrongly" (failed)
from "we never got a proper answer" (*broken*). Anything raised from this module's classes means
the latter, so the harness maps `LinkError` to *broken*, never to pass, and never to a card
status word. Each transport translates its library's exceptions (pyscard return codes, socket
errors, `simulator.faults.PowerLost`) into these at its boundary, chaining the original.
"""

from __future__ import annotations

from collections.abc import Iterable


class LinkError(Exception):
    """The link to the card failed; a conformance verdict of *broken*, never pass."""


class NoCardError(LinkError):
    """No card is in the reader, or the transport is not connected to one."""


class CardRemovedError(LinkError):
    """The card went away during a session (pulled, torn, or its link dropped mid-command)."""


class ServiceUnavailableError(LinkError):
    """The PC/SC service (pcscd) is not running or cannot be started."""


class LinkTimeoutError(LinkError):
    """A wait on the link (insertion, a state change, a daemon start) ran out of time."""


class ReaderNotFoundError(LinkError):
    """The named reader does not exist; the message lists the readers that do."""

    def __init__(self, reader: str, available: Iterable[str]) -> None:
        self.reader = reader
        self.available = tuple(available)
        listed = ", ".join(repr(name) for name in self.available) or "none"
        super().__init__(f"reader {reader!r} not found; available readers: {listed}")
