"""Malformed command APDUs, judged by ISO/IEC 7816-4 and the profile alone, never by asking a card.

A malformed command has one or more *faults*, each answered by a status word of national.card
`malformed` (CARD-APDU-001):

- `length`: the bytes fit none of the command cases of ISO/IEC 7816-4 §5.1;
- `reserved_class`: a class byte ISO/IEC 7816-4 reserves (2X, 3X) or makes invalid (FF);
- `class`: another class byte none of the card's commands uses (national.card `malformed`
  `classes`): a logical channel, secure messaging or a proprietary class the card does not have;
- `instruction`: an invalid INS (6X, 9X);
- `parameters`: one of the card's read-only commands with P1-P2 outside its values (RFU in
  ISO/IEC 7816-4, or, for GET CHALLENGE, other than the 00 00 the field code sends).

`faults(apdu)` finds all but the last in any byte string; `spoiled()` draws one of the card's
read-only commands with one field spoiled, so that every fault, parameters included, is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from simulator.apdu import CommandAPDU

#: ISO/IEC 7816-4:2020 §5.4 (class byte): 2X and 3X are reserved for future use, FF is invalid
RESERVED_CLASSES = frozenset((*range(0x20, 0x40), 0xFF))
INVALID_INS = [*range(0x60, 0x70), *range(0x90, 0xA0)]


def _fits_a_case(body: bytes) -> bool:
    """ISO/IEC 7816-4 §5.1: the body (after CLA INS P1 P2) of case 1, 2, 3 or 4, short or extended."""
    n = len(body)
    if n <= 1:
        return True
    if body[0]:
        return n - 1 in (body[0], body[0] + 1)
    if n == 3:
        return True
    lc = int.from_bytes(body[1:3], "big")
    return lc > 0 and n - 3 in (lc, lc + 2)


@st.composite
def _spoiled_length(draw, apdu: bytes) -> bytes:
    """A header truncated to 2 or 3 bytes, or an Lc that is neither the data sent nor the data and
    an Le. Not to 1 byte: vpcd's protocol takes a 1-byte message for a control byte (power off), so
    a card behind it never sees the command and the exchange hangs (shared/notes/pcsc-stack.md);
    what the suite sends, every reader path must carry."""
    if draw(st.booleans()):
        return apdu[: draw(st.integers(2, 3))]
    lc = draw(st.integers(1, 0xFF))
    size = draw(st.integers(1, 40).filter(lambda n: n not in (lc, lc + 1)))
    return apdu[:4] + bytes((lc,)) + draw(st.binary(min_size=size, max_size=size))


@dataclass(frozen=True, eq=False)
class Malformed:
    """What the run's profile says of malformed commands (card.yaml `malformed`: the status words
    each fault may answer, the class bytes the card's commands use), and the probes spoiled from
    the card's own read-only commands (`of`)."""

    #: fault -> the status words a card may answer a command with that fault
    answers: dict[str, frozenset[int]]
    #: the class bytes the card's commands use
    classes: frozenset[int]
    #: read-only commands of the card, well formed, and P1-P2 pairs outside each one's values
    probes: dict[str, tuple[bytes, st.SearchStrategy[tuple[int, int]]]]

    @classmethod
    def of(cls, malformed: dict, *, ssse_aid: bytes) -> Malformed:
        """From card.yaml's `malformed` section; `ssse_aid` selects the SSSE in a probe."""
        return cls(
            answers={fault: frozenset(int(sw, 16) for sw in sws) for fault, sws in malformed["answers"].items()},
            classes=frozenset(int(cla, 16) for cla in malformed["classes"]),
            probes={
                "SELECT of the SSSE": (CommandAPDU(0x00, 0xA4, 0x04, 0x00, ssse_aid, 0).to_bytes(),
                                       st.tuples(st.integers(0x10, 0xFF), st.just(0x00))),  # P1 RFU
                "READ RECORD EF05 record 1": (bytes.fromhex("00B2012C00"),  # mode 111, SFI 31
                                              st.tuples(st.just(0x01), st.sampled_from([0x2F, 0xFC, 0xF8]))),
                "GET CHALLENGE": (bytes.fromhex("0084000008"),
                                  st.tuples(st.just(0x00), st.integers(1, 0xFF))
                                  | st.tuples(st.integers(1, 0xFF), st.integers(0, 0xFF))),
            },
        )

    @property
    def wrong_classes(self) -> dict[str, list[int]]:
        """The wrong classes `spoiled` sends, reserved or not: not FF, which PC/SC readers take for themselves."""
        return {"reserved_class": sorted(RESERVED_CLASSES - {0xFF}),
                "class": sorted(set(range(0xFF)) - self.classes - RESERVED_CLASSES)}

    def faults(self, apdu: bytes) -> frozenset[str]:
        """What is wrong with `apdu` whatever the command: its length, class or instruction."""
        found = set()
        if len(apdu) < 4 or not _fits_a_case(apdu[4:]):
            found.add("length")
        if apdu[:1] and apdu[0] in RESERVED_CLASSES:
            found.add("reserved_class")
        elif apdu[:1] and apdu[0] not in self.classes:
            found.add("class")
        if apdu[1:2] and apdu[1] in INVALID_INS:
            found.add("instruction")
        return frozenset(found)

    def allowed(self, found: frozenset[str]) -> frozenset[int]:
        """The status words a card may answer a command with all of `found`."""
        return frozenset().union(*(self.answers[fault] for fault in found))

    def spoiled(self) -> st.SearchStrategy[tuple[str, frozenset[str], bytes]]:
        """(what, its faults, APDU): a read-only command of the card with one field spoiled."""
        return _spoiled(self)


@st.composite
def _spoiled(draw, malformed: Malformed) -> tuple[str, frozenset[str], bytes]:
    name = draw(st.sampled_from(sorted(malformed.probes)))
    apdu, bad_parameters = malformed.probes[name]
    fault = draw(st.sampled_from(sorted(malformed.answers)))
    wrong_classes = malformed.wrong_classes
    if fault == "length":
        apdu = draw(_spoiled_length(apdu))
    elif fault in wrong_classes:
        apdu = bytes((draw(st.sampled_from(wrong_classes[fault])),)) + apdu[1:]
    elif fault == "instruction":
        apdu = apdu[:1] + bytes((draw(st.sampled_from(INVALID_INS)),)) + apdu[2:]
    else:
        apdu = apdu[:2] + bytes(draw(bad_parameters)) + apdu[4:]
    return f"{name} with its {fault} spoiled", frozenset({fault}) | malformed.faults(apdu), apdu
