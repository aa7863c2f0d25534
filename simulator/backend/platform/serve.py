"""Serving the platform as its own process: the wall clock at the edge, callbacks delivered by a
background thread over HTTP, uvicorn in front. Used by `ykt platform serve`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import uvicorn
import yaml

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


def serve(*, host: str, port: int, db: str, seed: int, operator_secret: bytes) -> None:
    """Serve the platform kept in `db` until interrupted."""
    platform = Platform(open_store(db), clock=wall_clock, seed=seed, operator_secret=operator_secret)
    timeout = platform.profile["callbacks"]["timeout_seconds"]
    stop = threading.Event()

    def deliver() -> None:
        while not stop.wait(DELIVERY_PERIOD):
            platform.deliver_callbacks(lambda url, headers, body: send_callback(url, headers, body, timeout=timeout))

    threading.Thread(target=deliver, name="callbacks", daemon=True).start()
    try:
        uvicorn.run(make_app(platform), host=host, port=port, log_level="warning")
    finally:
        stop.set()


def openapi_yaml() -> str:
    """The document the app publishes, as YAML (what profiles/national/platform_api.yaml holds)."""
    from simulator.clock import Clock

    app = make_app(Platform(open_store(":memory:"), clock=Clock(), seed=0, operator_secret=b"\x00" * 32))
    return yaml.safe_dump(app.openapi(), allow_unicode=True, sort_keys=False, width=120)
