"""The reference bank: answers QuickPass online authorisations in memory.

It verifies the card's ARQC with the issuer's (synthetic) master key, the same code the card
uses (`qpboc.verify_cryptogram`), and approves while the account covers the amount. Ledgers,
reversals, SQLite and the HTTP API arrive with the platform and bank issue; this is the
pluggable `BankLink` the POS needs now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from simulator.card.apps import qpboc


@dataclass
class Authorisation:
    """An online authorisation request (0100/0200 with field 55), as the bank link receives it."""

    pan: str
    pan_sequence: int
    amount: int
    terminal_id: str
    tags: dict[int, bytes] = field(default_factory=dict)


@dataclass
class AuthorisationResult:
    approved: bool
    response_code: str  # ISO 8583 DE 39: 00 approved, 05 do not honour, 51 insufficient funds...
    detail: str = ""


class BankLink(Protocol):
    """Whatever answers online authorisations: the reference bank in-process, an HTTP client later."""

    def authorise(self, request: Authorisation) -> AuthorisationResult: ...


class ReferenceBank:
    def __init__(
        self, *, accounts: dict[str, int] | None = None, opening_balance: int = 100_000, profile: dict | None = None
    ) -> None:
        self.profile = profile or qpboc.profile_document()
        self.accounts = dict(accounts or {})
        self.opening_balance = opening_balance
        self.log: list[tuple[Authorisation, AuthorisationResult]] = []
        layout = self.profile["issuer_application_data"]["layout"]
        self._algorithm_at = sum(
            len(bytes.fromhex(i["value"])) if "value" in i else i.get("length", 1)
            for i in layout[: next(n for n, i in enumerate(layout) if "by_algorithm" in i)]
        )
        self._algorithms = {
            bytes.fromhex(v)[0]: k for k, v in next(i for i in layout if "by_algorithm" in i)["by_algorithm"].items()
        }

    def authorise(self, request: Authorisation) -> AuthorisationResult:
        result = self._decide(request)
        self.log.append((request, result))
        return result

    def _decide(self, request: Authorisation) -> AuthorisationResult:
        iad = request.tags.get(0x9F10, b"")
        algorithm = self._algorithms.get(iad[self._algorithm_at]) if len(iad) > self._algorithm_at else None
        if algorithm is None:
            return AuthorisationResult(False, "05", "unknown cryptogram algorithm in 9F10")
        master = bytes.fromhex(self.profile["test_keys"]["ac"][algorithm])
        try:
            genuine = qpboc.verify_cryptogram(
                request.tags.get(0x9F26, b""),
                algorithm=algorithm,
                master_key=master,
                pan=request.pan,
                pan_sequence=request.pan_sequence,
                tags=request.tags,
            )
        except ValueError as exc:
            return AuthorisationResult(False, "30", f"format error: {exc}")
        if not genuine:
            return AuthorisationResult(False, "05", "ARQC does not verify")
        balance = self.accounts.setdefault(request.pan, self.opening_balance)
        if request.amount > balance:
            return AuthorisationResult(False, "51", "insufficient funds")
        self.accounts[request.pan] = balance - request.amount
        return AuthorisationResult(True, "00")
