"""PC/SC round trip of one APDU through pcscd + vpcd + pyscard, per card.

What it shows: the cost of the real stack (pcscd, the vpcd socket, pyscard) per APDU, measured
with the bare `EchoCard` as the baseline, and each card in `CARDS` against that baseline in the
same run, so a card OS's own cost shows as a ratio that travels between machines. Expected on
our 2-core machines (shared/notes/pcsc-stack.md): echo median ~0.1 ms, p99 ~0.2-0.4 ms; a
median near 44 ms would mean the TCP_QUICKACK re-arm in `VpcdCard` is not working.

`measure(card_factory, n)` is the reusable part; `CARDS` lists the cards measured (the reference
social security card: READ RECORD after SELECT).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from simulator.apdu import CommandAPDU
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.card.interface import Card, EchoCard
from simulator.transport import Pcscd, PcscTransport, VpcdCard, wait_for_card

N = 2000
WARMUP = 100
#: READ BINARY of 16 bytes from the current EF (ISO 7816-4 §11.2.3), Le = 16.
READ_BINARY_16 = CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=16).to_bytes()


SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
READ_RECORD = bytes.fromhex("00B2012C00")  # EF05 record 1 (卡识别码) by SFI


def reference_card() -> Card:
    """The reference social security card (normal persona) on a fixed personalisation date."""
    return CardOS(personas.image("normal", as_of=date(2026, 11, 23)))


#: Cards measured against the echo baseline: name -> (factory, APDU timed, untimed setup).
CARDS: dict[str, tuple[Callable[[], Card], bytes, tuple[bytes, ...]]] = {
    "card OS, READ RECORD": (reference_card, READ_RECORD, (SELECT_SSSE,)),
}


@dataclass(frozen=True, slots=True)
class Figures:
    """Round-trip times of one card, in microseconds."""

    card: str
    n: int
    median_us: float
    p99_us: float

    @classmethod
    def of(cls, card: str, seconds: list[float]) -> Figures:
        ordered = sorted(seconds)
        n = len(ordered)
        p99 = ordered[min(n - 1, round(0.99 * (n - 1)))]
        return cls(card, n, statistics.median(ordered) * 1e6, p99 * 1e6)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A card and the echo baseline, timed interleaved in the same run."""

    card: Figures
    echo: Figures

    @property
    def ratio(self) -> float:
        """Median round trip of the card over that of the echo baseline."""
        return self.card.median_us / self.echo.median_us


def measure(
    card_factory: Callable[[], Card],
    n: int = N,
    *,
    pcscd: Pcscd | None = None,
    apdu: bytes = READ_BINARY_16,
    setup: tuple[bytes, ...] = (),
) -> Comparison:
    """Time `n` transmits of `apdu` to `card_factory()` and to an `EchoCard`, alternating.

    `setup` commands (e.g. a SELECT) go to the card once after connecting, untimed; each must
    answer 9000 (pcscd powers the card down between connections, so state does not carry over).

    The card sits in vpcd slot 1, the baseline in slot 0; their transmits alternate one for
    one, and which goes first alternates too. On our 2-core VMs the same card's median moves
    between ~70 and ~140 us from one minute to the next, so only figures taken side by side
    make a ratio worth printing.
    Uses the running `pcscd` given, or starts (and stops) one of its own.
    """
    if n < 100:
        raise ValueError(f"n must be >= 100 for a meaningful p99, got {n}")
    if pcscd is None:
        with Pcscd() as own:
            return measure(card_factory, n, pcscd=own, apdu=apdu, setup=setup)
    card = card_factory()
    echo_reader, card_reader = pcscd.reader(0), pcscd.reader(1)
    echo_times = [0.0] * n
    card_times = [0.0] * n
    with (
        VpcdCard(EchoCard(), port=pcscd.slot_port(0)),
        VpcdCard(card, port=pcscd.slot_port(1)),
    ):
        wait_for_card(echo_reader, timeout=3)
        wait_for_card(card_reader, timeout=3)
        with PcscTransport(echo_reader) as echo_link, PcscTransport(card_reader) as card_link:
            for command in setup:
                answer = card_link.transmit(command)
                if answer[-2:] != b"\x90\x00":
                    raise RuntimeError(f"setup {command.hex()} answered {answer.hex()}")
            to_echo, to_card = echo_link.transmit, card_link.transmit
            for _ in range(WARMUP):
                to_echo(apdu)
                to_card(apdu)
            clock = time.perf_counter
            gc.collect()
            for i in range(n):  # who goes first alternates too, so order cannot bias
                first, second = (to_echo, to_card) if i % 2 else (to_card, to_echo)
                start = clock()
                first(apdu)
                middle = clock()
                second(apdu)
                end = clock()
                if i % 2:
                    echo_times[i], card_times[i] = middle - start, end - middle
                else:
                    card_times[i], echo_times[i] = middle - start, end - middle
    card_figures = Figures.of(type(card).__name__, card_times)
    return Comparison(card_figures, Figures.of("EchoCard", echo_times))


def main() -> int:
    print(f"PC/SC round trip of one APDU, n={N} each,")
    print("each card interleaved with an EchoCard baseline (pcscd + vpcd + pyscard)")
    header = f"{'card':<22} {'median us':>9} {'p99 us':>8} {'echo median':>11} {'echo p99':>8}"
    print(f"{header} {'x echo':>7}")
    with Pcscd() as daemon:
        # EchoCard against itself first: its ratio shows how far from 1.00 the method wobbles.
        cards = {"echo (self-check)": (EchoCard, READ_BINARY_16, ()), **CARDS}
        for name, (factory, apdu, setup) in cards.items():
            result = measure(factory, N, pcscd=daemon, apdu=apdu, setup=setup)
            card, echo = result.card, result.echo
            print(
                f"{name:<22} {card.median_us:>9.1f} {card.p99_us:>8.1f} "
                f"{echo.median_us:>11.1f} {echo.p99_us:>8.1f} {result.ratio:>7.2f}",
                flush=True,
            )
    return 0
