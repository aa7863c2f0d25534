"""Modelled transaction time: link transfer plus card processing, computed from the APDU bytes.

A pure model: no sleeps and no wall clock. A reference terminal attaches one `ModelledTime` to its
card transport and one to its PSAM transport, then reports the sum of their totals beside the
wall time. The SimPy world reads the same numbers, from the tracers or from `TimingModel.exchange`.
The result is what a terminal is judged on against `limits()`, for example DB31/T 239-2020
§6.3.2: at most 400 ms per purchase, record included.

Every parameter comes from `profiles/national/timing.yaml`:
- the link:
  - ISO 14443-4 Type A I-blocks: 9 bits per byte, PCB + CRC, a frame delay of 1172/fc after every
    frame, chaining, and S(WTX) rounds when processing exceeds FWT;
  - or ISO 7816-3 contact: T=0 with its procedure byte and 61xx + GET RESPONSE for case 4, or
    T=1 blocks, at the PSAM's baud;
- the card's processing time per command class, all of them `source: modelled`.
The derivations are those of transit-payment.md §3.3.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator import profile
from simulator.apdu import CardError, CommandAPDU, command_name

__all__ = [
    "COMMAND_CLASSES",
    "ContactLink",
    "ContactlessLink",
    "ExchangeTime",
    "Limit",
    "LinkModel",
    "ModelledTime",
    "T0Framing",
    "T1Framing",
    "TimingModel",
    "classify",
    "from_profile",
    "limits",
]

#: command name (simulator.apdu.COMMAND_NAMES) -> command class in the profile's `processing`.
COMMAND_CLASSES: dict[str, str] = {
    "SELECT": "select",
    "READ BINARY": "read",
    "READ RECORD": "read",
    "UPDATE BINARY": "update",
    "UPDATE RECORD": "update",
    "GET CHALLENGE": "get_challenge",
    "EXTERNAL AUTHENTICATE": "auth",
    "INTERNAL AUTHENTICATE": "auth",
    "VERIFY": "auth",
    "GET RESPONSE": "get_response",
    "GET BALANCE": "get_balance",
    "INITIALIZE FOR LOAD": "init_load",
    "INITIALIZE FOR PURCHASE": "init_purchase",
    "INITIALIZE FOR CAPP PURCHASE": "init_purchase",
    "UPDATE CAPP DATA CACHE": "update_capp",
    "DEBIT FOR PURCHASE": "debit",
    "CREDIT FOR LOAD": "credit_load",
    "GET TRANSACTION PROVE": "get_prove",
    "APPLICATION BLOCK": "app_block",
    "PSAM MAC1": "psam_mac1",
    "PSAM VERIFY MAC2": "psam_mac2",
    "DES INITIALIZE": "psam_des",
    "DES COMPUTE": "psam_des",
}


def classify(command: bytes) -> str:
    """The processing class of a command APDU, by its name; "other" when it has no class."""
    return COMMAND_CLASSES.get(command_name(command) or "", "other")


def _blocks(length: int, size: int) -> int:
    """How many blocks of at most `size` bytes carry `length` bytes (an empty APDU is still one block)."""
    return max(1, math.ceil(length / size))


# -- links ------------------------------------------------------------------------------------


class LinkModel(ABC):
    """The time one command-response exchange spends on the air or on the wire."""

    @abstractmethod
    def transfer(self, command: bytes, response: bytes, *, processing: float = 0.0) -> float:
        """Seconds from the command's first bit to the earliest moment the next command may start.

        Card processing is not included. `processing` only matters where the link has to act on a
        long computation, as with contactless S(WTX) rounds.
        """

    @abstractmethod
    def send_seconds(self, command: bytes) -> float:
        """Seconds to send the command alone. Used when no answer comes."""

    @abstractmethod
    def no_response_wait(self) -> float:
        """How long a reader waits for an answer that never comes before it gives up."""

    def wtx_rounds(self, processing: float) -> int:
        """Waiting-time extensions the card requests during `processing` seconds (none on most links)."""
        return 0


@dataclass(frozen=True, slots=True)
class ContactlessLink(LinkModel):
    """ISO/IEC 14443-4 Type A at one bit rate. Each frame is followed by `frame_delay_fc`/fc.

    An exchange consists of the command I-block(s), then the response I-block(s). Chained blocks
    are each answered by an R(ACK). When processing exceeds FWT, the card adds S(WTX) request and
    response pairs. SOF/EOF are left out, about 2 bit times per frame.
    """

    bit_rate: int
    fc_hz: float
    fc_divisor: int
    bits_per_byte: int
    i_block_overhead: int
    r_block_bytes: int
    s_wtx_bytes: int
    frame_delay_fc: int
    fwt_unit_fc: int
    fwi: int
    wtxm: int
    delta_fwt_fc: int
    fsc: int
    fsd: int

    @property
    def byte_seconds(self) -> float:
        return self.bits_per_byte * self.fc_divisor / self.fc_hz

    @property
    def frame_delay(self) -> float:
        return self.frame_delay_fc / self.fc_hz

    @property
    def fwt(self) -> float:
        """Frame waiting time (256·16/fc)·2^FWI."""
        return self.fwt_unit_fc * 2**self.fwi / self.fc_hz

    def frame_seconds(self, apdu_bytes: int) -> float:
        """One I-block carrying `apdu_bytes` of INF, with its PCB and CRC, without the delay after it."""
        return (apdu_bytes + self.i_block_overhead) * self.byte_seconds

    def wtx_rounds(self, processing: float) -> int:
        fwt = self.fwt
        if processing <= fwt:
            return 0
        return math.ceil((processing - fwt) / (fwt * self.wtxm))

    def _direction(self, length: int, frame_size: int) -> tuple[int, int]:
        """(bytes, frames) to move `length` APDU bytes one way, R(ACK)s of the other side included."""
        blocks = _blocks(length, frame_size - self.i_block_overhead)
        return length + blocks * self.i_block_overhead + (blocks - 1) * self.r_block_bytes, 2 * blocks - 1

    def transfer(self, command: bytes, response: bytes, *, processing: float = 0.0) -> float:
        out_bytes, out_frames = self._direction(len(command), self.fsc)
        in_bytes, in_frames = self._direction(len(response), self.fsd)
        wtx = self.wtx_rounds(processing)
        total_bytes = out_bytes + in_bytes + 2 * wtx * self.s_wtx_bytes
        frames = out_frames + in_frames + 2 * wtx
        return total_bytes * self.byte_seconds + frames * self.frame_delay

    def send_seconds(self, command: bytes) -> float:
        out_bytes, out_frames = self._direction(len(command), self.fsc)
        return out_bytes * self.byte_seconds + out_frames * self.frame_delay

    def no_response_wait(self) -> float:
        return self.fwt + self.delta_fwt_fc / self.fc_hz


@dataclass(frozen=True, slots=True)
class T0Framing:
    """ISO/IEC 7816-3 T=0 character framing: header, procedure byte, data, SW, GET RESPONSE."""

    character_etu: int
    turnaround_etu: int
    header_bytes: int
    procedure_bytes: int
    wi: int

    def characters(self, command: bytes, response: bytes) -> tuple[int, int]:
        """(characters, direction changes) of one exchange. The change before the next command is counted.

        - case 1: header, then SW.
        - case 2: header, then procedure byte, data and SW. When the data length is not P3
          (00 means 256), a 6Cxx round comes first.
        - case 3: header, procedure byte, data, then SW.
        - case 4: case 3 answered 61xx, then GET RESPONSE: header, procedure byte, data and SW.
        """
        try:
            apdu = CommandAPDU.parse(command)
            lc, ne = len(apdu.data), apdu.ne
        except CardError:  # malformed: whatever follows the header still crosses the wire
            lc, ne = max(0, len(command) - self.header_bytes), None
        out = max(0, len(response) - 2)
        h, p = self.header_bytes, self.procedure_bytes
        runs = [h]  # character runs, alternating reader -> card -> reader ...
        if lc:
            runs += [p, lc]
        if not out:
            runs.append(2)
        elif lc:
            runs += [2, h, p + out + 2]
        else:
            if out != (ne if ne is not None else 256):
                runs += [2, h]
            runs.append(p + out + 2)
        return sum(runs), len(runs)

    def no_response_wait(self, *, etu: float, fi: int, f_hz: float) -> float:
        """WWT = 960 · D · WI etu = 960 · WI · Fi / f."""
        return 960 * self.wi * fi / f_hz


@dataclass(frozen=True, slots=True)
class T1Framing:
    """ISO/IEC 7816-3 T=1 block framing: NAD PCB LEN ‖ INF ‖ LRC, with chaining above IFSC/IFSD."""

    character_etu: int
    turnaround_etu: int  # BGT
    prologue_bytes: int
    epilogue_bytes: int
    r_block_bytes: int
    ifsc: int
    ifsd: int
    bwi: int
    default_fi: int

    def _direction(self, length: int, ifs: int) -> tuple[int, int]:
        blocks = _blocks(length, ifs)
        framing = blocks * (self.prologue_bytes + self.epilogue_bytes) + (blocks - 1) * self.r_block_bytes
        return length + framing, 2 * blocks - 1

    def characters(self, command: bytes, response: bytes) -> tuple[int, int]:
        """(characters, direction changes): every block is followed by a change of direction."""
        out_chars, out_blocks = self._direction(len(command), self.ifsc)
        in_chars, in_blocks = self._direction(len(response), self.ifsd)
        return out_chars + in_chars, out_blocks + in_blocks

    def no_response_wait(self, *, etu: float, fi: int, f_hz: float) -> float:
        """BWT = 11 etu + 2^BWI · 960 · 372/f."""
        return 11 * etu + 2**self.bwi * 960 * self.default_fi / f_hz


@dataclass(frozen=True, slots=True)
class ContactLink(LinkModel):
    """ISO/IEC 7816-3 at one baud (etu = Fi / (Di·f)), with T=0 or T=1 framing.

    Every character takes `character_etu`. Each change of direction takes `turnaround_etu`
    (T=0: 16 etu; T=1: BGT 22 etu) instead.
    """

    baud: int
    fi: int
    di: int
    f_hz: float
    framing: T0Framing | T1Framing

    @property
    def protocol(self) -> str:
        return "T=0" if isinstance(self.framing, T0Framing) else "T=1"

    @property
    def etu(self) -> float:
        return self.fi / (self.di * self.f_hz)

    def characters(self, command: bytes, response: bytes) -> tuple[int, int]:
        return self.framing.characters(command, response)

    def transfer(self, command: bytes, response: bytes, *, processing: float = 0.0) -> float:
        chars, changes = self.framing.characters(command, response)
        char_etu, turn_etu = self.framing.character_etu, self.framing.turnaround_etu
        return (chars * char_etu + changes * (turn_etu - char_etu)) * self.etu

    def send_seconds(self, command: bytes) -> float:
        return len(command) * self.framing.character_etu * self.etu

    def no_response_wait(self) -> float:
        return self.framing.no_response_wait(etu=self.etu, fi=self.fi, f_hz=self.f_hz)


# -- the model and the tracer -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExchangeTime:
    """The modelled time of one exchange, in seconds, split by where it goes.

    `answered=False` means the card did not answer. Then `waited` is the time the reader waited
    before giving up, and `processing` is 0.
    """

    command_class: str
    transfer: float
    processing: float
    wtx: int = 0
    answered: bool = True
    waited: float = 0.0

    @property
    def total(self) -> float:
        return self.transfer + self.processing + self.waited


@dataclass(frozen=True, slots=True)
class TimingModel:
    """A link plus the card's processing time per command class (seconds; "other" is required)."""

    link: LinkModel
    processing: Mapping[str, float]

    def __post_init__(self) -> None:
        if "other" not in self.processing:
            raise ValueError(f"processing times need an 'other' class; got {sorted(self.processing)}")

    def processing_time(self, command: bytes) -> tuple[str, float]:
        """(class, seconds) for a command. A class without its own entry falls back to "other"."""
        name = classify(command)
        return name, self.processing.get(name, self.processing["other"])

    def exchange(self, command: bytes, response: bytes) -> ExchangeTime:
        name, processing = self.processing_time(command)
        transfer = self.link.transfer(command, response, processing=processing)
        return ExchangeTime(name, transfer, processing, wtx=self.link.wtx_rounds(processing))

    def no_response(self, command: bytes) -> ExchangeTime:
        """The command was sent and nothing came back (card torn away, link error)."""
        return ExchangeTime(
            classify(command),
            self.link.send_seconds(command),
            0.0,
            answered=False,
            waited=self.link.no_response_wait(),
        )

    @classmethod
    def from_profile(
        cls,
        *,
        link: str = "contactless",
        bit_rate: int | None = None,
        fwi: int | None = None,
        baud: int | None = None,
        protocol: str | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> TimingModel:
        """The model for one link of the timing profile.

        Contactless takes `bit_rate` (106000, 212000, 424000 or 848000) and `fwi`. Contact takes
        `baud` (9600, 38400 or 115200) and `protocol` ("T=0" or "T=1"). When an option is left
        out, the profile's default is used. `document` replaces the profile (it is validated).
        """
        doc = _document(document)
        try:
            factory, accepted = LINKS[link]
        except KeyError:
            raise ValueError(f"unknown link {link!r}; valid links: {', '.join(sorted(LINKS))}") from None
        given = {
            k: v
            for k, v in {"bit_rate": bit_rate, "fwi": fwi, "baud": baud, "protocol": protocol}.items()
            if v is not None
        }
        if wrong := sorted(set(given) - accepted):
            raise ValueError(f"{', '.join(wrong)} does not apply to the {link} link; it takes {sorted(accepted)}")
        processing = {name: entry["ms"] / 1000 for name, entry in doc["processing"].items()}
        return cls(factory(doc[link], **given), processing)


class ModelledTime:
    """Tracer: adds up the modelled time of every exchange on the transport it is attached to.

    It follows the `simulator.transport.base.Tracer` protocol. The wall-clock `seconds` the
    transport passes in is ignored. `exchanges` keeps the breakdown, one `ExchangeTime` per APDU,
    and `total` is their sum. Call `reset()` between transactions. Activation (REQA...ATS) and the
    ATR are not modelled.
    """

    def __init__(self, model: TimingModel) -> None:
        self.model = model
        self.exchanges: list[ExchangeTime] = []
        self.connects = 0

    def on_connect(self, atr: bytes) -> None:
        self.connects += 1

    def on_exchange(self, command: bytes, response: bytes, seconds: float) -> None:
        self.exchanges.append(self.model.exchange(command, response))

    def on_error(self, command: bytes | None, exc: Exception) -> None:
        if command is not None:
            self.exchanges.append(self.model.no_response(command))

    @property
    def total(self) -> float:
        return sum(e.total for e in self.exchanges)

    @property
    def transfer(self) -> float:
        return sum(e.transfer for e in self.exchanges)

    @property
    def processing(self) -> float:
        return sum(e.processing for e in self.exchanges)

    def reset(self) -> None:
        self.exchanges.clear()


def from_profile(
    *,
    link: str = "contactless",
    bit_rate: int | None = None,
    fwi: int | None = None,
    baud: int | None = None,
    protocol: str | None = None,
    document: Mapping[str, Any] | None = None,
) -> ModelledTime:
    """A `ModelledTime` tracer for one link of the timing profile. The options are those of
    `TimingModel.from_profile`.
    """
    model = TimingModel.from_profile(
        link=link, bit_rate=bit_rate, fwi=fwi, baud=baud, protocol=protocol, document=document
    )
    return ModelledTime(model)


# -- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limit:
    """A performance limit from the profile. `verified=False` flags a figure without a checked source."""

    name: str
    seconds: float
    scope: str
    source: str
    verified: bool


def limits(document: Mapping[str, Any] | None = None) -> dict[str, Limit]:
    """The transaction-time limits by name ("purchase", "load", "ticket")."""
    doc = _document(document)
    return {
        name: Limit(name, entry["max_ms"] / 1000, entry["scope"], entry["source"], entry["verified"])
        for name, entry in doc["limits"].items()
    }


# -- from the profile -------------------------------------------------------------------------


def _document(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if document is None:
        return profile.national()["timing"]
    return profile.validate(document, "timing", where="timing document")


def _pick(rows: list[dict], key: str, value: int, where: str) -> dict:
    for row in rows:
        if row[key] == value:
            return row
    valid = ", ".join(str(row[key]) for row in rows)
    raise ValueError(f"{key} {value} is not in timing.yaml {where}; valid: {valid}")


def _contactless(section: Mapping[str, Any], *, bit_rate: int | None = None, fwi: int | None = None) -> LinkModel:
    rate = section["default_bit_rate"] if bit_rate is None else bit_rate
    row = _pick(section["bit_rates"], "bit_rate", rate, "contactless/bit_rates")
    fwi = section["fwi"] if fwi is None else fwi
    if not 0 <= fwi <= 14:
        raise ValueError(f"fwi {fwi} is outside 0..14 (ISO/IEC 14443-4; profile timing.yaml contactless/fwi)")
    return ContactlessLink(
        bit_rate=rate,
        fc_hz=section["fc_hz"],
        fc_divisor=row["fc_divisor"],
        bits_per_byte=section["bits_per_byte"],
        i_block_overhead=section["i_block_overhead"],
        r_block_bytes=section["r_block_bytes"],
        s_wtx_bytes=section["s_wtx_bytes"],
        frame_delay_fc=section["frame_delay_fc"],
        fwt_unit_fc=section["fwt_unit_fc"],
        fwi=fwi,
        wtxm=section["wtxm"],
        delta_fwt_fc=section["delta_fwt_fc"],
        fsc=section["fsc"],
        fsd=section["fsd"],
    )


def _t0(section: Mapping[str, Any]) -> T0Framing:
    t0 = section["t0"]
    return T0Framing(
        character_etu=t0["character_etu"],
        turnaround_etu=t0["turnaround_etu"],
        header_bytes=t0["header_bytes"],
        procedure_bytes=t0["procedure_bytes"],
        wi=t0["wi"],
    )


def _t1(section: Mapping[str, Any]) -> T1Framing:
    t1 = section["t1"]
    return T1Framing(
        character_etu=t1["character_etu"],
        turnaround_etu=t1["bgt_etu"],
        prologue_bytes=t1["prologue_bytes"],
        epilogue_bytes=t1["epilogue_bytes"],
        r_block_bytes=t1["r_block_bytes"],
        ifsc=t1["ifsc"],
        ifsd=t1["ifsd"],
        bwi=t1["bwi"],
        default_fi=section["default_fi"],
    )


#: protocol -> framing built from the profile's contact section
FRAMINGS: dict[str, Callable[[Mapping[str, Any]], T0Framing | T1Framing]] = {"T=0": _t0, "T=1": _t1}


def _contact(section: Mapping[str, Any], *, baud: int | None = None, protocol: str | None = None) -> LinkModel:
    rate = section["default_baud"] if baud is None else baud
    row = _pick(section["bauds"], "baud", rate, "contact/bauds")
    protocol = section["default_protocol"] if protocol is None else protocol
    try:
        framing = FRAMINGS[protocol](section)
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(sorted(FRAMINGS))}") from None
    return ContactLink(baud=rate, fi=row["fi"], di=row["di"], f_hz=section["f_hz"], framing=framing)


#: link name -> (factory over the profile section, the options it takes)
LINKS: dict[str, tuple[Callable[..., LinkModel], frozenset[str]]] = {
    "contactless": (_contactless, frozenset({"bit_rate", "fwi"})),
    "contact": (_contact, frozenset({"baud", "protocol"})),
}
