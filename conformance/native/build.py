"""Compile `sscard.c`, the native reader library of the `lib:` adapter's own tests, with gcc.

`build(directory) -> path of libsscard.so`. Flags come from `pkg-config --cflags --libs
libpcsclite`; without pkg-config, Debian's paths (`-I/usr/include/PCSC -lpcsclite`). Run as
`python -m conformance.native.build DIR` to print the path of the built library.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("sscard.c")
FALLBACK_FLAGS = ["-I/usr/include/PCSC", "-lpcsclite"]


class BuildError(RuntimeError):
    """gcc or pcsclite is missing, or the library did not compile."""


def pcsc_flags() -> list[str]:
    """Compiler and linker flags for libpcsclite."""
    if shutil.which("pkg-config") is None:
        return list(FALLBACK_FLAGS)
    found = subprocess.run(["pkg-config", "--cflags", "--libs", "libpcsclite"], capture_output=True, text=True)
    if found.returncode != 0:
        raise BuildError(f"pkg-config does not know libpcsclite (install libpcsclite-dev): {found.stderr.strip()}")
    return shlex.split(found.stdout)


def build(directory: str | Path, *, name: str = "libsscard.so", compiler: str = "gcc") -> Path:
    """Compile sscard.c into `directory`/`name` and return its path."""
    if shutil.which(compiler) is None:
        raise BuildError(f"{compiler!r} not found: install gcc to build the native reader library")
    target = Path(directory) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", str(target), str(SOURCE), *pcsc_flags()]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{shlex.join(command)} failed:\n{done.stderr}")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m conformance.native.build DIRECTORY")
    print(build(sys.argv[1]))
