"""Serving the platform as its own process: the wall clock at the edge, callbacks delivered by a
background thread over HTTP, uvicorn in front, and optionally a fault plan
(`simulator.backend.service_faults` applied by `fault_middleware`: 503 with Retry-After before the
platform acts, latency after it, SIGKILL at its crash points). Used by `ykt platform serve`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import uvicorn
import yaml
from fastapi import FastAPI

from simulator.backend.fault_middleware import apply_faults
from simulator.backend.service_faults import ServiceFaults
from simulator.profile import Profile

from .api import make_app
from .service import Platform, open_store

#: seconds between two rounds of callback delivery
DELIVERY_PERIOD = 1.0


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


def with_faults(app: FastAPI, faults: ServiceFaults) -> FastAPI:
    """`app` with the plan in force at its edge, refusing with the platform's code `service_unavailable`."""
    return apply_faults(app, faults, code="service_unavailable")


def serve(*, host: str, port: int, db: str, seed: int, operator_secret: bytes, profile: Profile,
          faults: ServiceFaults | None = None) -> None:
    """Serve the platform kept in `db` by the rules of `profile` until interrupted (or killed by
    the fault plan)."""
    platform = Platform(open_store(db), clock=wall_clock, seed=seed, operator_secret=operator_secret,
                        crash=faults.crash if faults else None, profile=profile)
    timeout = platform.platform_profile["callbacks"]["timeout_seconds"]
    stop = threading.Event()

    def deliver() -> None:
        while not stop.wait(DELIVERY_PERIOD):
            platform.deliver_callbacks(lambda url, headers, body: send_callback(url, headers, body, timeout=timeout))

    threading.Thread(target=deliver, name="callbacks", daemon=True).start()
    try:
        app = make_app(platform)
        uvicorn.run(with_faults(app, faults) if faults else app, host=host, port=port, log_level="warning")
    finally:
        stop.set()


def openapi_yaml() -> str:
    """The document the app publishes, as YAML (what profiles/national/platform_api.yaml holds)."""
    from simulator.clock import Clock

    app = make_app(Platform(open_store(":memory:"), clock=Clock(), seed=0, operator_secret=b"\x00" * 32))
    return yaml.safe_dump(app.openapi(), allow_unicode=True, sort_keys=False, width=120)
