"""Serving the platform as its own process: the wall clock at the edge, callbacks delivered by a
background thread over HTTP, uvicorn in front, and optionally a fault plan (latency, errors,
outages in front of the app; its crash point ends the process with CRASH_EXIT, no clean-up, as
SIGKILL would). Used by `ykt platform serve`."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime

import httpx
import uvicorn
import yaml

from simulator.backend.fault_plan import FaultyService, ServiceFaultPlan

from .api import make_app
from .service import Platform, open_store

#: seconds between two rounds of callback delivery
DELIVERY_PERIOD = 1.0
#: the exit status of a crash the fault plan makes (a shell's for SIGKILL)
CRASH_EXIT = 137


def wall_clock() -> datetime:
    """UTC now, naive like `simulator.clock.Clock` readings (a served process faces real clients)."""
    return datetime.now(UTC).replace(tzinfo=None)


def send_callback(url: str, headers: dict[str, str], body: bytes, *, timeout: float) -> int | None:
    """POST one callback; its status, or None when the receiver could not be reached in time."""
    try:
        return httpx.post(url, content=body, headers={**headers, "content-type": "application/json"},
                          timeout=timeout).status_code
    except httpx.HTTPError:
        return None


def crash(point: str) -> None:
    """End the process at a crash point: nothing flushed, closed or committed further."""
    sys.stderr.write(f"fault plan: crash at {point}\n")
    sys.stderr.flush()
    os._exit(CRASH_EXIT)


def serve(*, host: str, port: int, db: str, seed: int, operator_secret: bytes,
          faults: ServiceFaultPlan | None = None) -> None:
    """Serve the platform kept in `db` until interrupted (or until the fault plan's crash)."""
    started = time.monotonic()
    platform = Platform(open_store(db), clock=wall_clock, seed=seed, operator_secret=operator_secret,
                        faults=faults.crash_plan(crash) if faults else None)
    timeout = platform.profile["callbacks"]["timeout_seconds"]
    stop = threading.Event()

    def deliver() -> None:
        while not stop.wait(DELIVERY_PERIOD):
            platform.deliver_callbacks(lambda url, headers, body: send_callback(url, headers, body, timeout=timeout))

    threading.Thread(target=deliver, name="callbacks", daemon=True).start()
    try:
        app = make_app(platform)
        served = FaultyService(app, faults, elapsed=lambda: time.monotonic() - started) if faults else app
        uvicorn.run(served, host=host, port=port, log_level="warning")
    finally:
        stop.set()


def openapi_yaml() -> str:
    """The document the app publishes, as YAML (what profiles/national/platform_api.yaml holds)."""
    from simulator.clock import Clock

    app = make_app(Platform(open_store(":memory:"), clock=Clock(), seed=0, operator_secret=b"\x00" * 32))
    return yaml.safe_dump(app.openapi(), allow_unicode=True, sort_keys=False, width=120)
