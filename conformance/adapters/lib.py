"""`lib:<path>`: a reader library implementing the unified reader interface, loaded with ctypes.

The vendor's library (an SSCardDriver built for Linux, or our own conformance/native/sscard.c)
is the DUT's `reader` role. Its functions are called as the profile's signatures say
(profiles/national/reader_api.yaml `functions`: `int iType`, `char *` inputs GBK-encoded, and
`char *pOutInfo`, a buffer of `out_buffer.size` bytes decoded as GBK); a function the library
does not export is simply absent from `functions`.

Cards reach the library's reader through the real PC/SC stack: `insert(card)` presents the card
in a vpcd slot (`simulator.transport.VpcdCard`) and waits until pcscd reports it; the library
reads reader "Virtual PCD 00 00". `--dut-info` settings:

- `reader=<name>`: the PC/SC reader the library reads (default: vpcd slot `slot`'s name); it is
  also exported as `YKT_SSCARD_READER` before the library is loaded, which sscard.c honours;
- `slot=0|1`, `vpcd_port=<port>`: where the card is presented (default vpcd's 35963 + slot);
- `pcscd=auto|external|own`: `external` uses the pcscd already running and never starts one (the
  project's tests own the machine's one pcscd); `own` starts ours; `auto` (the default) uses a
  running one, or starts ours;
- `pin_pad=buffer`: the library's iVerifyPIN reads the typed PIN from pOutInfo (its PIN pad
  stand-in); without it, PIN tests need the vendor form `iVerifyPin(iType, pin, out)`.

Capabilities: `hsm` when both HSM steps are exported, `pin_entry` when the harness can give a
PIN (above). A library that cannot be loaded, or a PC/SC failure, is *broken*, never a verdict.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from conformance.dut import DUT
from simulator.card.interface import Card
from simulator.crypto.hashes import sm3
from simulator.profile import Profile
from simulator.transport import (
    VPCD_PORT,
    LinkError,
    Pcscd,
    VpcdCard,
    list_readers,
    reader_name,
    wait_for_card,
)

READER_ENV = "YKT_SSCARD_READER"
PCSCD_MODES = ("auto", "external", "own")


class LibReader:
    """The `reader` role over a shared library, with one vpcd slot to present cards in."""

    def __init__(self, path: str, *, info: dict[str, str], profile: Profile) -> None:
        """`profile`: the run's, whose reader_api document gives the functions' signatures."""
        self.path = Path(path)
        self.name = f"reader library {self.path.name}"
        self.reader_api = profile["reader_api"]
        slot = int(info.get("slot", "0"))
        self.reader = info.get("reader") or reader_name(slot)
        self.base_port = int(info.get("vpcd_port", str(VPCD_PORT)))
        self.port = self.base_port + slot
        self.pcscd_mode = info.get("pcscd", "auto")
        if self.pcscd_mode not in PCSCD_MODES:
            raise ValueError(f"--dut-info pcscd={self.pcscd_mode!r}; valid: {', '.join(PCSCD_MODES)}")
        self.pin_pad = info.get("pin_pad", "")
        os.environ[READER_ENV] = self.reader  # before loading: a library may read it at load time
        try:
            self.lib = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise LinkError(f"cannot load the reader library {self.path}: {exc}") from exc
        self.functions = frozenset(name for name in self.reader_api["functions"] if hasattr(self.lib, name))
        capabilities = set()
        if {"iReadCardBas_HSM_Step1", "iReadCardBas_HSM_Step2"} <= self.functions:
            capabilities.add("hsm")
        if "iVerifyPin" in self.functions or ("iVerifyPIN" in self.functions and self.pin_pad == "buffer"):
            capabilities.add("pin_entry")
        self.capabilities = frozenset(capabilities)
        self._pcscd: Pcscd | None = None
        self._pcscd_ready = False
        self._card: VpcdCard | None = None

    def identity(self) -> dict:
        """The library file and its SM3 digest (the binary that was certified)."""
        return {"name": self.name, "library": str(self.path.resolve()), "sm3": sm3(self.path.read_bytes()).hex()}

    # -- the PC/SC side ----------------------------------------------------------------------
    def _ensure_pcscd(self) -> None:
        if self._pcscd_ready:
            return
        running = True
        if self.pcscd_mode != "own":
            try:
                list_readers()
            except LinkError:
                running = False
        if self.pcscd_mode == "external" and not running:
            raise LinkError("--dut-info pcscd=external, but no pcscd is running")
        if self.pcscd_mode == "own" or not running:
            self._pcscd = Pcscd(port=self.base_port)
            self._pcscd.start()
        self._pcscd_ready = True

    def insert(self, card: Card | None) -> None:
        """Present `card` in the vpcd slot (None: take the card away) and wait for pcscd to see it."""
        self._ensure_pcscd()
        if self._card is not None:
            self._card.remove()
            self._card = None
        # pcscd must have seen the slot empty, or it may miss the next card (it polls vpcd every
        # 400 ms); waiting on its state also covers a card pulled by another process.
        wait_for_card(self.reader, present=False, timeout=5)
        if card is None:
            return
        self._card = VpcdCard(card, port=self.port)
        self._card.insert()
        wait_for_card(self.reader, present=True, timeout=5)

    # -- the library -------------------------------------------------------------------------
    def call(self, function: str, *args: Any) -> tuple[int, str]:
        """Call `function` as its profile signature says; (return code, pOutInfo decoded)."""
        self._ensure_pcscd()
        if function == "iVerifyPIN" and "iVerifyPin" in self.functions:
            function = "iVerifyPin"  # the vendor form takes the PIN as an argument
        if function not in self.functions:
            raise AttributeError(f"{self.path} exports no {function!r}; it exports {sorted(self.functions)}")
        spec = self.reader_api["functions"][function]
        size, encoding = self.reader_api["out_buffer"]["size"], self.reader_api["out_buffer"]["encoding"]
        params = list(spec["params"])
        given = list(args)
        if function == "iVerifyPIN":  # the PIN pad stand-in: the typed digits in pOutInfo
            params.insert(params.index("out"), "pad")
        if len(given) != len(params) - 1:
            raise TypeError(f"{function} takes {len(params) - 1} argument(s) besides pOutInfo, got {len(given)}")
        out = ctypes.create_string_buffer(size)
        argtypes: list[Any] = []
        values: list[Any] = []
        for kind in params:
            if kind == "out":
                argtypes.append(ctypes.c_char_p)
                values.append(out)
            elif kind == "pad":
                out.value = str(given.pop(0)).encode(encoding)
            elif kind == "itype":
                argtypes.append(ctypes.c_int)
                values.append(int(given.pop(0)))
            else:  # in, pin
                argtypes.append(ctypes.c_char_p)
                values.append(str(given.pop(0)).encode(encoding))
        fn = getattr(self.lib, function)
        fn.restype, fn.argtypes = ctypes.c_long, argtypes
        code = fn(*values)
        return int(code), out.value.decode(encoding, errors="replace")

    def close(self) -> None:
        if self._card is not None:
            self._card.remove()
            self._card = None
        if self._pcscd is not None:
            self._pcscd.stop()
            self._pcscd = None
        self._pcscd_ready = False


def make(rest: str, *, info: dict[str, str], profile: Profile) -> DUT:
    """The reader library at the path `rest`, certified against `profile`."""
    if not rest:
        raise ValueError("lib needs the path of the reader library: lib:/path/to/libsscard.so")
    reader = LibReader(rest, info=info, profile=profile)
    return DUT(name=reader.name, reader=reader, info={"dut_name": reader.name, "library": str(reader.path)})
