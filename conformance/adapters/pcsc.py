"""`pcsc:<reader name>`: a real card in a real PC/SC reader as the DUT (the card suite).

The card in the reader is whatever the vendor inserted: `open(persona)` ignores the persona and
connects to that card, the *sample under test*. The product's other samples (ICS `samples`, each
with its reader) are reached with `open_reader`: the card suite runs on them what needs their
persona or may leave them changed (`conformance.suites.card._lab`). Nothing here starts a pcscd (the
machine's own serves the readers).

What the card carries is declared, not probed: it always has the social-security application
(`ssse`); `--dut-info capabilities=purse,qpboc` adds the T-Union purse and the financial
application (ics.yaml `card`), as a declaration's `capabilities` do. `--dut-info pin=<digits>`
tells the suite the card's PIN when no ICS sample gives it. The issuer's test keys come only from
the declaration (`test_keys`): without them the tests that need a key are not tested.

Samples sharing a reader: `--dut-info changer=<command>` names the lab's sample changer (a card
robot, or a person at a prompt), run as `<command> <reader> <sample id>` whenever a test needs a
sample that is not the one last put in that reader; it returns once the sample is in. Without a
changer the suite reaches only the first sample declared for each reader.

Tearing a card mid-command (`tear_control`) needs lab hardware: `--dut-info tear=<command>` names
the lab's tear rig (a relay in the reader's field or supply), run as `<command> arm <reader> <step>`
before the command it cuts (exit 0 once armed: the power goes at step `step` of the rig's sweep after
the next command begins, in the rig's own unit) and `<command> fired <reader>` after it (prints `yes`
once it cut the power and gave it back, `no` when the command ended before the cut, and disarms).
Without a rig the tests that need a tear are not tested.
"""

from __future__ import annotations

import shlex
import subprocess

from conformance.dut import DUT
from conformance.ics import check
from simulator.profile import Profile
from simulator.transport import LinkError, PcscTransport

#: how long the lab's sample changer may take to put a sample in a reader (seconds)
CHANGE_TIMEOUT = 120

#: what every social security card in a reader is assumed to carry
ALWAYS = frozenset({"ssse"})


class TearRig:
    """The lab's tear rig (see the module's docstring), one command for every reader."""

    def __init__(self, command: list[str]) -> None:
        self.command = command

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run([*self.command, *args], check=True, timeout=CHANGE_TIMEOUT, capture_output=True,
                                  text=True)
        except (OSError, subprocess.SubprocessError) as exc:
            raise LinkError(f"the tear rig failed on {' '.join(args)}: {exc}") from exc
        return done.stdout.strip()

    def arm(self, reader: str, step: int) -> None:
        self._run("arm", reader, str(step))

    def fired(self, reader: str) -> bool:
        answer = self._run("fired", reader)
        if answer not in ("yes", "no"):
            raise LinkError(f"the tear rig answered {answer[:40]!r} to `fired {reader}`, not yes or no")
        return answer == "yes"


class PcscCard:
    """The card role of a card in a PC/SC reader."""

    def __init__(self, reader: str, capabilities: frozenset[str], *, changer: list[str] | None = None,
                 tear_rig: TearRig | None = None) -> None:
        self.reader = reader
        self.name = f"card in PC/SC reader {reader!r}"
        self.capabilities = capabilities | ({"tear_control"} if tear_rig else set())
        self.changer = changer
        self.tear_rig = tear_rig
        self._inserted: dict[str, str] = {}  # reader -> the sample the changer last put in it

    def open(self, persona: str) -> PcscTransport:
        """An unconnected transport to the card in the reader (`persona` cannot be chosen)."""
        return PcscTransport(self.reader)

    def open_reader(self, reader: str, *, sample: str) -> PcscTransport:
        """An unconnected transport to the product's sample `sample` in `reader` (put there by
        the lab's changer first, if there is one and the reader holds another sample)."""
        if self.changer and self._inserted.get(reader) != sample:
            try:
                subprocess.run([*self.changer, reader, sample], check=True, timeout=CHANGE_TIMEOUT,
                               capture_output=True)
            except (OSError, subprocess.SubprocessError) as exc:
                raise LinkError(f"the sample changer could not put sample {sample} in {reader!r}: {exc}") from exc
            self._inserted[reader] = sample
        return PcscTransport(reader)

    def identity(self) -> dict:
        """The reader and the ATR of the card in it (connecting once: no card is a link error)."""
        transport = self.open("")
        atr = transport.connect()
        transport.disconnect()
        return {"name": self.name, "reader": self.reader, "atr": atr.hex().upper()}


def _capabilities(text: str, ics: dict) -> frozenset[str]:
    """`--dut-info capabilities=...` (a quick declaration for testing; `--ics` is the one that
    certifies), checked as a declaration of a card is by the run's `ics` document."""
    declared = ALWAYS | frozenset(filter(None, (c.strip() for c in text.split(","))))
    return check(set(declared), "card", where=f"--dut-info capabilities={text}", ics=ics)


def make(rest: str, *, info: dict[str, str], profile: Profile) -> DUT:
    """The card in the PC/SC reader `rest`, certified against `profile`."""
    reader = rest.strip()
    if not reader:
        raise ValueError("pcsc needs a reader name: --dut 'pcsc:<reader name>', e.g. 'pcsc:Virtual PCD 00 00'")
    pin = info.get("pin")
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 16):
        raise ValueError("--dut-info pin= takes the card's PIN, 4 to 16 digits")
    changer = shlex.split(info["changer"]) if info.get("changer") else None
    tear_rig = TearRig(shlex.split(info["tear"])) if info.get("tear") else None
    capabilities = _capabilities(info.get("capabilities", ""), profile["ics"])
    card = PcscCard(reader, capabilities, changer=changer, tear_rig=tear_rig)
    return DUT(name=card.name, card=card, info={"dut_name": card.name, "reader": reader})
