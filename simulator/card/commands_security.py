"""Security commands: GET CHALLENGE, VERIFY, CHANGE/RELOAD/UNBLOCK PIN, EXTERNAL/INTERNAL AUTHENTICATE.

APDU shapes from field code (ssc-card.md §2 [V S1,S2,S5]); cryptograms in simulator.crypto.auth
(modelled). Counters (PIN tries, key tries) are decremented in NVM *before* the comparison and
restored after a success, so that tearing the card between comparison and write can never buy
an extra try (CARD-PIN-005, CARD-NVM-001).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.apdu import SW, CardError, CommandAPDU, counter_sw
from simulator.card.commands import command
from simulator.card.image import KeySlot, key_tries_key, pin_key, pin_tries_key
from simulator.crypto.auth import (
    external_auth_cryptogram,
    internal_auth_result,
    pin_reload_mac,
    pin_unblock_open,
)

if TYPE_CHECKING:
    from simulator.card.cardos import CardOS


@command(0x00, 0x84)
def get_challenge(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.p1 or cmd.p2:
        raise CardError(SW.INCORRECT_P1P2, "GET CHALLENGE takes P1=P2=00")
    if cmd.data or cmd.ne not in (4, 8):
        raise CardError(SW.WRONG_LENGTH, "GET CHALLENGE returns 4 or 8 bytes")
    card.challenge = card.rng.randbytes(cmd.ne)
    return card.challenge


# -- PIN ------------------------------------------------------------------------------------
def pin_digits(encoded: bytes) -> str | None:
    """Digits of a BCD PIN (odd lengths end in a F nibble), or None if it is not one."""
    text = encoded.hex().upper()
    if text.endswith("F"):
        text = text[:-1]
    return text if text.isdigit() else None


def encode_pin(digits: str) -> bytes:
    """BCD PIN as sent in VERIFY: two digits a byte, a final odd digit padded with F."""
    return bytes.fromhex(digits + ("F" if len(digits) % 2 else ""))


def _checked_pin(card: CardOS, encoded: bytes) -> str:
    app = card.require_application()
    digits = pin_digits(encoded)
    low, high = app.pin_digits
    if digits is None or not low <= len(digits) <= high:
        raise CardError(SW.WRONG_DATA, f"a PIN is {low}-{high} BCD digits")
    return digits


def _pin_app(card: CardOS) -> str:
    app = card.require_application()
    if app.pin_tries is None:
        raise CardError(SW.REFERENCE_NOT_FOUND, "this application has no PIN")
    return app.path


def _verify_pin(card: CardOS, presented: bytes) -> None:
    """Compare `presented` with the PIN, spending a try first; raises 63Cx / 6983."""
    app = _pin_app(card)
    tries = card.nvm[pin_tries_key(app)][0]
    if tries == 0:
        raise CardError(SW.AUTH_METHOD_BLOCKED, "PIN blocked")
    card.nvm.write({pin_tries_key(app): bytes((tries - 1,))})
    if presented != card.nvm[pin_key(app)]:
        card.security.pin_verified = False
        if tries - 1 == 0:
            raise CardError(SW.AUTH_METHOD_BLOCKED, "PIN now blocked")
        raise CardError(counter_sw(tries - 1), "wrong PIN")


def _set_pin(card: CardOS, new: bytes) -> None:
    app = card.require_application()
    card.nvm.write({pin_key(app.path): new, pin_tries_key(app.path): bytes((app.pin_tries,))})


@command(0x00, 0x20)
def verify(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.p1 != 0x00 or cmd.p2 != 0x00:
        raise CardError(SW.INCORRECT_P1P2, "VERIFY takes P1=P2=00 (application PIN)")
    if cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "VERIFY takes no Le")
    app = _pin_app(card)
    if not cmd.data:  # ISO 7816-4: case 1 asks for the number of tries left
        tries = card.nvm[pin_tries_key(app)][0]
        raise CardError(counter_sw(tries) if tries else SW.AUTH_METHOD_BLOCKED)
    _checked_pin(card, cmd.data)
    _verify_pin(card, cmd.data)
    card.nvm.write({pin_tries_key(app): bytes((card.require_application().pin_tries,))})
    card.security.pin_verified = True
    return b""


@command(0x80, 0x5E)
def change_or_reload_pin(card: CardOS, cmd: CommandAPDU) -> bytes:
    """80 5E 01 00 old ‖ FF ‖ new: CHANGE PIN; 80 5E 00 00 new ‖ MAC: RELOAD PIN."""
    if cmd.p2 != 0x00 or cmd.p1 not in (0x00, 0x01):
        raise CardError(SW.INCORRECT_P1P2, "80 5E takes P1 00 (reload) or 01 (change), P2 00")
    if not cmd.data or cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "80 5E takes data and no Le")
    _pin_app(card)
    if cmd.p1 == 0x01:
        old, sep, new = cmd.data.partition(b"\xff")
        if not sep:
            raise CardError(SW.WRONG_DATA, "CHANGE PIN data is old ‖ FF ‖ new")
        _checked_pin(card, old)
        _checked_pin(card, new)
        _verify_pin(card, old)
    else:
        if len(cmd.data) < 6:
            raise CardError(SW.WRONG_LENGTH, "RELOAD PIN data is PIN ‖ MAC (4)")
        new, mac = cmd.data[:-4], cmd.data[-4:]
        _checked_pin(card, new)
        key = _key(card, 0x06, "pin_reload")
        if pin_reload_mac(key.algorithm, key.value, new, card.take_challenge()) != mac:
            raise CardError(SW.SM_DATA_INCORRECT, "RELOAD PIN MAC wrong")
    _set_pin(card, new)
    return b""


@command(0x84, 0x24)
def unblock_pin(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.p1 or cmd.p2:
        raise CardError(SW.INCORRECT_P1P2, "UNBLOCK PIN takes P1=P2=00")
    if not 12 <= len(cmd.data) <= 255 or cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "UNBLOCK PIN data is cryptogram ‖ MAC (4), no Le")
    _pin_app(card)
    key = _key(card, 0x07, "pin_unblock")
    new = pin_unblock_open(key.algorithm, key.value, cmd.data, card.take_challenge())
    if new is None:
        raise CardError(SW.SM_DATA_INCORRECT, "UNBLOCK PIN cryptogram or MAC wrong")
    _checked_pin(card, new)
    _set_pin(card, new)
    return b""


# -- keys -----------------------------------------------------------------------------------
def _key(card: CardOS, kid: int, usage: str) -> KeySlot:
    key = card.require_application().keys.get(kid)
    if key is None or key.usage != usage:
        raise CardError(SW.REFERENCE_NOT_FOUND, f"no {usage} key {kid:02X}")
    return key


@command(0x00, 0x82)
def external_authenticate(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.p1 != 0x00:
        raise CardError(SW.INCORRECT_P1P2, "EXTERNAL AUTHENTICATE takes P1=00, P2=key id")
    if cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "EXTERNAL AUTHENTICATE takes no Le")
    key = _key(card, cmd.p2, "external_auth")
    app = card.require_application().path
    tries_key = key_tries_key(app, key.kid)
    tries = card.nvm[tries_key][0]
    if tries == 0:
        raise CardError(SW.AUTH_METHOD_BLOCKED, f"key {key.kid:02X} blocked")
    challenge = card.take_challenge()
    expected = external_auth_cryptogram(key.algorithm, key.value, challenge)
    if len(cmd.data) != len(expected):
        raise CardError(SW.WRONG_LENGTH, f"the cryptogram has {len(expected)} bytes")
    card.nvm.write({tries_key: bytes((tries - 1,))})
    if cmd.data != expected:
        card.security.authenticated.discard(key.kid)
        raise CardError(counter_sw(tries - 1) if tries > 1 else SW.AUTH_METHOD_BLOCKED)
    card.nvm.write({tries_key: bytes((key.tries,))})
    card.security.authenticated.add(key.kid)
    return b""


@command(0x00, 0x88)
def internal_authenticate(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.p1 != 0x00:
        raise CardError(SW.INCORRECT_P1P2, "INTERNAL AUTHENTICATE takes P1=00")
    if len(cmd.data) != 16:
        raise CardError(SW.WRONG_LENGTH, "INTERNAL AUTHENTICATE data is 过程因子 8 ‖ 原始信息 8")
    key = _key(card, cmd.p2 or 0x01, "internal_auth")
    return internal_auth_result(key.algorithm, key.value, cmd.data[:8], cmd.data[8:])
