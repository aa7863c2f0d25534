"""The platform a suite plays, served over HTTP for a terminal that runs as its own process.

A suite plays the 一卡通 platform as a `PlatformPort` (e.g. the throughput suite's, which it holds
reachable or unreachable). A served terminal reaches a platform only through the platform's HTTP
API (profiles/national/platform_api.yaml), so this app answers the operations a terminal uses
(card status, the blacklist, e-code verification) from that port, with the API's shapes: a card
the port does not know is 404 `not_found`, a port that does not answer (`ports.Unavailable`) is
503 `service_unavailable` with Retry-After, as the platform's own fault middleware answers.

It does not check the terminal's request signatures: what the suites judge here is what the
terminal decides, not how it signs (the integration suite judges a department's signing against
the platform's own app).
"""

from __future__ import annotations

import itertools
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse

from simulator.backend import ports
from simulator.backend.platform.api import CARD_OR_CHIP


def _error(status: int, code: str, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def make_app(port: ports.PlatformPort) -> FastAPI:
    """The HTTP face of `port` for a terminal: GET /cards/{card}, GET /blacklist, POST /ecodes/verifications."""
    app = FastAPI(title="the platform the harness plays", docs_url=None, redoc_url=None, openapi_url=None)
    ids = itertools.count(1)

    @app.exception_handler(ports.Unavailable)
    async def _unavailable(request: Request, exc: ports.Unavailable) -> JSONResponse:
        return _error(503, "service_unavailable", str(exc), **{"Retry-After": "1"})

    @app.get("/cards/{card}")
    def card_status(card: Annotated[str, Path(pattern=CARD_OR_CHIP)]) -> JSONResponse:
        status = port.card_status(ports.CardStatusRequest(f"relay-{next(ids)}", card))
        if status.status is None:
            return _error(404, "not_found", f"no card {card} visible to this department")
        return JSONResponse({"card_number": status.card_number, "status": status.status})

    @app.get("/blacklist")
    def blacklist(since: Annotated[int | None, Query(ge=0, le=2**53)] = None) -> JSONResponse:
        update = port.blacklist(ports.BlacklistRequest(f"relay-{next(ids)}", since))
        body: dict = {"version": update.version}
        if since is None:
            body["cards"] = list(update.cards)
        else:
            body |= {"since": since, "added": list(update.added), "removed": list(update.removed)}
        return JSONResponse(body)

    @app.post("/ecodes/verifications")
    def verify_ecode(body: dict) -> JSONResponse:
        result = port.verify_ecode(ports.EcodeVerifyRequest(f"relay-{next(ids)}", bytes.fromhex(body["payload"]),
                                                            body["business_type"]))
        answer: dict = {"valid": result.valid, "reason": result.reason}
        if result.card_number:
            answer["card"] = {"card_number": result.card_number}
        return JSONResponse(answer)

    return app
