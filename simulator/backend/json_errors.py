"""Every refusal of a served app as JSON `{"error": code, "detail": ...}`, never FastAPI's own shapes.

A body that fails its model is 422 `invalid_request` naming up to five fields; a body FastAPI
cannot parse (its 400) is answered as every other malformed body, 422; an unknown route or method
is `not_found`. Used by the platform's and the departments' apps, so a client meets one error form.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


def _where(location: tuple) -> str:
    return "/".join(str(part) for part in location)


def answer_errors_as_json(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return JSONResponse({"error": "invalid_request", "detail": detail}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code in (404, 405) else "invalid_request"
        status = 422 if exc.status_code == 400 else exc.status_code
        return JSONResponse({"error": code, "detail": f"{request.method} {request.url.path}: {exc.detail}"},
                            status_code=status, headers=exc.headers)
