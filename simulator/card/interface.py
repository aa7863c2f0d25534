"""What a transport sees of a card: the contacts (power, reset) and the APDU exchange.

Mirrors the shape of vsmartcard's SmartcardOS (getATR/powerUp/powerDown/reset/execute) so a card
can sit behind any transport: in-process, the vpcd bridge, or a timing model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Card(Protocol):
    """A card as the reader's contacts see it.

    `transmit` always returns a response APDU (data + SW) for any input; the only exception it
    may raise is `simulator.faults.PowerLost`, which means the card was torn away mid-command.
    """

    def power_up(self) -> bytes:
        """Cold reset: clears volatile state and returns the ATR."""
        ...

    def power_down(self) -> None: ...

    def reset(self) -> bytes:
        """Warm reset: clears volatile state and returns the ATR."""
        ...

    def transmit(self, apdu: bytes) -> bytes: ...


class EchoCard:
    """The bare baseline card: answers every APDU with 9000 and its data echoed.

    Benchmarks measure a transport's own cost against it in the same run.
    """

    atr = bytes.fromhex("3B800080")

    def power_up(self) -> bytes:
        return self.atr

    def power_down(self) -> None:
        pass

    def reset(self) -> bytes:
        return self.atr

    def transmit(self, apdu: bytes) -> bytes:
        return apdu[5:] + b"\x90\x00" if len(apdu) > 5 else b"\x90\x00"
