"""An ASGI app served by uvicorn from a thread of this process, on a free port; and waiting for a
service started as its own process to answer.

What a harness needs when it plays a service in-process (the integration suite's platform) and
what the project's tests need to serve a department without starting a process: the port is the
one the OS gave the bound socket, so parallel runs never collide.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import httpx
import uvicorn

#: seconds to wait for uvicorn to start serving
START_SECONDS = 10.0


class BackgroundServer:
    """`app` served on `host` from a daemon thread; a context manager (`with ... as server:`)."""

    def __init__(self, app, *, host: str = "127.0.0.1") -> None:
        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, 0))
        self.host, self.port = host, self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
                                       name=f"uvicorn:{self.port}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start serving on {self.url} within {START_SECONDS} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(START_SECONDS)
        self.socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


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
