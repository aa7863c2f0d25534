"""A back-end app served on a free loopback port in a thread of this process (tests, benchmarks,
the integration suite's platform), and waiting for a service started as its own process.

Why: an HTTP client (a POS through `BankClient`, a benchmark) must meet the real uvicorn server
and its sockets, not an in-memory transport, without the start-up cost of a subprocess; the
fault-injection tests that must kill the service use `ykt bank serve` as a process instead.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn


def free_port() -> int:
    """A loopback port nothing listens on now: for a service started as its own process, or an
    address that answers nothing (a platform cut off)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the ASGI `app` on `host` (default loopback) at a port the system picks; yields its base
    URL, stops on exit."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server thread ended before it started serving")
            time.sleep(0.02)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def wait_until_serving(url: str, *, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Return once `url` answers HTTP; RuntimeError (with the process's stderr, if it ended) if it
    does not within `timeout` seconds. For a service started as its own process."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            if process is not None and process.poll() is not None:
                said = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"the service for {url} ended with status {process.returncode}: {said}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.2)
