"""Keep the TCP listeners of a daemon we start on loopback, and check that they stay there.

Why: vsmartcard's vpcd listens for virtual cards on INADDR_ANY and has no setting for the address
(virtualsmartcard src/vpcd/vpcd.c `opensock`, in bookworm's 0.8 and still in 0.10), so a pcscd
configured as Debian does would let any host that reaches the machine insert a card into the
pcscd a lab certifies through. `preload(directory)` compiles `loopback_bind.c`, a bind() wrapper
that turns a bind to 0.0.0.0 into one to 127.0.0.1, and returns the environment that preloads it
(LD_PRELOAD) into the one daemon started with it; `beyond_loopback(pid)` names what a process
still listens on elsewhere, read from /proc, so the caller refuses to run exposed rather than
trust the wrapper. (Why not vpcd's reversed mode, which listens nowhere: simulator/transport/pcscd.py.)

The wrapper is compiled into the caller's private directory at each start (~0.05 s with gcc), never
loaded from a shared cache: it runs inside a daemon that is usually root.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from simulator.transport.errors import ServiceUnavailableError

SOURCE = Path(__file__).with_name("loopback_bind.c")
_LISTEN = "0A"  # TCP_LISTEN in the st column of /proc/net/tcp


def preload(directory: Path, *, compiler: str = "gcc") -> dict[str, str]:
    """Build the bind() wrapper in `directory`; the environment for a daemon that must preload it."""
    if shutil.which(compiler) is None:
        raise ServiceUnavailableError(
            f"{compiler!r} not found: the managed pcscd needs it to build {SOURCE.name}, which keeps "
            "vpcd's card ports on loopback (install gcc: scripts/install-system-deps)"
        )
    library = directory / "loopback_bind.so"
    command = [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", str(library), str(SOURCE), "-ldl"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServiceUnavailableError(f"{shlex.join(command)} failed:\n{done.stderr}")
    preloaded = os.environ.get("LD_PRELOAD", "")
    return {**os.environ, "LD_PRELOAD": f"{library} {preloaded}".strip()}


def listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on, IPv4 and IPv6."""
    inodes = set()
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]  # its own namespace
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN and fields[9] in inodes:
                found.append(_endpoint(fields[1], family))
    return found


def beyond_loopback(pid: int) -> list[str]:
    """"address:port" of each TCP listener of process `pid` that is not on 127.0.0.0/8 or ::1."""
    return [
        f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        for address, port in listening(pid)
        if not ipaddress.ip_address(address).is_loopback
    ]


def _endpoint(text: str, family: socket.AddressFamily) -> tuple[str, int]:
    """/proc/net/tcp's "0100007F:8C7B": the address as 32-bit words printed in hex, each word as
    the host holds it in memory (so 127.0.0.1 reads 0100007F on a little-endian machine)."""
    words, port = text.split(":")
    packed = b"".join(int(words[i : i + 8], 16).to_bytes(4, sys.byteorder) for i in range(0, len(words), 8))
    return socket.inet_ntop(family, packed), int(port, 16)
