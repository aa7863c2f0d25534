"""Run our own pcscd with the vpcd reader driver on a port we choose, accepting cards from this machine only.

Nothing starts pcscd for us here (no systemd, no socket activation), and the project wants to
pick the vpcd port, so `Pcscd` starts `pcscd --foreground --config DIR`, where DIR is a
temporary reader.conf.d of ours holding one vpcd entry. vpcd reads its port from DEVICENAME
(`/dev/null:PORT`: "/dev/null" means listen, PORT is parsed by strtoul, so 0x8C7B = 35963) and
serves two slots, readers "Virtual PCD 00 00" on PORT and "Virtual PCD 00 01" on PORT + 1;
CHANNELID carries the same port for drivers loaded by channel. (Debian's own entry is
/etc/reader.conf.d/vpcd; `man pcscd`, option --config.)

Cards from this machine only: in that listen mode vpcd binds INADDR_ANY and has no setting for the
address, so with Debian's entry alone any host that reaches the machine could insert a card into
the pcscd a lab certifies through. Ours runs with a bind() wrapper preloaded
(`simulator.transport.loopback`), so vpcd listens on 127.0.0.1:PORT and PORT + 1, and `start()`
refuses a pcscd that listens anywhere beyond loopback. Cards connect as before (`VpcdCard`,
`ykt card serve`, `--dut vpcd:127.0.0.1:PORT`), from this machine.

Why not vpcd's reversed mode (`DEVICENAME 127.0.0.1:PORT`: vpcd connects out to a card listening
on loopback, slot n on PORT + n, and pcscd listens on no port): bookworm's vpcd 0.8 cannot leave a
reversed slot empty. Measured 2026-12-01: with a listener on both ports, vpcd connects within
~10 ms of the start and an APDU is no slower than in listen mode (median 68 us, p99 109 us); but
when the card side closes its connection, pcscd reports the slot empty at the next poll (0.1 s)
and aborts (SIGABRT) at the poll after ("bit out of range 0 - FD_SETSIZE on fd_set":
`vicc_connect` takes the listen path with no listening socket; fixed in vpcd 0.9), and a
zero-length answer to "get ATR" leaves the slot reported present with its poll stuck. Removals,
tears and one card per presentation all need an empty slot.

Pitfalls handled here (shared/notes/pcsc-stack.md): pcscd allows one instance per machine (it
owns /run/pcscd/pcscd.comm) and a pcscd that exited but was never wait()ed for (a zombie) still
counts, so `stop()` always waits; if the port is taken, vpcd fails silently and pcscd lists no
readers at all, so `start()` checks the ports first and explains.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from simulator.transport import loopback
from simulator.transport.errors import LinkError, LinkTimeoutError, ServiceUnavailableError
from simulator.transport.pcsc import list_readers
from simulator.transport.vpcd import VPCD_PORT

#: The vpcd driver Debian's vsmartcard-vpcd installs.
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
#: FRIENDLYNAME of our entry; pcscd appends reader index and slot: "Virtual PCD 00 01".
FRIENDLY_NAME = "Virtual PCD"
#: vpcd serves this many slots per entry (a second entry does not add working readers).
SLOTS = 2
PID_FILE = Path("/run/pcscd/pcscd.pid")


def reader_name(slot: int) -> str:
    """PC/SC name of vpcd slot `slot` (0 or 1) in a pcscd started by `Pcscd`."""
    if slot not in range(SLOTS):
        raise ValueError(f"vpcd has slots 0..{SLOTS - 1}, got {slot!r}")
    return f"{FRIENDLY_NAME} 00 {slot:02d}"


class Pcscd:
    """A pcscd process of ours serving vpcd slots on 127.0.0.1:`port` and `port + 1`.

    A context manager (start, stop). `die_with_parent` asks the kernel (via util-linux `setpriv
    --pdeathsig`) to SIGTERM pcscd when the thread that started it ends, so a killed test run
    leaves no pcscd behind to block the next one; start it from a thread that outlives it (the
    main thread).
    """

    def __init__(
        self,
        *,
        port: int = VPCD_PORT,
        executable: str = "pcscd",
        start_timeout: float = 5.0,
        debug: bool = False,
        die_with_parent: bool = True,
    ) -> None:
        if not isinstance(port, int) or not 0 < port < 0xFFFF:
            raise ValueError(f"port must leave room for port + 1 below 65536, got {port!r}")
        self.port = port
        self.executable = executable
        self.start_timeout = start_timeout
        self.debug = debug
        self.die_with_parent = die_with_parent
        self.readers = tuple(reader_name(slot) for slot in range(SLOTS))
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._log_text = ""

    def __repr__(self) -> str:
        pid = self._process.pid if self._process else None
        return f"<Pcscd port={self.port} pid={pid}>"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def reader(self, slot: int) -> str:
        return reader_name(slot)

    def slot_port(self, slot: int) -> int:
        """TCP port a `VpcdCard` connects to for `slot`."""
        reader_name(slot)  # validates
        return self.port + slot

    def log(self) -> str:
        """What pcscd printed so far (or, once stopped, in its last run)."""
        if self._dir is not None:
            with contextlib.suppress(OSError):
                return (self._dir / "pcscd.log").read_text(errors="replace")
        return self._log_text

    # -- start / stop -----------------------------------------------------------------------

    def start(self) -> None:
        """Start pcscd and wait until it lists both vpcd readers; a no-op if running."""
        if self.running:
            return
        if self._process is not None:
            self.stop()  # it died on its own: reap it before starting again
        if shutil.which(self.executable) is None:
            raise ServiceUnavailableError(f"{self.executable!r} not found: install pcscd (scripts/install-system-deps)")
        if not VPCD_DRIVER.exists():
            raise ServiceUnavailableError(
                f"vpcd driver {VPCD_DRIVER} missing: install vsmartcard-vpcd (scripts/install-system-deps)"
            )
        other = _other_pcscd()
        if other:
            raise ServiceUnavailableError(
                "cannot start our pcscd: another pcscd seems to be running (it owns "
                f"/run/pcscd/pcscd.comm; there can be only one per machine): {other}"
            )
        self._check_ports()
        self._dir = Path(tempfile.mkdtemp(prefix="ykt-pcscd-"))
        try:
            self._launch(self._dir)
            self._wait_for_readers()
            self._check_loopback()
        except BaseException:
            self.stop()
            raise

    def _launch(self, directory: Path) -> None:
        """Write our reader.conf.d into `directory` and start pcscd on it, the bind wrapper preloaded."""
        env = loopback.preload(directory)
        conf = directory / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.port:04X}\n"
        )
        args = [self.executable, "--foreground", "--config", str(conf)]
        if self.debug:
            args.append("--debug")
        setpriv = shutil.which("setpriv")  # util-linux, essential in Debian
        if self.die_with_parent and setpriv:
            # Not preexec_fn + prctl: that is unsafe in a process with threads (card threads).
            args = [setpriv, "--pdeathsig", "TERM", *args]
        with open(directory / "pcscd.log", "wb") as log_file:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def stop(self, *, timeout: float = 5.0) -> None:
        """SIGTERM pcscd and always wait() for it (a zombie blocks the next start)."""
        process = self._process
        try:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            self._process = None
            self._log_text = self.log()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- diagnosis --------------------------------------------------------------------------

    def _check_ports(self) -> None:
        """vpcd binds 127.0.0.1:port (wrapped) with SO_REUSEADDR; fail early and clearly if it could not."""
        for port in (self.port, self.port + 1):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise ServiceUnavailableError(
                    f"TCP port {port} is in use, so vpcd could not listen there and pcscd "
                    f"would list no readers; free it or pick another port: Pcscd(port=...) "
                    f"(check with `ss -tanp | grep {port}`)"
                ) from exc
            finally:
                probe.close()

    def _wait_for_readers(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        readers: list[str] = []
        last: LinkError | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceUnavailableError(self._explain_exit(self._process.returncode))
            try:
                readers = list_readers()
            except LinkError as exc:  # not accepting clients yet
                last = exc
            else:
                if _pid_file_pid() == self._process.pid and all(name in readers for name in self.readers):
                    return
            time.sleep(0.005)
        raise LinkTimeoutError(
            f"pcscd (pid {self._process.pid}) did not list {list(self.readers)} within "
            f"{self.start_timeout} s; it lists {readers} (last error: {last}); "
            f"its log:\n{self.log()}"
        )

    def _check_loopback(self) -> None:
        """Refuse to serve exposed: checked on the live process rather than trusting the wrapper."""
        assert self._process is not None
        exposed = loopback.beyond_loopback(self._process.pid)
        if exposed:
            raise ServiceUnavailableError(
                f"pcscd (pid {self._process.pid}) listens beyond loopback on {', '.join(exposed)}, so "
                f"other hosts could insert cards; the preloaded {loopback.SOURCE.name} did not take "
                "effect, and this pcscd is stopped"
            )

    def _explain_exit(self, returncode: int) -> str:
        output = self.log()
        text = f"pcscd exited at start with status {returncode}"
        if "Another pcscd" in output:
            text += (
                ": another pcscd seems to be running (it owns /run/pcscd/pcscd.comm; there can be only one per machine)"
            )
            other = _other_pcscd()
            if other:
                text += f"; {other}"
        return f"{text}. pcscd said:\n{output}"


def _pid_file_pid() -> int | None:
    try:
        return int(PID_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _other_pcscd() -> str:
    """Describe the live (or zombie) pcscd named in the pid file; "" when there is none."""
    pid = _pid_file_pid()
    if pid is None:
        return ""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""  # a stale pid file: pcscd cleans it up itself
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    parent = f"pid {ppid}" + (" = this process" if int(ppid) == os.getpid() else "")
    if state == "Z":
        return (
            f"pid {pid} ({name}) is a zombie: its parent ({parent}) never wait()ed for it; "
            "stop that parent or make it wait"
        )
    return f"pid {pid} ({name}, parent {parent}); if it is a leftover, stop it with `kill {pid}`"
