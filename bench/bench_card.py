"""In-process APDU throughput of the card OS (issue target: >= 50,000 READ RECORD/s).

Baseline measured in the same run: the bare `EchoCard` behind the same in-process transport,
so the ratio shows what the card OS itself costs, whatever the machine's speed.
"""

from __future__ import annotations

import time
from datetime import date

from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.card.interface import EchoCard
from simulator.transport import InProcessTransport

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
READ_RECORD = bytes.fromhex("00B2012C00")  # EF05 record 1 by SFI, Le=00
TARGET = 50_000


def rate(card, apdu: bytes, *, seconds: float = 1.0, setup: tuple[bytes, ...] = ()) -> float:
    """APDUs per second through `InProcessTransport`, best of 3 runs of `seconds`/3."""
    best = 0.0
    with InProcessTransport(card) as transport:
        for command in setup:
            transport.transmit(command)
        transmit = transport.transmit
        for _ in range(3):
            n, start = 0, time.perf_counter()
            deadline = start + seconds / 3
            while True:
                for _ in range(500):
                    transmit(apdu)
                n += 500
                now = time.perf_counter()
                if now >= deadline:
                    break
            best = max(best, n / (now - start))
    return best


def main() -> None:
    card = CardOS(personas.image("normal", as_of=date(2026, 11, 23)))
    response = card.power_up() and card.transmit(SELECT_SSSE) and card.transmit(READ_RECORD)
    if response[-2:] != b"\x90\x00":
        raise SystemExit(f"READ RECORD did not succeed: {response.hex()}")
    echo = rate(EchoCard(), READ_RECORD)
    read = rate(card, READ_RECORD, setup=(SELECT_SSSE,))
    print("in-process transport, READ RECORD (EF05 rec 1 by SFI)")
    print(f"  echo card (baseline)  {echo:>12,.0f} APDU/s")
    print(f"  card OS               {read:>12,.0f} APDU/s   ratio {read / echo:.2f} of baseline")
    print(f"  target                {TARGET:>12,} APDU/s   {'met' if read >= TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
