"""A fault plan in force at a served app's edge: the one middleware of every service taking a plan.

Why one: the bank and the platform must fail alike under the same plan (`service_faults`), so that
a client, a suite or a campaign meets one behaviour: a refusal is a JSON 503 `{"error": code,
"detail": "the <service> is unavailable (<why>)"}` with Retry-After in whole seconds (at least 1),
answered before the service sees the request, so it never acted; latency is added after the
service answered, so a client that gives up first does not know the effect. The published document
(/openapi.json) is the contract, not an operation: never refused nor delayed. Each service names
the error `code` its own document's error body uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from simulator.backend.service_faults import ServiceFaults


def apply_faults(app: FastAPI, faults: ServiceFaults, *, code: str,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> FastAPI:
    """`app` with `faults` in force at its edge; `sleep` is how the edge waits out a latency."""

    @app.middleware("http")
    async def _faults(request: Request, call_next):
        if request.url.path == "/openapi.json":
            return await call_next(request)
        refused = faults.refusal()
        if refused is not None:
            why, retry_after = refused
            return JSONResponse({"error": code, "detail": f"the {faults.service} is unavailable ({why})"},
                                status_code=503, headers={"Retry-After": f"{max(1, round(retry_after))}"})
        answer = await call_next(request)
        await sleep(faults.latency())
        return answer

    return app
