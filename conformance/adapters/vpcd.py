"""`vpcd:<host>:<port>`: virtual cards in the PC/SC reader of a terminal that runs as its own process.

The harness inserts each card into vsmartcard's vpcd inside the pcscd the terminal reads from
(`VpcdCard(RecordingCard(card), host, port)`), so unmodified terminal software reads it as a
physical card, and every APDU it sends is recorded on the card's side. The terminal's decision
comes from its control service (terminal control protocol, profiles/national/terminal_api.yaml):
`POST /transactions {"card": {"reader": NAME}}`.

    --dut vpcd:127.0.0.1:35963           vpcd's slot (35963 is "Virtual PCD 00 00")
    --dut-info control=http://127.0.0.1:8700   the terminal's control service (required)
    --dut-info reader="Virtual PCD 00 00"      the slot's reader name in the terminal's pcscd
    --dut-info alternate="Virtual PCD 00 01"   a second reader of the terminal, on vpcd's next
                                         port: cards alternate between the two slots, so each
                                         waits out pcscd's polls while the other is in use (about
                                         twice as fast; only for a terminal that reads both)
    --dut-info wait=auto|local|terminal  who waits for pcscd to see the card (below)
    --dut-info timeout=30, capabilities=a,b,c  as for http: (conformance/adapters/http.py)

On this machine the pcscd the project starts (simulator/transport/pcscd.py) accepts cards from
loopback only, so `vpcd:127.0.0.1:PORT` reaches it; a terminal on another host reads its own
pcscd, whose vpcd (as Debian configures it) listens on every interface for the harness's card.

One presentation: insert the card, wait until pcscd reports it (pcscd polls vpcd every 400 ms;
`wait=local` asks the harness machine's pcscd, which works when the harness shares the machine
with the terminal; `wait=terminal` relies on the terminal's own transaction waiting for the card;
`auto`, the default, is local for a loopback host and falls back to the terminal when this
machine's pcscd does not know the reader), ask the terminal for its decision, then pull the card.
The next insertion into the slot keeps the 0.5 s gap pcscd needs to notice the removal
(`VpcdCard` enforces it). A tear (the card raises PowerLost) makes `VpcdCard` close its socket:
to pcscd and the terminal the card was pulled mid-command, exactly as in the field.

Fault plans: pcscd powers the card up and down on its own (insertion, connect, disconnect), so
arm a card's faults by named point (`plan.arm(at=0, point="nvm.clear")`), not by a global hit
count measured in-process. Every link failure is a `LinkError`: a verdict of *broken*.
"""

from __future__ import annotations

import logging

from conformance.adapters.http import ServedTerminal, TerminalControl, declared, dut_of, timeout_of
from conformance.dut import DUT, Presentation, RecordingCard
from simulator.card.interface import Card
from simulator.profile import Profile
from simulator.transport.errors import LinkError, LinkTimeoutError, ReaderNotFoundError, ServiceUnavailableError
from simulator.transport.vpcd import VPCD_PORT, VpcdCard

log = logging.getLogger(__name__)

DEFAULT_READER = "Virtual PCD 00 00"
#: seconds for vpcd to accept the card and for pcscd to report it (its poll is 400 ms)
CARD_TIMEOUT = 5.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class VpcdTerminal(ServedTerminal):
    """A terminal reading the harness's virtual cards from vpcd on `host` (one slot, or two in turn)."""

    def __init__(self, control: TerminalControl, info: dict, *, host: str, slots: list[tuple[int, str]], wait: str,
                 capabilities: frozenset[str] | None = None) -> None:
        super().__init__(control, info, capabilities=capabilities)
        self.host = host
        self.slots = slots  # (vpcd port, the terminal's reader name), used in turn
        self.wait = wait
        self._turn = 0
        self._card: VpcdCard | None = None

    def present(self, card: Card) -> Presentation:
        port, reader = self.slots[self._turn]
        self._turn = (self._turn + 1) % len(self.slots)
        recorder = RecordingCard(card)
        vcard = VpcdCard(recorder, host=self.host, port=port)
        vcard.insert(timeout=CARD_TIMEOUT)
        self._card = vcard
        try:
            self._wait_until_seen(vcard, reader)
            decision = self.control.transaction({"reader": reader})
        finally:
            vcard.remove()
            self._card = None
        if vcard.last_error is not None:
            raise LinkError(f"the virtual card's link to vpcd {self.host}:{port} failed during the "
                            f"transaction: {vcard.last_error}") from vcard.last_error
        return recorder.presentation(decision)

    def _wait_until_seen(self, vcard: VpcdCard, reader: str) -> None:
        if self.wait == "terminal":
            return
        from simulator.transport.pcsc import wait_for_card

        try:
            wait_for_card(reader, present=True, timeout=CARD_TIMEOUT)
        except (ServiceUnavailableError, ReaderNotFoundError) as exc:
            if self.wait == "local":
                raise
            log.info("this machine's pcscd cannot see %r (%s): the terminal waits for the card itself",
                     reader, exc)
            self.wait = "terminal"
        except LinkTimeoutError as exc:
            why = f"; the card was torn away at power-up ({vcard.tear})" if vcard.tear is not None else ""
            raise LinkTimeoutError(f"{exc}: pcscd never reported the card inserted into vpcd "
                                   f"{self.host}:{vcard.port}{why}") from exc

    def close(self) -> None:
        try:
            if self._card is not None:
                self._card.remove()
        finally:
            super().close()


def slot(rest: str) -> tuple[str, int]:
    """`host:port` (port default 35963; an IPv6 host in brackets)."""
    host, sep, port_text = rest.rpartition(":")
    if not sep or host.endswith(":") or (":" in host and not host.startswith("[")):
        host, port_text = rest, str(VPCD_PORT)
    host = host.strip("[]")
    if not host:
        raise ValueError(f"vpcd: needs the terminal's vpcd as host:port, e.g. vpcd:127.0.0.1:{VPCD_PORT}; "
                         f"got 'vpcd:{rest}'")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 < port <= 0xFFFF:
        raise ValueError(f"vpcd: port must be a TCP port number, got {port_text!r} in 'vpcd:{rest}'")
    return host, port


def make(rest: str, *, info: dict[str, str], profile: Profile) -> DUT:
    """The terminal reading cards from the vpcd slot `rest`, certified against `profile`."""
    host, port = slot(rest)
    url = info.get("control")
    if not url:
        raise ValueError(
            "vpcd: needs the terminal's control service, which answers its decisions (terminal control "
            "protocol, profiles/national/terminal_api.yaml): add --dut-info control=http://HOST:PORT "
            "(`ykt terminal serve` listens on http://127.0.0.1:8700)")
    wait = info.get("wait", "auto")
    if wait not in ("auto", "local", "terminal"):
        raise ValueError(f"--dut-info wait takes auto, local or terminal, got {wait!r}")
    if wait == "auto" and host not in LOOPBACK:
        wait = "terminal"
    control = TerminalControl(url, timeout=timeout_of(info))
    try:
        device, capabilities = declared(control, info, profile)
    except BaseException:
        control.close()
        raise
    slots = [(port, info.get("reader", DEFAULT_READER))]
    if info.get("alternate"):
        if port == 0xFFFF:
            raise ValueError("--dut-info alternate needs vpcd's next port, but the slot's port is 65535")
        slots.append((port + 1, info["alternate"]))
    terminal = VpcdTerminal(control, device, host=host, slots=slots, wait=wait, capabilities=capabilities)
    where = " and ".join(f"{host}:{p} ({r})" for p, r in slots)
    return dut_of(terminal, info, f"vpcd {where}, control {url}")
