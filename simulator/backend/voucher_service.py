"""The voucher service served over HTTP: what a POS of another process redeems through.

The operations of `ports.VoucherPort` (issue, read, a card's open vouchers, redeem) and their bodies
are profiles/national/voucher_api.yaml (OpenAPI 3.1, modelled: no public interface of a voucher
issuer exists), which is what this app publishes at /openapi.json (`openapi_yaml` regenerates it;
tests/test_voucher_service.py keeps the two equal). The service behind it keeps the value
(simulator/backend/vouchers.py): an issue is exactly-once by its voucher id, a redemption by its
request id, so a POS that lost the answer sends the same request again and is spent once; the same
id with other content is 409 `conflict`, an issue of a category the run's profile does not issue 409
`refused`. Bad input is 4xx with `{"error": code, "detail": ...}`
(422 `invalid_request`, 404 `not_found`), never 5xx. The harness serves it on loopback
(simulator/backend/loopback.py) to a POS it points at it (terminal_api.yaml `PUT /vouchers`).
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations

import threading
from typing import Annotated, Literal

import yaml
from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulator.backend import ports
from simulator.backend.bank_service import NUMBER
from simulator.backend.json_errors import answer_errors_as_json
from simulator.backend.openapi import publish_as_modelled
from simulator.backend.vouchers import VoucherService
from simulator.profile import PROFILE_ROOT

API_PATH = PROFILE_ROOT / "national" / "voucher_api.yaml"
API_VERSION = "0.1.0"
MAX_VALUE = 10**9  # fen: ten million yuan, far above any voucher, far below SQLite's integers

ID = r"^[A-Za-z0-9._:-]{1,64}$"
Id = Annotated[str, Field(pattern=ID, description="the caller's id: a retry sends the same one")]
CardIdentifier = Annotated[str, Field(pattern=r"^([0-9A-F]{2}){1,32}$",
                                      description="卡识别码 (EF05) as the platform registers it, upper-case hex")]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="terminals.yaml `vouchers` category")]
Fen = Annotated[int, Field(ge=1, le=MAX_VALUE, description="fen"), NUMBER]
Mcc = Annotated[str, Field(pattern=r"^[0-9]{4}$", description="the merchant's category (ISO 18245 MCC)")]


class Strict(BaseModel):
    """A JSON body: unknown keys refused; numbers are JSON numbers (`NUMBER`: 9 or 9.0), text is text."""

    model_config = ConfigDict(extra="forbid")


class Error(Strict):
    error: Literal["invalid_request", "not_found", "conflict", "refused"]
    detail: str


class Issue(Strict):
    voucher_id: Id
    card_identifier: CardIdentifier
    category: Category
    value: Fen


class OpenVouchers(Strict):
    vouchers: list[ports.VoucherState]


class Redemption(Strict):
    request_id: Id
    voucher_id: Id
    card_identifier: CardIdentifier
    amount: Fen
    terminal_id: Id
    merchant_category: Mcc


VoucherId = Annotated[str, Path(pattern=ID)]
CardPath = Annotated[str, Path(pattern=r"^([0-9A-F]{2}){1,32}$")]


def _errors(*statuses: int) -> dict:
    return {status: {"model": Error} for status in (422, *statuses)}


def make_app(service: ports.VoucherPort) -> FastAPI:
    """The HTTP face of `service` (the harness's `VoucherService`), one request at a time."""
    lock = threading.Lock()
    app = FastAPI(title="yikatong reference voucher service", version=API_VERSION, docs_url=None, redoc_url=None)
    answer_errors_as_json(app)
    publish_as_modelled(app, "no public interface of a consumption-voucher issuer; this model's, after "
                             "the VoucherPort of simulator/backend/ports.py")

    # a well-formed issue the service's profile refuses (a category it does not issue) is 409 `refused`:
    # the document, the same for every region, cannot name the region's categories
    for exc_type, status, code in ((ports.Invalid, 409, "refused"), (ports.NotFound, 404, "not_found"),
                                   (ports.IdConflict, 409, "conflict")):
        app.add_exception_handler(exc_type, _handler(status, code))

    @app.post("/vouchers", response_model=ports.VoucherState, responses=_errors(409), operation_id="issueVoucher")
    def issue(body: Issue) -> ports.VoucherState:
        """Issue a voucher to a card (exactly once by `voucher_id`: the same issue again answers the
        voucher as it is now)."""
        with lock:
            return service.issue(ports.VoucherIssue(**body.model_dump()))

    @app.get("/vouchers/{voucher_id}", response_model=ports.VoucherState, responses=_errors(404),
             operation_id="getVoucher")
    def voucher(voucher_id: VoucherId) -> ports.VoucherState:
        with lock:
            return service.voucher(voucher_id)

    @app.get("/cards/{card_identifier}/vouchers", response_model=OpenVouchers, responses=_errors(),
             operation_id="openVouchers")
    def open_vouchers(card_identifier: CardPath) -> OpenVouchers:
        """The card's vouchers with value left, oldest id first."""
        with lock:
            found = service.open_vouchers(ports.VoucherQuery(request_id="", card_identifier=card_identifier))
        return OpenVouchers(vouchers=list(found))

    @app.post("/redemptions", response_model=ports.RedemptionResult, responses=_errors(409), operation_id="redeem")
    def redeem(body: Redemption) -> ports.RedemptionResult:
        """Spend `amount` of a voucher for the card presented at a POS, exactly once by `request_id`;
        a refusal (another card's voucher, more than it has left) is `redeemed: false`, nothing spent."""
        with lock:
            return service.redeem(ports.Redemption(**body.model_dump()))

    return app


def _handler(status: int, code: str):
    async def answer(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": code, "detail": f"{request.method} {request.url.path}: {exc}"},
                            status_code=status)
    return answer


def openapi_yaml() -> str:
    """The document the service publishes, as YAML (what profiles/national/voucher_api.yaml holds)."""
    return yaml.safe_dump(make_app(VoucherService()).openapi(), allow_unicode=True, sort_keys=False, width=120)
