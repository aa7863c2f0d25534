"""Seeded-defect cards: the reference card OS with one defect each, for the card suite.

Each `build(persona, rng, profile)` returns a powered-off card of that persona of `profile` drawing
its randoms from `rng`, like the reference (`conformance.adapters.sim.SimCard`), so `--dut sim:mutant=NAME`
certifies it through the same suite. A defect lives in a small subclass of `CardOS` or of its
`NVM`, never in a flag inside the reference code.
"""

from __future__ import annotations

import random

from simulator.apdu import SW, CardError, CommandAPDU
from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.card.image import pin_key, pin_tries_key, record_key
from simulator.card.nvm import APPLY_PAGE, DONE, NVM
from simulator.card.security import SecurityState
from simulator.crypto import purse
from simulator.profile import Profile

from . import Mutant

EF05 = "3F00/DDF1/EF05"


def _as_of():
    from simulator.clock import AS_OF  # the personalisation date of every simulated card

    return AS_OF


def _card(persona: str, rng: random.Random, profile: Profile, *, cls: type[CardOS] = CardOS,
          nvm: type[NVM] | None = None, records: dict[str, bytes] | None = None) -> CardOS:
    """A card of `persona` of `profile` built as the reference's, with another class, NVM or raw records."""
    image = personas.image(persona, as_of=_as_of(), profile=profile)
    image.contents.update(records or {})
    card = cls(image, rng=rng)
    if nvm is not None:
        card.nvm = nvm(image.contents, page_size=image.page_size, faults=card.faults)
    return card


# -- NVM defects ------------------------------------------------------------------------------
class _KeepsPinTries(NVM):
    """Drops every write that would lower a PIN try counter."""

    def write(self, updates: dict[str, bytes]) -> None:
        super().write({k: v for k, v in updates.items()
                       if not (k.startswith("pin:") and k.endswith(":tries") and v < self.data.get(k, v))})


class NonAtomicNVM(NVM):
    """Writes each page of each value in place, with no journal: a tear leaves a value
    half-written or a multi-value write half-done."""

    def write(self, updates: dict[str, bytes]) -> None:
        for key, new in updates.items():
            old = self.data.get(key, b"")
            for page in self._pages(new):
                self.faults.hit(APPLY_PAGE)
                end = (page + 1) * self.page_size
                self.data[key] = new[:end] + old[end:] if end < len(new) else new
        self.faults.hit(DONE)


class _KeepsOfflineAtc(NVM):
    """Commits a purchase but never moves the purse's offline transaction counter."""

    def write(self, updates: dict[str, bytes]) -> None:
        super().write({k: v for k, v in updates.items() if not k.endswith(":offline_atc")})


# -- card OS defects --------------------------------------------------------------------------
class _LaxSecurity(SecurityState):
    """Treats the EF06 read key (0A) as always authenticated."""

    __slots__ = ()

    def check(self, condition: str) -> None:
        if condition != "auth:0A":
            super().check(condition)


class Ef06FreeRead(CardOS):
    def _reset_volatile(self) -> None:
        super()._reset_volatile()
        self.security = _LaxSecurity()


class KeepsStateAcrossReset(CardOS):
    """Power down and reset leave RAM as it was: selection and security state survive."""

    def power_up(self) -> bytes:
        self.nvm.recover()
        self.powered = True
        return self.image.atr

    def power_down(self) -> None:
        self.powered = False


class RecordNotFound6A82(CardOS):
    def transmit(self, apdu: bytes) -> bytes:
        response = super().transmit(apdu)
        return response[:-2] + b"\x6a\x82" if response[-2:] == b"\x6a\x83" else response


class MalformedLength6F00(CardOS):
    def transmit(self, apdu: bytes) -> bytes:
        if self.powered:
            try:
                CommandAPDU.parse(apdu)
            except CardError as exc:
                if exc.sw == SW.WRONG_LENGTH:
                    return b"\x6f\x00"
        return super().transmit(apdu)


class IgnoresLe(CardOS):
    """READ RECORD / READ BINARY answer the whole content with 9000 whatever short Le asks."""

    def transmit(self, apdu: bytes) -> bytes:
        short_le = len(apdu) == 5 or (len(apdu) > 5 and len(apdu) == 6 + apdu[4])
        if short_le and apdu[1] in (0xB0, 0xB2) and apdu[-1] != 0:
            apdu = apdu[:-1] + b"\x00"
        return super().transmit(apdu)


class AcceptsAnyMac1(CardOS):
    """DEBIT FOR PURCHASE goes through whatever MAC1 comes: the card puts the right one in place."""

    def transmit(self, apdu: bytes) -> bytes:
        session = self.session
        if self.powered and apdu[:5] == bytes.fromhex("805401000F") and len(apdu) in (20, 21) \
                and session.get("op") in ("purchase", "composite"):
            app = self.application
            data = apdu[5:20]
            serial4, date4, time3 = data[0:4], data[4:8], data[8:11]
            key = purse.purchase_session_key(session["key"], session["random"], session["atc"], serial4,
                                             algorithm=app.algorithm)
            mac1 = purse.purchase_mac1(key, session["amount"], app.params["txn"][session["op"]],
                                       session["terminal"], date4, time3, algorithm=app.algorithm)
            apdu = apdu[:16] + mac1 + apdu[20:]
        return super().transmit(apdu)


class ChallengeRepeats(CardOS):
    """Seeds its random generator afresh at every power-up: each session draws the same challenges."""

    def power_up(self) -> bytes:
        self.rng = random.Random(0)
        return super().power_up()


class ChallengeIgnoresP2(CardOS):
    """GET CHALLENGE with P1 00 takes any P2 (RFU: 6A86) as 00 and answers a challenge with 9000."""

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:3] == b"\x00\x84\x00" and len(apdu) == 5:
            apdu = apdu[:3] + b"\x00" + apdu[4:]
        return super().transmit(apdu)


class Mac2SessionSurvives(CardOS):
    """CREDIT FOR LOAD with a wrong MAC2 answers 9302 but keeps the load session for a retry."""

    def transmit(self, apdu: bytes) -> bytes:
        session = self.session
        response = super().transmit(apdu)
        if apdu[:2] == b"\x80\x52" and response[-2:] == b"\x93\x02":
            self.session = session
        return response


class PinTryAfterCompare(CardOS):
    """VERIFY compares the PIN before it spends a try: a right PIN only restores the counter, so
    what the card writes (and when a tear falls) tells a right PIN from a wrong one before the try
    is spent. A wrong PIN goes the reference's way."""

    def transmit(self, apdu: bytes) -> bytes:
        app = self.application
        if (self.powered and apdu[:4] == b"\x00\x20\x00\x00" and len(apdu) > 5 and app and app.pin_tries
                and not self.application_locked()):
            tries = pin_tries_key(app.path)
            if apdu[5:] == self.nvm.get(pin_key(app.path)) and self.nvm[tries][0]:
                self.nvm.write({tries: bytes((app.pin_tries,))})
                self.security.pin_verified = True
                return b"\x90\x00"
        return super().transmit(apdu)


class RefusesTheWholeBalance(CardOS):
    """INITIALIZE FOR PURCHASE of exactly the balance answers 9401 (an off-by-one: the balance must
    exceed the amount, not cover it)."""

    def transmit(self, apdu: bytes) -> bytes:
        app = self.application
        if self.powered and apdu[:5] == bytes.fromhex("805001020B") and len(apdu) >= 16 and app \
                and app.kind == epurse.KIND:
            balance = int.from_bytes(self.nvm[epurse.balance_key(app.path)], "big", signed=True)
            if int.from_bytes(apdu[6:10], "big") == balance:
                return SW.INSUFFICIENT_FUNDS.to_bytes(2, "big")
        return super().transmit(apdu)


def _issue_date_yymmdd(persona: str, rng: random.Random, profile: Profile) -> CardOS:
    """发卡日期 personalised as BCD YYMMDD padded with FF instead of YYYYMMDD."""
    issued = personas.resolve(persona, as_of=_as_of(), profile=profile).values["issue_date"]
    record = b"\x05\x04" + bytes.fromhex(f"{issued:%y%m%d}FF")
    return _card(persona, rng, profile, records={record_key(EF05, 5): record})


def _reports_second_generation(persona: str, rng: random.Random, profile: Profile) -> CardOS:
    """A 3rd-generation card personalised with 规范版本 2.00 (the 2nd generation's)."""
    return _card(persona, rng, profile, records={record_key(EF05, 3): b"\x03\x04" + b"2.00"})


MUTANTS = [
    Mutant("card_pin_counter_kept", "card", "a wrong PIN answers 63Cx but the try counter is never decremented",
           lambda persona, rng, profile: _card(persona, rng, profile, nvm=_KeepsPinTries)),
    Mutant("card_ef06_free_read", "card", "EF06 (持卡人基本信息) is readable without EXTERNAL AUTHENTICATE with key 0A",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=Ef06FreeRead)),
    Mutant("card_record_not_found_6a82", "card", "READ RECORD of a missing record answers 6A82 instead of 6A83",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=RecordNotFound6A82)),
    Mutant("card_malformed_length_6f00", "card", "an APDU whose lengths do not add up answers 6F00 instead of 6700",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=MalformedLength6F00)),
    Mutant("card_ignores_le", "card", "READ RECORD with a wrong Le answers the record and 9000 instead of 6Cxx",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=IgnoresLe)),
    Mutant("card_non_atomic_nvm", "card", "EEPROM writes go page by page in place, without the journal",
           lambda persona, rng, profile: _card(persona, rng, profile, nvm=NonAtomicNVM)),
    Mutant("card_accepts_wrong_mac1", "card", "DEBIT FOR PURCHASE accepts any MAC1",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=AcceptsAnyMac1)),
    Mutant("card_issue_date_yymmdd", "card", "发卡日期 is personalised as BCD YYMMDD (FF-padded), not YYYYMMDD",
           _issue_date_yymmdd),
    Mutant("card_state_kept_at_reset", "card", "power-down and reset keep the security state (and the selection)",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=KeepsStateAcrossReset)),
    Mutant("card_atc_not_incremented", "card", "a committed purchase leaves the purse's offline ATC unchanged",
           lambda persona, rng, profile: _card(persona, rng, profile, nvm=_KeepsOfflineAtc)),
    Mutant("card_challenge_repeats", "card", "GET CHALLENGE draws the same challenges after every reset",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=ChallengeRepeats)),
    Mutant("card_malformed_answers_9000", "card", "GET CHALLENGE with an RFU P2 answers a challenge and 9000, not 6A86",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=ChallengeIgnoresP2)),
    Mutant("card_mac2_session_survives", "card",
           "a wrong MAC2 keeps the load session open: a retry with the right MAC2 loads",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=Mac2SessionSurvives)),
    Mutant("card_reports_second_generation", "card", "a 3rd-generation card whose 规范版本 says 2.00",
           _reports_second_generation),
    Mutant("card_whole_balance_refused", "card", "a purchase of exactly the balance is refused with 9401",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=RefusesTheWholeBalance)),
    Mutant("card_pin_try_after_compare", "card",
           "VERIFY compares before it spends a try: a right PIN writes otherwise, so a tear saves the try",
           lambda persona, rng, profile: _card(persona, rng, profile, cls=PinTryAfterCompare)),
]
