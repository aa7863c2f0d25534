"""Role fixtures of the reader_api suite: the reader, its bench (cards laid on it), the profile."""

from __future__ import annotations

from datetime import date

import pytest

from conformance.dut import RecordingCard
from conformance.evidence import attach_json, attach_trace
from conformance.suites.reader_api._cards import Alteration
from conformance.suites.reader_api.formats import masked
from conformance.verdicts import not_applicable
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.profile import load

#: the personalisation date of the cards the suite lays on the reader
AS_OF = date(2026, 11, 23)


class Bench:
    """The harness's side of the reader: lays persona cards on it and calls its functions,
    attaching the card-side APDU trace and the masked answer of every call as evidence.

    A card only read stays on the reader for the next test that wants the same persona (a vpcd
    re-insertion costs about a second); `fresh=True` lays a new card (PIN tries, HSM sessions).
    `alter` changes the persona's image before the card boots (a card no persona gives, `_cards`);
    such a card is never reused.
    """

    def __init__(self, reader, profile: dict) -> None:
        self.reader = reader
        self.profile = profile
        self.card: RecordingCard | None = None
        self.persona: str | None = None
        self._reusable = False

    def present(self, persona: str | None, *, fresh: bool = False,
                alter: Alteration | None = None) -> RecordingCard | None:
        if persona is None:
            self.reader.insert(None)
            self.card = self.persona = None
        elif fresh or alter or persona != self.persona or not self._reusable or self.card is None:
            image = personas.image(persona, as_of=AS_OF)
            if alter is not None:
                alter(image)
            self.card = RecordingCard(CardOS(image))
            self.persona = persona
            self.reader.insert(self.card)
        self._reusable = not (fresh or alter)
        return self.card

    def values(self, persona: str) -> dict:
        """What the persona's card holds (element values)."""
        return personas.resolve(persona, as_of=AS_OF).values

    def pin(self, persona: str) -> str:
        return personas.resolve(persona, as_of=AS_OF).pin

    def atr(self, persona: str) -> bytes:
        return personas.image(persona, as_of=AS_OF).atr

    def call(self, function: str, *args) -> tuple[int, str]:
        start = len(self.card.exchanges) if self.card is not None else 0
        code, out = self.reader.call(function, *args)
        spec = self.profile["functions"][function]
        output = self.profile["formats"].get(spec.get("output", ""))
        shown_args = ["******" if function.startswith("iVerifyP") and n == 1 else a for n, a in enumerate(args)]
        if self.card is not None:
            attach_trace(f"{function}: card-side APDU trace", self.card.exchanges[start:])
        attach_json(f"{function}: answer", {"function": function, "args": shown_args, "code": code,
                                            "pOutInfo": masked(out, output if code == 0 else None)})
        return code, out


@pytest.fixture(scope="session")
def api() -> dict:
    """profiles/national/reader_api.yaml"""
    return load("national/reader_api", "reader_api")


@pytest.fixture(scope="session")
def reader(dut):
    if dut.reader is None:
        not_applicable(f"{dut.name} plays no reader role")
    return dut.reader


@pytest.fixture(scope="session")
def bench(reader, api) -> Bench:
    return Bench(reader, api)
