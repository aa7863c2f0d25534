"""The terminal's T-Union PSAM as a virtual contact card (transit-payment.md §1.5).

Why a card and not a function: a gate or validator talks to its PSAM with APDUs over a contact
reader, exactly as to the rider's card; making the PSAM a `CardOS` booted from a `CardImage`
lets it sit behind any transport (in-process, a vpcd slot), be traced, timed and torn like any
card, and keep its terminal transaction serial in tear-safe NVM.

The image (profiles/national/psam.yaml): the MF holds 0x16 (terminal number, read before
selecting the application) and the PSAM application `A000000632` ‖ "MOT.CPSAM01" holds 0x17
(public information, byte 0 = the key index the terminal sends in 8050). The PSAM holds the
purse's master keys (epurse.yaml, via `simulator.backend.issuer`) and derives each card's keys
from the two factors the terminal sends, as the card was personalised.

Commands (CLA 80, reachable only while the PSAM application is selected):

- `80 70 00 00 24` MAC1 for a purchase: card random 4 ‖ card offline ATC 2 ‖ amount 4 ‖ txn
  type 1 ‖ date 4 ‖ time 3 ‖ key version 1 ‖ algorithm ID 1 ‖ serial 8 ‖ issuer ID 8 ->
  terminal transaction serial 4 ‖ MAC1 4. The serial is incremented in NVM (one atomic write)
  before the answer leaves [V-code, §1.5].
- `80 72 00 00 04` MAC2: 9000 when it verifies, 9302 when not; 6985 without a preceding 8070.
  One MAC2 per MAC1 (the purchase session is spent either way; modelled).
- `80 1A P1 P2 10` DES INITIALIZE: P1 = key usage (44 = TAC key), data = serial 8 ‖ issuer
  ID 8; P2 (key version, field code sends 01) is not checked [V-code, §1.5].
- `80 FA 05 00 16` DES COMPUTE, MAC: data = the TAC input (amount 4 ‖ type 1 ‖ terminal 6 ‖
  terminal serial 4 ‖ date 4 ‖ time 3) -> TAC 4, ICV zero. The field code's 80FA 05 for the
  blacklist MAC prepends an 8-byte initial value to the data; that form is not modelled.
- `80 CA 00 00 04` the last terminal transaction serial (source: modelled).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.apdu import SW, CardError, CommandAPDU
from simulator.backend.issuer import PurseMaster, purse_master
from simulator.card.apps import epurse
from simulator.card.commands import command
from simulator.card.filesystem import DF, EF, Access, FileTree
from simulator.card.image import Application, CardImage
from simulator.crypto.purse import (
    PURSE_ALGORITHMS,
    purchase_mac1,
    purchase_mac2,
    purchase_session_key,
    tac,
)
from simulator.profile import ProfileError, national

if TYPE_CHECKING:
    from simulator.card.cardos import CardOS

KIND = "psam"
MAX_SERIAL = 0xFFFFFFFF
MAC1_INPUT = 0x24
TAC_INPUT = 22  # amount 4 ‖ type 1 ‖ terminal 6 ‖ terminal serial 4 ‖ date 4 ‖ time 3
MAC_P1 = 0x05
TERMINAL_SFI = 0x16


def serial_key(path: str) -> str:
    """NVM key of the terminal transaction serial last used (4 bytes, big-endian)."""
    return f"psam:{path}:serial"


@dataclass(frozen=True, slots=True)
class PsamKeys:
    """What the PSAM application holds: the purse masters it uses, by usage (their values are the
    purse profile's `test_keys`), and how 8070 and 801A name them."""

    purse_profile: dict
    masters: dict[str, PurseMaster]
    algorithm_ids: dict[int, str]  # algorithm ID byte -> purse algorithm
    des_init_usage: dict[int, str]  # 801A P1 -> master usage

    def card_key(self, usage: str, issuer_id8: bytes, serial8: bytes, algorithm: str) -> bytes:
        """The card's key of `usage`, derived exactly as the purse personalises it."""
        return epurse.card_key(self.purse_profile, self.masters[usage].name, issuer_id8, serial8, algorithm)


# -- public information (0x17) --------------------------------------------------------------
def encode_public_info(fields: dict[str, bytes], *, psam_profile: dict | None = None) -> bytes:
    """0x17 from its fields (bytes each), in the profile's layout."""
    psam_profile = psam_profile or national()["psam"]
    out = b""
    for spec in psam_profile["public_info"]["fields"]:
        value = fields[spec["name"]]
        if len(value) != spec["length"]:
            raise ValueError(f"psam 0x17 {spec['name']}: {spec['length']} bytes, got {value.hex().upper()}")
        out += value
    return out


def decode_public_info(raw: bytes, *, psam_profile: dict | None = None) -> dict[str, bytes]:
    """0x17 split into its fields (bytes each); ValueError when the length is not the layout's."""
    psam_profile = psam_profile or national()["psam"]
    specs = psam_profile["public_info"]["fields"]
    if len(raw) != sum(s["length"] for s in specs):
        raise ValueError(f"psam 0x17 has {sum(s['length'] for s in specs)} bytes, got {len(raw)}")
    out, at = {}, 0
    for spec in specs:
        out[spec["name"]] = bytes(raw[at : at + spec["length"]])
        at += spec["length"]
    return out


# -- the image ------------------------------------------------------------------------------
def atr(terminal_id: bytes, *, psam_profile: dict | None = None) -> bytes:
    """The PSAM's ATR: the profile's prefix and historical bytes (modelled), T=0."""
    spec = (psam_profile or national()["psam"])["atr"]
    value = bytes.fromhex(spec["prefix"] + spec["historical_template"].format(terminal_tail=terminal_id[-4:].hex()))
    if len(value) - 4 != value[1] & 0x0F:
        raise ProfileError(f"psam.yaml atr: T0 announces {value[1] & 0x0F} historical bytes, "
                           f"the template gives {len(value) - 4}")
    return value


def default_terminal_id(*, psam_profile: dict | None = None) -> bytes:
    """The profile's default terminal number (6 bytes, modelled) for a PSAM nobody numbered."""
    return bytes.fromhex((psam_profile or national()["psam"])["terminal"]["default"])


def psam_keys(*, purse_profile: dict | None = None, psam_profile: dict | None = None) -> PsamKeys:
    """The PSAM's key set: the purse's purchase master and the masters 801A can load."""
    psam_profile = psam_profile or national()["psam"]
    purse_profile = purse_profile or national()["epurse"]
    des_init = {int(p1, 16): usage for p1, usage in psam_profile["keys"]["des_init_usage"].items()}
    usages = {"purchase", *des_init.values()}
    return PsamKeys(
        purse_profile=purse_profile,
        masters={usage: purse_master(usage, purse_profile=purse_profile) for usage in sorted(usages)},
        algorithm_ids={int(spec["id"], 16): name for name, spec in purse_profile["algorithms"].items()},
        des_init_usage=des_init,
    )


def psam_image(
    *,
    terminal_id: bytes,
    algorithm: str = "3des",
    serial_start: int = 1,
    psam_profile: dict | None = None,
    purse_profile: dict | None = None,
) -> CardImage:
    """A personalised PSAM: terminal number `terminal_id` (6 bytes) in 0x16, purse keys for
    `algorithm`, and `serial_start` as the terminal transaction serial of its first 8070."""
    if len(terminal_id) != 6:
        raise ValueError(f"terminal_id: a terminal number has 6 bytes, got {bytes(terminal_id).hex().upper()}")
    if algorithm not in PURSE_ALGORITHMS:
        raise ValueError(f"algorithm: unknown purse algorithm {algorithm!r}; valid: {', '.join(PURSE_ALGORITHMS)}")
    if not 1 <= serial_start <= MAX_SERIAL:
        raise ValueError(f"serial_start: the first terminal serial is 1..{MAX_SERIAL}, got {serial_start}")
    psam_profile = psam_profile or national()["psam"]
    keys = psam_keys(purse_profile=purse_profile, psam_profile=psam_profile)
    app_spec = psam_profile["application"]
    app_path = f"3F00/{app_spec['fid']}"
    public = {name: bytes.fromhex(value) for name, value in psam_profile["public_info"]["default"].items()}
    public["key_index"] = bytes((keys.masters["purchase"].index or 0,))
    content = {"terminal_id": bytes(terminal_id), "public_info": encode_public_info(public, psam_profile=psam_profile)}

    contents: dict[str, bytes] = {serial_key(app_path): (serial_start - 1).to_bytes(4, "big")}
    in_mf: list[EF] = []
    in_app: list[EF] = []
    for spec in psam_profile["files"]:
        parent = "3F00" if spec["parent"] == "mf" else app_path
        ef = EF(spec["name"], int(spec["fid"], 16), f"{parent}/{spec['fid']}", "transparent",
                Access(read="free", update="never"), sfi=spec["sfi"], size=spec["size"])
        value = content[spec["content"]]
        if len(value) != ef.size:
            raise ProfileError(f"psam.yaml files {spec['name']}: size {ef.size}, content has {len(value)} bytes")
        contents[ef.path] = value
        (in_mf if spec["parent"] == "mf" else in_app).append(ef)

    adf = DF(app_spec["name"], int(app_spec["fid"], 16), app_path, bytes.fromhex(app_spec["aid"]), tuple(in_app))
    application = Application(KIND, app_path, algorithm, {}, params={"keys": keys})
    return CardImage(
        atr=atr(terminal_id, psam_profile=psam_profile),
        tree=FileTree(DF("MF", 0x3F00, "3F00", None, (*in_mf, adf))),
        applications={app_path: application},
        contents=contents,
        page_size=psam_profile["nvm"]["page_size"],
        origin={"device": "psam", "terminal_id": bytes(terminal_id).hex().upper(), "algorithm": algorithm},
    )


# -- commands -------------------------------------------------------------------------------
def _check(cmd: CommandAPDU, *, p1: int = 0x00, lc: int | None = None) -> None:
    if (cmd.p1, cmd.p2) != (p1, 0x00):
        raise CardError(SW.INCORRECT_P1P2, f"P1 P2 must be {p1:02X} 00")
    if lc is not None and len(cmd.data) != lc:
        raise CardError(SW.WRONG_LENGTH, f"Lc must be {lc}, got {len(cmd.data)}")


def _keys(card: CardOS) -> tuple[Application, PsamKeys]:
    app = card.require_application()
    return app, app.params["keys"]


def _terminal_id(card: CardOS) -> bytes:
    """The terminal number as personalised in the MF's 0x16 (what 8070's MAC1 covers)."""
    return card.nvm[card.tree.mf.ef_by_sfi(TERMINAL_SFI).path]


@command(0x80, 0x70, app=KIND)
def mac1(card: CardOS, cmd: CommandAPDU) -> bytes:
    """8070: MAC1 for a purchase, with a fresh terminal transaction serial (see module doc)."""
    _check(cmd, lc=MAC1_INPUT)
    app, keys = _keys(card)
    d = cmd.data
    random4, atc2, amount, txn_type = d[0:4], d[4:6], int.from_bytes(d[6:10], "big"), d[10]
    date4, time3, key_version, alg_id, serial8, issuer8 = d[11:15], d[15:18], d[18], d[19], d[20:28], d[28:36]
    card.session.pop("purchase", None)  # a new MAC1 abandons the purchase in progress
    algorithm = keys.algorithm_ids.get(alg_id)
    if algorithm != app.algorithm:
        raise CardError(SW.REFERENCE_NOT_FOUND, f"algorithm ID {alg_id:02X}: this PSAM holds {app.algorithm} keys")
    master = keys.masters["purchase"]
    if key_version != master.version:
        raise CardError(SW.REFERENCE_NOT_FOUND, f"no purchase key of version {key_version:02X}")
    last = int.from_bytes(card.nvm[serial_key(app.path)], "big")
    if last >= MAX_SERIAL:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "terminal transaction serial exhausted")
    serial4 = (last + 1).to_bytes(4, "big")
    dpk = keys.card_key("purchase", issuer8, serial8, algorithm)
    session_key = purchase_session_key(dpk, random4, atc2, serial4, algorithm=algorithm)
    mac = purchase_mac1(session_key, amount, txn_type, _terminal_id(card), date4, time3, algorithm=algorithm)
    card.nvm.write({serial_key(app.path): serial4})
    card.session["purchase"] = {"key": session_key, "amount": amount, "algorithm": algorithm}
    return serial4 + mac


@command(0x80, 0x72, app=KIND)
def verify_mac2(card: CardOS, cmd: CommandAPDU) -> bytes:
    """8072: check the card's MAC2 against the purchase session of the last 8070."""
    _check(cmd, lc=4)
    session = card.session.pop("purchase", None)
    if session is None:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no MAC1 computed: 8070 first")
    expected = purchase_mac2(session["key"], session["amount"], algorithm=session["algorithm"])
    if not hmac.compare_digest(expected, cmd.data):
        raise CardError(SW.MAC_INVALID, "MAC2 does not verify")
    return b""


@command(0x80, 0x1A, app=KIND)
def des_init(card: CardOS, cmd: CommandAPDU) -> bytes:
    """801A: load the card key of usage P1, diversified by serial 8 ‖ issuer ID 8."""
    if len(cmd.data) != 16:
        raise CardError(SW.WRONG_LENGTH, "801A data is serial 8 ‖ issuer ID 8")
    app, keys = _keys(card)
    usage = keys.des_init_usage.get(cmd.p1)
    if usage is None:
        raise CardError(SW.REFERENCE_NOT_FOUND, f"no key of usage {cmd.p1:02X}")
    key = keys.card_key(usage, cmd.data[8:16], cmd.data[0:8], app.algorithm)
    card.session["des"] = {"usage": usage, "key": key}
    return b""


@command(0x80, 0xFA, app=KIND)
def des_compute(card: CardOS, cmd: CommandAPDU) -> bytes:
    """80FA 05: the TAC over the TAC input with the key loaded by 801A 44."""
    _check(cmd, p1=MAC_P1, lc=TAC_INPUT)
    app, _ = _keys(card)
    loaded = card.session.get("des")
    if loaded is None or loaded["usage"] != "tac":
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no TAC key loaded: 801A 44 first")
    d = cmd.data
    return tac(loaded["key"], int.from_bytes(d[0:4], "big"), d[4], d[5:11], d[11:15], d[15:19], d[19:22],
               algorithm=app.algorithm)


@command(0x80, 0xCA, app=KIND)
def get_serial(card: CardOS, cmd: CommandAPDU) -> bytes:
    """80CA: the terminal transaction serial of the last 8070 (source: modelled)."""
    _check(cmd, lc=0)
    app, _ = _keys(card)
    return card.nvm[serial_key(app.path)]
