"""The decision record every reference terminal returns, and its reason codes.

A decision says what the terminal did and why, with the evidence a conformance test or an
auditor needs: accept or reject with a reason code from `profiles/national/terminals.yaml`,
the money that moved on the card (`debited`, `loaded`: what conservation checks add up), the
cryptographic proof (ATC, TAC, MAC2, terminal serial) and the modelled transaction time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields


@dataclass
class Decision:
    terminal: str
    reason: str
    #: the reason codes of the terminal's profile (terminals.yaml `reasons`): whether `reason`
    #: admits and what it says are read there, so a copy with another reason says that one's
    reasons: Mapping[str, dict] = field(repr=False, compare=False)
    amount: int = 0  # fen the passenger was charged (after concession) or loaded
    fare: int = 0  # fen before concession
    debited: int = 0  # fen the card's balance went down by in this presentation
    loaded: int = 0  # fen the card's balance went up by in this presentation
    balance_after: int | None = None
    card: str = ""  # application serial or 卡识别码: identifies the card, not the person
    detail: str = ""
    evidence: dict = field(default_factory=dict)
    modelled_ms: float | None = None
    wall_ms: float | None = None

    def __post_init__(self) -> None:
        if self.reason not in self.reasons:
            raise ValueError(f"unknown reason code {self.reason!r}; known: {sorted(self.reasons)}")

    @property
    def accepted(self) -> bool:
        return self.reasons[self.reason]["accepted"]

    @property
    def text(self) -> str:
        return self.reasons[self.reason]["text"]

    def as_dict(self) -> dict:
        """The decision as the terminal API carries it (the profile's reason table left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "reasons"}
        out["accepted"] = self.accepted
        out["evidence"] = {k: v.hex().upper() if isinstance(v, bytes) else v for k, v in self.evidence.items()}
        return out
