"""The card operating system: power, command dispatch, selection state, status words.

Commands are small handlers registered by (CLA, INS) (`commands.py`; the file and security
commands live in `commands_files.py` and `commands_security.py`). The dispatcher owns
the rules every command shares: parsing (any bytes -> a status word), CLA/INS checks, a locked
application, the Le rule (CARD-APDU-002) and turning any fault of ours into 6F00 rather than an
exception on the wire. Only `PowerLost` (a tear) leaves `transmit`.
"""

from __future__ import annotations

import logging
import random

from simulator.apdu import SW, CardError, CommandAPDU, ResponseAPDU, wrong_le_sw
from simulator.card import commands_files, commands_security  # noqa: F401 (they register)
from simulator.card.commands import APP_COMMANDS, COMMANDS, KNOWN_INS
from simulator.card.filesystem import DF, EF
from simulator.card.image import Application, CardImage, locked_key
from simulator.card.nvm import NVM
from simulator.card.security import SecurityState
from simulator.faults import FaultPlan, PowerLost

log = logging.getLogger(__name__)

_OK = b"\x90\x00"
_NOT_POWERED = ResponseAPDU.status(SW.NO_PRECISE_DIAGNOSIS).to_bytes()


class CardOS:
    """A virtual card booted from a `CardImage`; implements the `Card` protocol."""

    def __init__(
        self,
        image: CardImage,
        *,
        faults: FaultPlan | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.image = image
        self.tree = image.tree
        self.faults = faults or FaultPlan()
        self.rng = rng or random.Random(0)
        self.nvm = NVM(image.contents, page_size=image.page_size, faults=self.faults)
        self.powered = False
        self._reset_volatile()

    # -- contacts -------------------------------------------------------------------------
    def _reset_volatile(self) -> None:
        self.current_df: DF = self.tree.mf
        self.current_ef: EF | None = None
        self.security = SecurityState()
        self.challenge: bytes | None = None
        #: the selected application's transaction in progress (e.g. after INITIALIZE FOR PURCHASE)
        self.session: dict = {}

    def leave_application(self) -> None:
        """Selecting another application forgets security state and transaction in progress."""
        self.security.clear()
        self.challenge = None
        self.session = {}

    def power_up(self) -> bytes:
        self.nvm.recover()
        self._reset_volatile()
        self.powered = True
        return self.image.atr

    def reset(self) -> bytes:
        return self.power_up()

    def power_down(self) -> None:
        self.powered = False
        self._reset_volatile()

    # -- the wire -------------------------------------------------------------------------
    def transmit(self, apdu: bytes) -> bytes:
        if not self.powered:
            return _NOT_POWERED
        try:
            cmd = CommandAPDU.parse(apdu)
            result = self._dispatch(cmd)
        except CardError as exc:
            return exc.sw.to_bytes(2, "big")
        except PowerLost:
            self.power_down()
            raise
        except Exception:  # a fault of ours must not reach the wire (CARD-APDU-001)
            log.exception("card fault on %s", apdu.hex())
            return ResponseAPDU.status(SW.NO_PRECISE_DIAGNOSIS).to_bytes()
        if isinstance(result, ResponseAPDU):
            return result.to_bytes()
        ne = cmd.ne
        if result and ne is not None and cmd.le != 0 and ne != len(result):
            return wrong_le_sw(len(result)).to_bytes(2, "big")
        return result + _OK

    def _dispatch(self, cmd: CommandAPDU) -> bytes | ResponseAPDU:
        if cmd.cla == 0xFF or cmd.cla & 0x60 == 0x20:  # invalid / RFU class bytes
            raise CardError(SW.CLA_NOT_SUPPORTED)
        if cmd.cla & 0x03:
            raise CardError(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
        app = self.application
        key = (cmd.cla, cmd.ins)
        handler = (APP_COMMANDS.get(app.kind, {}).get(key) if app else None) or COMMANDS.get(key)
        if handler is None:
            raise CardError(SW.CLA_NOT_SUPPORTED if cmd.ins in KNOWN_INS else SW.INS_NOT_SUPPORTED)
        if cmd.ins != 0xA4 and self.application_locked():
            raise CardError(SW.CONDITIONS_NOT_SATISFIED, "application locked")
        return handler(self, cmd)

    # -- shared state helpers for handlers ------------------------------------------------
    @property
    def application(self) -> Application | None:
        app = self.tree.application_of(self.current_df)
        return self.image.applications.get(app.path) if app else None

    def require_application(self) -> Application:
        app = self.application
        if app is None:
            raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no application selected")
        return app

    def application_locked(self) -> bool:
        app = self.tree.application_of(self.current_df)
        return app is not None and self.nvm.get(locked_key(app.path)) == b"\x01"

    def take_challenge(self) -> bytes:
        """The last GET CHALLENGE, usable once (6985 when there is none)."""
        challenge, self.challenge = self.challenge, None
        if challenge is None:
            raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no challenge requested")
        return challenge

