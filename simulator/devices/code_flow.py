"""Code presentation: a terminal admits by a scanned e-code (电子社保卡二维码, 乘车码) as it does by a card.

A code's presentation is a flow of steps like a card's (simulator/devices/terminal.py), so `drive()`
runs it at once and the SimPy world can time its back-end step. The terminal first reads the
payload (`simulator.ecode.read`: malformed bytes, or a kind it does not admit, terminals.yaml
`ecode.admits`), then verifies it online through its platform port when it has one (a "backend"
step: the platform's key chain, scan log and live registry), else offline from the key chain it
holds (ecode.yaml `ca_keys`), its own duplicate log and its blacklist of card numbers. A platform
that gives no answer (`Unavailable`) makes it verify offline and say so (evidence `fallback`).
Either way a code it took is entered in its own log, bounded by the code's window on the injected
clock, so the same code is refused here later even if the platform never saw it.

The verification is simulator/ecode/verify.py's, the one implementation of the protocol; this
module only decides what each verdict means at a terminal (terminals.yaml `ecode.verdicts`).
"""

from __future__ import annotations

import itertools
import time
from functools import partial

from simulator import ecode
from simulator.backend.ports import EcodeVerifyRequest, Unavailable
from simulator.devices.decision import Decision
from simulator.devices.steps import Step, Steps, drive
from simulator.privacy import mask_value


class CodeReader:
    """Mixed into a `Terminal` of a kind terminals.yaml `ecode.admits` lists; `ecode_keys` replaces
    the profile's key chain (e.g. the platform's own, for a terminal of a simulated site)."""

    def __init__(self, *, ecode_keys: ecode.KeyChain | None = None, **kw) -> None:
        super().__init__(**kw)
        self.ecode_profile = self.profile["ecode"]
        self.code_keys = ecode_keys or ecode.KeyChain.from_profile(self.ecode_profile)
        self.code_log = ecode.MemoryReplayLog()
        self._code_requests = itertools.count(1)

    @property
    def code_kinds(self) -> tuple[str, ...]:
        return tuple(self.terminals["ecode"]["admits"][self.kind])

    def present_code(self, payload: bytes) -> Decision:
        """A code is scanned: run its flow at once, journal and return the decision."""
        return drive(self.code_presentation(payload))

    def code_presentation(self, payload: bytes) -> Steps:
        """A code is scanned, as steps: the flow, then the decision journaled with its wall time."""
        started = time.perf_counter()
        self.status.last = None  # no card status is asked for a code: the platform verifies it whole
        decision = yield from self.code_flow(payload)
        decision.wall_ms = (time.perf_counter() - started) * 1e3
        self.journal.append(decision)
        return decision

    def code_flow(self, payload: bytes) -> Steps:
        decoded = ecode.read(payload, profile=self.ecode_profile, kinds=self.code_kinds)
        if isinstance(decoded, ecode.Verdict):
            return self.code_decision(decoded, verified="offline")
        code, kind = decoded
        if self.platform is not None:
            request = EcodeVerifyRequest(f"ecode:{self.terminal_id}:{next(self._code_requests)}", payload, self.kind)
            try:
                answer = yield Step("backend", "the platform verifies the code",
                                    call=partial(self.platform.verify_ecode, request))
            except Unavailable as exc:
                verdict = self.verify_offline(payload)
                return self.code_decision(verdict, verified="offline", fallback=f"platform unavailable: {exc}")
            verdict = ecode.Verdict(ecode.Reason(answer.reason), "",
                                    answer.card_number or code.authorisation.card_number, kind)
            return self.code_decision(self.locally(code, verdict), verified="online")
        return self.code_decision(self.verify_offline(payload), verified="offline")

    def verify_offline(self, payload: bytes) -> ecode.Verdict:
        return ecode.verify(payload, chain=self.code_keys, profile=self.ecode_profile, now=self.clock(),
                            replay=self.code_log, revoked=self.code_revoked, kinds=self.code_kinds)

    def code_revoked(self, card_number: str) -> bool:
        """The terminal's own view of a code's card: its blacklist, by card number."""
        return card_number in self.status

    def locally(self, code: ecode.ECode, verdict: ecode.Verdict) -> ecode.Verdict:
        """An online verdict of `valid` checked against what this terminal knows: its blacklist,
        then its own log (a code it took offline while the platform was away)."""
        if not verdict.valid:
            return verdict
        card = code.authorisation.card_number
        if self.code_revoked(card):
            return ecode.Verdict(ecode.Reason.REVOKED_CARD, "the card is on this terminal's blacklist", card,
                                 verdict.kind)
        if not ecode.first_scan(code, self.code_log, now=ecode.epoch_seconds(self.clock())):
            return ecode.Verdict(ecode.Reason.REPLAYED, "this terminal took this code before", card, verdict.kind)
        return verdict

    def code_fare(self) -> int:
        """The fare a code's admission records (fen; charged later by the back-end); 0: none."""
        return 0

    def code_decision(self, verdict: ecode.Verdict, *, verified: str, fallback: str = "") -> Decision:
        """The decision for `verdict`: its reason code, the masked card number, what verified it."""
        rules = self.terminals["ecode"]
        evidence: dict = {"verified": verified}
        if verdict.kind is not None:
            evidence["code_kind"] = verdict.kind
        if fallback:
            evidence["fallback"] = True
        fare = self.code_fare() if verdict.valid else 0
        if fare:
            evidence["charge"] = rules["ride_charge"]
        card = mask_value("card_number", verdict.card_number) if verdict.card_number else ""
        detail = "; ".join(filter(None, (verdict.detail, fallback)))
        return self.decide(rules["verdicts"][verdict.reason.value], card=card, fare=fare, amount=fare, detail=detail,
                           evidence=evidence)
