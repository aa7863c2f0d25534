"""File commands (ISO/IEC 7816-4 §7.1-7.3): SELECT, READ/UPDATE BINARY, READ/UPDATE/APPEND RECORD.

Record addressing follows §7.3.1: P2 b8..b4 = SFI (0 = current EF), b3..b1 = 100 record number
P1, 000 first record whose identifier (its first byte, the SSSE tag) is P1 (ssc-card.md §1).
Every write goes through NVM.write, so a tear leaves the file all-old or all-new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.apdu import SW, CardError, CommandAPDU, ResponseAPDU
from simulator.card.commands import command
from simulator.card.filesystem import DESCRIPTOR, DF, EF
from simulator.card.image import count_key, head_key, record_key
from simulator.tlv import tlv

if TYPE_CHECKING:
    from simulator.card.cardos import CardOS


def fci(df: DF) -> bytes:
    """File control information of a DF: 6F { 84 DF name, A5 proprietary } or 6F { 83 FID }."""
    inner = tlv(0x84, df.aid) if df.aid else tlv(0x83, df.fid.to_bytes(2, "big"))
    if df.fci_proprietary:
        inner += tlv(0xA5, df.fci_proprietary)
    return tlv(0x6F, inner)


def fcp(ef: EF) -> bytes:
    """File control parameters of an EF: 62 { 80 size, 82 descriptor, 83 FID, 88 SFI in b8..b4 }
    (ISO/IEC 7816-4: a one-byte 88 carries the SFI in its five high bits, b3..b1 = 000)."""
    size = ef.size if not ef.is_record else ef.record_size * ef.max_records
    inner = tlv(0x80, size.to_bytes(2, "big"))
    descriptor = bytes((DESCRIPTOR[ef.structure],))
    if ef.is_record:
        descriptor += b"\x00" + bytes((ef.record_size, ef.max_records))
    inner += tlv(0x82, descriptor) + tlv(0x83, ef.fid.to_bytes(2, "big"))
    if ef.sfi is not None:
        inner += tlv(0x88, bytes((ef.sfi << 3,)))
    return tlv(0x62, inner)


# -- SELECT ---------------------------------------------------------------------------------
@command(0x00, 0xA4)
def select(card: CardOS, cmd: CommandAPDU) -> bytes | ResponseAPDU:
    if cmd.p2 not in (0x00, 0x04, 0x0C):
        raise CardError(SW.INCORRECT_P1P2, "SELECT supports P2 00, 04, 0C")
    target = _select_target(card, cmd)
    if isinstance(target, EF):
        card.current_df, card.current_ef = card.tree.parent[target.path], target
        return b"" if cmd.p2 == 0x0C else fcp(target)
    previous_app = card.tree.application_of(card.current_df)
    card.current_df, card.current_ef = target, None
    if card.tree.application_of(target) is not previous_app:
        card.leave_application()  # CARD-SEL-002: security state is per application
    data = b"" if cmd.p2 == 0x0C else fci(target)
    if card.application_locked():
        return ResponseAPDU(data, card.application.locked_sw)  # CARD-SEL-003
    return data


def _select_target(card: CardOS, cmd: CommandAPDU) -> DF | EF:
    if cmd.p1 == 0x04:
        if not 1 <= len(cmd.data) <= 16:
            raise CardError(SW.WRONG_LENGTH, "a DF name has 1 to 16 bytes")
        df = card.tree.by_aid.get(cmd.data)
        if df is None:
            raise CardError(SW.FILE_NOT_FOUND, f"no DF named {cmd.data.hex()}")
        return df
    if cmd.p1 not in (0x00, 0x02):
        raise CardError(SW.INCORRECT_P1P2, "SELECT supports P1 00, 02, 04")
    if not cmd.data and cmd.p1 == 0x00:
        return card.tree.mf
    if len(cmd.data) != 2:
        raise CardError(SW.WRONG_LENGTH, "a FID has 2 bytes")
    fid = int.from_bytes(cmd.data, "big")
    if cmd.p1 == 0x00 and fid == 0x3F00:
        return card.tree.mf
    node = card.current_df.child(fid)
    if node is None and cmd.p1 == 0x00:  # ISO 7816-4 §7.1.1: P1=00 also finds the parent and its children
        parent = card.tree.parent.get(card.current_df.path)
        if parent is not None:
            node = parent if parent.fid == fid else parent.child(fid)
    if node is None or (cmd.p1 == 0x02 and not isinstance(node, EF)):
        raise CardError(SW.FILE_NOT_FOUND, f"no file {fid:04X} here")
    return node


# -- addressing helpers ---------------------------------------------------------------------
def _ef_for(card: CardOS, sfi: int) -> EF:
    """The EF a command addresses: by SFI (which then becomes current) or the current EF."""
    if sfi == 0:
        if card.current_ef is None:
            raise CardError(SW.COMMAND_NOT_ALLOWED, "no current EF")
        return card.current_ef
    ef = card.current_df.ef_by_sfi(sfi)
    if ef is None:
        raise CardError(SW.FILE_NOT_FOUND, f"no EF with SFI {sfi}")
    card.current_ef = ef
    return ef


def _binary_target(card: CardOS, cmd: CommandAPDU) -> tuple[EF, int]:
    if cmd.p1 & 0x80:
        if cmd.p1 & 0x60:
            raise CardError(SW.INCORRECT_P1P2, "P1 b7-b6 must be 0 with an SFI")
        ef, offset = _ef_for(card, cmd.p1 & 0x1F), cmd.p2
    else:
        ef, offset = _ef_for(card, 0), (cmd.p1 << 8) | cmd.p2
    if ef.is_record:
        raise CardError(SW.COMMAND_INCOMPATIBLE, f"{ef.name} is a record file")
    if offset >= ef.size:
        raise CardError(SW.WRONG_P1P2, f"offset {offset} beyond {ef.name} ({ef.size} bytes)")
    return ef, offset


@command(0x00, 0xB0)
def read_binary(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.data:
        raise CardError(SW.WRONG_LENGTH, "READ BINARY takes no data")
    ef, offset = _binary_target(card, cmd)
    card.security.check(ef.access.read)
    content = card.nvm[ef.path]
    rest = len(content) - offset
    if cmd.le not in (None, 0) and cmd.ne < rest:
        rest = cmd.ne
    return content[offset : offset + min(rest, 256)]


@command(0x00, 0xD6)
def update_binary(card: CardOS, cmd: CommandAPDU) -> bytes:
    if not cmd.data or cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "UPDATE BINARY takes data and no Le")
    ef, offset = _binary_target(card, cmd)
    card.security.check(ef.access.update)
    if offset + len(cmd.data) > ef.size:
        raise CardError(SW.WRONG_LENGTH, f"{ef.name} holds {ef.size} bytes")
    old = card.nvm[ef.path]
    card.nvm.write({ef.path: old[:offset] + cmd.data + old[offset + len(cmd.data) :]})
    return b""


# -- records --------------------------------------------------------------------------------
def record_count(card: CardOS, ef: EF) -> int:
    return card.nvm.get(count_key(ef.path), b"\x00")[0]


def slot_of(card: CardOS, ef: EF, number: int) -> int:
    """Physical slot of record `number` (1-based); in a cyclic EF record 1 is the newest."""
    if ef.structure != "cyclic":
        return number
    head = card.nvm[head_key(ef.path)][0]
    return (head - number) % ef.max_records + 1


def _record_target(card: CardOS, cmd: CommandAPDU, operation: str) -> tuple[EF, int]:
    """(EF, record number) addressed by P1/P2, after the access check of `operation` (so that a
    refused reader cannot learn which records exist); 6A83 when there is no such record."""
    mode, sfi = cmd.p2 & 0x07, cmd.p2 >> 3
    if sfi == 0x1F or mode not in (0b000, 0b100):
        raise CardError(SW.INCORRECT_P1P2, "supported: record number (100) or first identifier (000)")
    ef = _ef_for(card, sfi)
    if not ef.is_record:
        raise CardError(SW.COMMAND_INCOMPATIBLE, f"{ef.name} is not a record file")
    card.security.check(getattr(ef.access, operation))
    count = record_count(card, ef)
    if mode == 0b100:
        if cmd.p1 == 0:
            raise CardError(SW.INCORRECT_P1P2, "record number 0")
        if cmd.p1 > count:
            raise CardError(SW.RECORD_NOT_FOUND, f"{ef.name} has {count} records")
        return ef, cmd.p1
    for number in range(1, count + 1):
        if card.nvm[record_key(ef.path, slot_of(card, ef, number))][:1] == bytes((cmd.p1,)):
            return ef, number
    raise CardError(SW.RECORD_NOT_FOUND, f"no record with identifier {cmd.p1:02X} in {ef.name}")


@command(0x00, 0xB2)
def read_record(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.data:
        raise CardError(SW.WRONG_LENGTH, "READ RECORD takes no data")
    ef, number = _record_target(card, cmd, "read")
    return card.nvm[record_key(ef.path, slot_of(card, ef, number))]


def _check_record_length(ef: EF, data: bytes) -> None:
    fixed = ef.structure in ("linear_fixed", "cyclic")
    if not data or (fixed and len(data) != ef.record_size) or len(data) > ef.record_size:
        bound = "" if fixed else "at most "
        raise CardError(SW.WRONG_LENGTH, f"{ef.name} records are {bound}{ef.record_size} bytes")


@command(0x00, 0xDC)
def update_record(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "UPDATE RECORD takes no Le")
    ef, number = _record_target(card, cmd, "update")
    _check_record_length(ef, cmd.data)
    if cmd.p2 & 0x07 == 0 and cmd.data[:1] != bytes((cmd.p1,)):
        raise CardError(SW.WRONG_DATA, "a record updated by identifier must keep it")
    card.nvm.write({record_key(ef.path, slot_of(card, ef, number)): cmd.data})
    return b""


@command(0x00, 0xE2)
def append_record(card: CardOS, cmd: CommandAPDU) -> bytes:
    if cmd.p1 != 0 or cmd.p2 & 0x07:
        raise CardError(SW.INCORRECT_P1P2, "APPEND RECORD takes P1=00, P2 b3..b1=000")
    if cmd.le is not None:
        raise CardError(SW.WRONG_LENGTH, "APPEND RECORD takes no Le")
    ef = _ef_for(card, cmd.p2 >> 3)
    if not ef.is_record:
        raise CardError(SW.COMMAND_INCOMPATIBLE, f"{ef.name} is not a record file")
    card.security.check(ef.access.update)
    _check_record_length(ef, cmd.data)
    count = record_count(card, ef)
    if ef.structure == "cyclic":
        head = card.nvm[head_key(ef.path)][0] % ef.max_records + 1
        card.nvm.write({
            record_key(ef.path, head): cmd.data,
            head_key(ef.path): bytes((head,)),
            count_key(ef.path): bytes((min(count + 1, ef.max_records),)),
        })
        return b""
    if count >= ef.max_records:
        raise CardError(SW.NOT_ENOUGH_MEMORY, f"{ef.name} is full")
    card.nvm.write({record_key(ef.path, count + 1): cmd.data, count_key(ef.path): bytes((count + 1,))})
    return b""
