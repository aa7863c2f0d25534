"""Role fixtures of the reader_api suite: the reader, its bench (cards laid on it), the profile."""

from __future__ import annotations

from datetime import date

import pytest

from conformance.dut import RecordingCard
from conformance.evidence import attach_json, attach_trace
from conformance.suites.reader_api._cards import Alteration
from conformance.suites.reader_api.formats import masked
from conformance.verdicts import not_applicable
from simulator.backend.hsm import Hsm
from simulator.backend.issuer import IssuerKeys
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.privacy import TraceMasker
from simulator.profile import Profile

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

    def __init__(self, reader, profile: Profile) -> None:
        self.reader = reader
        self.profile = profile
        self.reader_api = profile["reader_api"]
        self.masker = TraceMasker.from_profiles(profile)
        self.card: RecordingCard | None = None
        self.persona: str | None = None
        self._reusable = False

    def present(self, persona: str | None, *, fresh: bool = False,
                alter: Alteration | None = None) -> RecordingCard | None:
        if persona is None:
            self.reader.insert(None)
            self.card = self.persona = None
        elif fresh or alter or persona != self.persona or not self._reusable or self.card is None:
            image = personas.image(persona, as_of=AS_OF, profile=self.profile)
            if alter is not None:
                alter(image, self.profile)
            self.card = RecordingCard(CardOS(image))
            self.persona = persona
            self.reader.insert(self.card)
        self._reusable = not (fresh or alter)
        return self.card

    def values(self, persona: str) -> dict:
        """What the persona's card holds (element values)."""
        return personas.resolve(persona, as_of=AS_OF, profile=self.profile).values

    def pin(self, persona: str) -> str:
        return personas.resolve(persona, as_of=AS_OF, profile=self.profile).pin

    def atr(self, persona: str) -> bytes:
        return personas.image(persona, as_of=AS_OF, profile=self.profile).atr

    def call(self, function: str, *args) -> tuple[int, str]:
        start = len(self.card.exchanges) if self.card is not None else 0
        code, out = self.reader.call(function, *args)
        spec = self.reader_api["functions"][function]
        output = self.reader_api["formats"].get(spec.get("output", ""))
        shown_args = ["******" if function.startswith("iVerifyP") and n == 1 else a for n, a in enumerate(args)]
        if self.card is not None:
            attach_trace(f"{function}: card-side APDU trace", self.card.exchanges[start:], self.masker)
        attach_json(f"{function}: answer", {"function": function, "args": shown_args, "code": code,
                                            "pOutInfo": masked(out, output if code == 0 else None)})
        return code, out


@pytest.fixture(scope="session")
def api(profile) -> dict:
    """The run's reader_api document (profiles/national/reader_api.yaml, a region's overlay layered over it)."""
    return profile["reader_api"]


@pytest.fixture(scope="session")
def ssse_profile(profile) -> dict:
    """The run's SSSE document: the card layout the reader reads."""
    return profile["ssse"]


@pytest.fixture(scope="session")
def hsm(profile) -> Hsm:
    """The department's encryption machine the suite plays, with the run's issuer keys."""
    return Hsm(IssuerKeys(profile))


@pytest.fixture(scope="session")
def reader(dut):
    if dut.reader is None:
        not_applicable(f"{dut.name} plays no reader role")
    return dut.reader


@pytest.fixture(scope="session")
def bench(reader, profile) -> Bench:
    return Bench(reader, profile)
