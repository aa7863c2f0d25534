"""The load kiosk's side of the load-host port, in the keyword form `simulator.devices.transit` calls.

The issuer's keys and hosts live in `simulator.backend` (`issuer`, `load_host`, `hsm`). The load
kiosk of `transit.py` (being restructured into step generators elsewhere, so not edited here)
imports `LoadHost` and `LoadRefused` from this module and calls `host.authorise_load(**fields)`;
`LoadHost` here is that call over any `ports.LoadHostPort` (the issuer's host in-process by
default): it builds the `LoadRequest`, sends it through the port and turns a refusal into
`LoadRefused`. Once the kiosk builds `LoadRequest`s itself, this module goes.
"""

from __future__ import annotations

from simulator.backend import load_host
from simulator.backend.ports import LoadHostPort, LoadRequest


class LoadRefused(Exception):  # noqa: N818 - the host's answer, as a terminal names it
    """The load host refused to authorise a load (the card's MAC1 did not verify)."""


class LoadHost:
    """The keyword call of the load kiosk over the load-host port `port`."""

    def __init__(self, port: LoadHostPort | None = None) -> None:
        self.port = port or load_host.LoadHost()

    def authorise_load(self, **fields) -> bytes:
        """MAC2 for CREDIT FOR LOAD, or `LoadRefused`. The request id is the card's serial and
        online ATC, which the card never repeats for a load."""
        request_id = f"load:{fields['card_serial10'].hex().upper()}:{fields['online_atc2'].hex().upper()}"
        answer = self.port.authorise(LoadRequest(request_id=request_id, **fields))
        if not answer.approved:
            raise LoadRefused(answer.detail)
        return answer.mac2
