"""Access conditions and the card's volatile security state (ISO/IEC 7816-4 §5.4).

A condition is one word, from the profile: `free`, `never`, `pin` (the application PIN was
verified), or `auth:<kid>` (EXTERNAL AUTHENTICATE with that key succeeded). The state lives only
while the card is powered and the same application stays selected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.apdu import SW, CardError


def parse_condition(text: str, *, where: str) -> str:
    """Validate a condition word at the door, naming where it came from."""
    if text in ("free", "never", "pin"):
        return text
    if text.startswith("auth:") and len(text) == 7:
        try:
            int(text[5:], 16)
        except ValueError:
            pass
        else:
            return text.upper().replace("AUTH:", "auth:")
    raise ValueError(f"{where}: unknown access condition {text!r}; use free, never, pin or auth:<kid>")


@dataclass(slots=True)
class SecurityState:
    pin_verified: bool = False
    authenticated: set[int] = field(default_factory=set)

    def clear(self) -> None:
        self.pin_verified = False
        self.authenticated.clear()

    def check(self, condition: str) -> None:
        """Raise 6982 unless the condition holds (6985 for `never`)."""
        if condition == "free":
            return
        if condition == "pin":
            if self.pin_verified:
                return
        elif condition == "never":
            raise CardError(SW.CONDITIONS_NOT_SATISFIED, "access never allowed")
        elif int(condition[5:], 16) in self.authenticated:
            return
        raise CardError(SW.SECURITY_NOT_SATISFIED, f"access needs {condition}")
