"""APDU traces for people: each exchange decoded and masked, as evidence and the demo print them.

One exchange reads

      3  READ RECORD                     9000 ok                              0.214 ms
         > 00B2083C00
         < 0812 «18 bytes masked: 社会保障号码» 9000

the command's name (`simulator.apdu.command_name`), the status word and its meaning
(`simulator.apdu.describe`), the time the transport measured, then the bytes in hex. Personal data
is masked by structure (`simulator.privacy.TraceMasker` spans): a masked span is shown as how many
bytes of what were masked, never as bytes, so a masked trace cannot be mistaken for card data.
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.apdu import command_name, describe
from simulator.privacy import Span, TraceMasker, mask_text
from simulator.transport.base import Exchange


def masked_hex(data: bytes, spans: tuple[Span, ...]) -> str:
    """`data` in hex, each masked span replaced by «N bytes masked: what»."""
    parts, at = [], 0
    for span in spans:
        parts.append(data[at : span.start].hex().upper())
        parts.append(f"«{len(span)} byte{'s' if len(span) != 1 else ''} masked: {span.what}»")
        at = span.stop
    parts.append(data[at:].hex().upper())
    return " ".join(p for p in parts if p)


def exchange_lines(n: int, exchange: Exchange, masker: TraceMasker) -> list[str]:
    """The three lines of one exchange (see the module docstring)."""
    command, response = exchange.command, exchange.response
    name = command_name(command) or (f"CLA {command[0]:02X} INS {command[1]:02X}" if len(command) >= 2 else "?")
    if len(response) >= 2:
        sw = int.from_bytes(response[-2:], "big")
        status = f"{sw:04X} {describe(sw)}"
        spans = masker.response_spans(command, response)
        answer = " ".join(p for p in (masked_hex(response[:-2], spans), f"{sw:04X}") if p)
    else:
        status, answer = "no status word", response.hex().upper() or "(nothing)"
    return [f"{n:3}  {name:<30} {status:<40} {exchange.seconds * 1e3:9.3f} ms",
            f"     > {masked_hex(command, masker.command_spans(command))}",
            f"     < {answer}"]


def render(exchanges: Iterable[Exchange], masker: TraceMasker) -> str:
    """A whole trace, masked (also any citizen ID number the structure did not place)."""
    lines = [line for n, x in enumerate(exchanges, 1) for line in exchange_lines(n, x, masker)]
    return mask_text("\n".join(lines))
