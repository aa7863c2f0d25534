"""The bank the terminal suite plays to a POS (harness facility `bank_control`), so a sale is judged
on the bank's side, not on what the POS says of it.

It is the reference bank (simulator/backend/bank.py) of the run's profile, holding an account for
each persona card whose holder activated its financial account, as the harness's own cards are the
reference card: the suite trusts the card issuer's and the bank's side, and certifies the terminal
between them. Every request the POS sends and the bank's answer to it are kept, here on the bank's
side: a POS of its own process reaches this bank through the bank's HTTP API, which the `http:`
adapter serves it (`ServedTerminal.connect_bank`, the control protocol's PUT /bank).
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.adapters.sim import reference_bank
from simulator.backend import ports
from simulator.profile import Profile


@dataclass(frozen=True)
class Asked:
    """One request the POS sent the bank and the bank's answer."""

    request: ports.Authorisation | ports.Reversal | ports.TransitCharge
    answer: ports.AuthorisationResult | ports.ReversalResult | ports.ChargeResult


class HarnessBank:
    """A `ports.CardPaymentPort` over the reference bank that keeps what it was asked (`asked`)."""

    def __init__(self, profile: Profile) -> None:
        self._bank = reference_bank(profile)
        self.asked: list[Asked] = []

    def _kept(self, request, answer):
        self.asked.append(Asked(request, answer))
        return answer

    def authorise(self, request: ports.Authorisation) -> ports.AuthorisationResult:
        return self._kept(request, self._bank.authorise(request))

    def reverse(self, request: ports.Reversal) -> ports.ReversalResult:
        return self._kept(request, self._bank.reverse(request))

    def charge_transit(self, request: ports.TransitCharge) -> ports.ChargeResult:
        return self._kept(request, self._bank.charge_transit(request))

    def authorisations(self, pan: str) -> list[Asked]:
        """The authorisations the POS asked for the card of `pan`, with the bank's answers."""
        return [a for a in self.asked if isinstance(a.request, ports.Authorisation) and a.request.pan == pan]

    def paid_by(self, pan: str) -> list[Asked]:
        """What the bank approved (DE 39 00) to the debit of the account of `pan`: sales and transit charges."""
        return [a for a in self.asked if isinstance(a.request, ports.CardRequest) and a.request.pan == pan
                and a.answer.response_code == "00"]
