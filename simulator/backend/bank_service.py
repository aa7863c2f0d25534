"""The reference bank served over HTTP: `ykt bank serve [--port] [--db PATH] [--faults PLAN]`.

The operations and their bodies are profiles/national/bank_api.yaml (OpenAPI 3.1, modelled); the
app publishes the same document at /openapi.json, generated from the models below, and
tests/test_bank_service.py checks the two agree. Every request id is the client's: a retry with
the same id and content is answered from the saved result, the same id with other content is 409.
Bad input is 4xx with `{"error": code, "detail": ...}` naming the problem, never 5xx (409
`refused` for a well-formed request the state refuses whole, e.g. items past their batch's
announced totals); only the
fault plan (`simulator.backend.service_faults`, applied by `fault_middleware`) answers 503, before
the bank acts.

One request at a time: the bank's books are one SQLite connection (WAL, synchronous=FULL), so a
request's effect is on disk before its answer leaves, and a SIGKILL at any point loses only what
was not committed (the client's retry then applies it, once).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException

from simulator.backend import ports
from simulator.backend.bank import Bank
from simulator.backend.disbursement import Disbursements
from simulator.backend.fault_middleware import apply_faults
from simulator.backend.ledger import Ledger
from simulator.backend.service_faults import ServiceFaults, ServicePlan
from simulator.profile import Profile

#: the largest request body, in bytes (a call of MAX_ITEMS items fits well within it)
MAX_BODY = 1 << 20
MAX_ITEMS = 1000
MAX_AMOUNT = 10**11  # fen: 1e9 yuan, far above any payment, far below SQLite's 64-bit integers
API_VERSION = "0.1.0"



def _json_number(value: object) -> object:
    """An integer field (`NUMBER` in its annotation) takes a JSON number (9 or 9.0, as JSON
    Schema's `integer`), never text or a boolean, which pydantic's lax mode would turn into one."""
    if isinstance(value, str | bytes | bool):
        raise ValueError("want a JSON number")
    return value


NUMBER = BeforeValidator(_json_number)
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="client-generated id")]
Pan = Annotated[str, Field(pattern=r"^[0-9]{12,19}$", description="PAN of the card's financial application")]
PanSequence = Annotated[int, Field(ge=0, le=99), NUMBER]
Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT, description="fen"), NUMBER]
Balance = Annotated[int, Field(ge=0, le=MAX_AMOUNT), NUMBER]
Count = Annotated[int, Field(ge=1, le=1_000_000), NUMBER]
Total = Annotated[int, Field(ge=1, le=MAX_AMOUNT * 1000), NUMBER]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{2,4}$")]
Hex = Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}){0,252}$")]


class Body(BaseModel):
    """A JSON body: unknown keys refused; numbers are numbers (`NUMBER`), text is text."""

    model_config = ConfigDict(extra="forbid")


class Error(Body):
    error: Literal["invalid_request", "not_found", "conflict", "refused", "unavailable"]
    detail: str


class AccountOpening(Body):
    pan: Pan
    pan_sequence: PanSequence
    opening_balance: Balance = 0


class Account(Body):
    pan: str
    pan_sequence: int
    balance: int
    status: Literal["open", "closed"]


class CardRequest(Body):
    """An authorisation or a deferred transit charge: the card's account and field 55."""

    request_id: Id
    pan: Pan
    pan_sequence: PanSequence
    amount: Amount
    terminal_id: Id
    field55: Annotated[dict[Tag, Hex], Field(max_length=32, description="EMV tag (hex) -> value (hex)",
                                             json_schema_extra={"additionalProperties": False})]


class AuthorisationResult(Body):
    request_id: str
    approved: bool
    response_code: str
    detail: str


class Reversal(Body):
    request_id: Id
    original_id: Id
    amount: Amount
    terminal_id: Id


class ReversalResult(Body):
    request_id: str
    acknowledged: bool
    detail: str


class ChargeResult(Body):
    request_id: str
    charged: bool
    response_code: str
    detail: str


class Batch(Body):
    payer: Id
    item_count: Count
    total_amount: Total


class BatchState(Batch):
    batch_id: str


class Item(Body):
    item_id: Id
    pan: Pan
    amount: Amount
    reissue_of: Id | None = None


class Items(Body):
    items: Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]


class ItemResult(Body):
    item_id: str
    status: Literal["paid", "refused", "returned"]
    detail: str


class ItemResults(Body):
    results: list[ItemResult]


class ItemReturn(Body):
    item_id: Id
    reason: Text


class Returns(Body):
    returns: Annotated[list[ItemReturn], Field(min_length=1, max_length=MAX_ITEMS)]


class ReturnResult(Body):
    item_id: str
    returned: bool
    detail: str


class ReturnResults(Body):
    results: list[ReturnResult]


class Reconciliation(Body):
    batch_id: str
    declared_count: int
    declared_amount: int
    received_count: int
    received_amount: int
    paid_count: int
    paid_amount: int
    refused_count: int
    refused_amount: int
    returned_count: int
    returned_amount: int
    reissued_count: int
    outstanding_count: int
    outstanding_amount: int
    ledger_amount: int
    balanced: bool


BatchId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
PanPath = Annotated[str, Path(pattern=r"^[0-9]{12,19}$")]

ERRORS = {404: "not_found", 405: "not_found", 409: "conflict", 413: "invalid_request", 422: "invalid_request",
          503: "unavailable"}
#: the error answers every operation documents
DOCUMENTED = {code: {"model": Error} for code in (404, 409, 413, 422, 503)}


def _error(status: int, detail: str, headers: dict[str, str] | None = None, *, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": code or ERRORS[status], "detail": detail}, status_code=status, headers=headers)


def _tags(field55: dict[str, str]) -> dict[int, bytes]:
    return {int(tag, 16): bytes.fromhex(value) for tag, value in field55.items()}


def make_app(ledger: Ledger, *, faults: ServiceFaults | None = None,
             sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, profile: Profile | None = None,
             payments: ports.CardPaymentPort | None = None) -> FastAPI:
    """The bank's HTTP app over `ledger`; `faults` (None: none) wired to the bank's crash points and
    applied before each operation; `sleep` is how the edge waits out an injected latency; `profile`
    lays out the cryptograms the bank checks (the national profile by default). `payments` (default:
    the bank over `ledger`) answers the card payments instead: the harness serves the bank it plays
    to a POS of its own process this way, so the POS meets the bank's real HTTP API and the harness
    keeps every request and answer on the bank's side."""
    if faults is not None:
        ledger.crash = faults.crash
    bank, disbursements = payments or Bank(ledger, profile=profile), Disbursements(ledger)
    lock = threading.Lock()
    app = FastAPI(title="yikatong reference bank", version=API_VERSION, docs_url=None, redoc_url=None)
    app.state.ledger = ledger

    if faults is not None:  # inside the body limit below: an oversized body is 413 whatever the plan
        apply_faults(app, faults, code=ERRORS[503], sleep=sleep)

    @app.middleware("http")
    async def _limit(request: Request, call_next):
        if int(request.headers.get("content-length") or 0) > MAX_BODY or len(await request.body()) > MAX_BODY:
            return _error(413, f"the body is larger than {MAX_BODY} bytes")  # announced, or sent in chunks
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return _error(422, f"{request.method} {request.url.path}: {problems}")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code if exc.status_code in ERRORS else 422,
                      f"{request.method} {request.url.path}: {exc.detail}", exc.headers)

    @app.exception_handler(ports.IdConflict)
    async def _conflict(request: Request, exc: ports.IdConflict) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(ports.NotFound)
    async def _not_found(request: Request, exc: ports.NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(ports.Refused)
    async def _refused(request: Request, exc: ports.Refused) -> JSONResponse:
        return _error(409, str(exc), code="refused")

    def serial(call: Callable[[], object]):
        with lock:
            return call()

    def per_item(call: Callable[[], tuple], model: type[Body]) -> list:
        """The per-item answers of a batch call, as `model`s."""
        return [model(**asdict(result)) for result in serial(call)]

    @app.post("/accounts", response_model=Account, responses=DOCUMENTED, operation_id="openAccount")
    def open_account(body: AccountOpening) -> Account:
        """Open the account of a card's financial application; the PAN is its id."""
        state = serial(lambda: ledger.open_account(ports.AccountOpening(**body.model_dump())))
        return Account(**asdict(state))

    @app.get("/accounts/{pan}", response_model=Account, responses=DOCUMENTED, operation_id="getAccount")
    def get_account(pan: PanPath) -> Account:
        return Account(**asdict(serial(lambda: ledger.account(pan))))

    @app.post("/accounts/{pan}/close", response_model=Account, responses=DOCUMENTED, operation_id="closeAccount")
    def close_account(pan: PanPath) -> Account:
        """Close the account (card cancelled): nothing is paid into it any more."""
        return Account(**asdict(serial(lambda: ledger.close_account(pan))))

    def card_request(body: CardRequest, kind: type) -> object:
        fields = body.model_dump(exclude={"field55"})
        return kind(**fields, tags=_tags(body.field55))

    @app.post("/authorisations", response_model=AuthorisationResult, responses=DOCUMENTED,
              operation_id="authorise")
    def authorise(body: CardRequest) -> AuthorisationResult:
        """Online authorisation of an ARQC (exactly-once by request_id)."""
        result = serial(lambda: bank.authorise(card_request(body, ports.Authorisation)))
        return AuthorisationResult(**asdict(result))

    @app.post("/reversals", response_model=ReversalResult, responses=DOCUMENTED, operation_id="reverse")
    def reverse(body: Reversal) -> ReversalResult:
        """Reversal (冲正) of the authorisation original_id; always acknowledged once matched."""
        return ReversalResult(**asdict(serial(lambda: bank.reverse(ports.Reversal(**body.model_dump())))))

    @app.post("/transit-charges", response_model=ChargeResult, responses=DOCUMENTED, operation_id="chargeTransit")
    def charge_transit(body: CardRequest) -> ChargeResult:
        """A deferred transit charge (先乘后付) on the ride's cryptogram."""
        return ChargeResult(**asdict(serial(lambda: bank.charge_transit(card_request(body, ports.TransitCharge)))))

    @app.put("/disbursements/{batch_id}", response_model=BatchState, responses=DOCUMENTED,
             operation_id="openBatch")
    def open_batch(batch_id: BatchId, body: Batch) -> BatchState:
        """Announce a disbursement batch (待遇发放 / 惠民惠农补贴) with its control totals."""
        state = serial(lambda: disbursements.open_batch(ports.Batch(batch_id=batch_id, **body.model_dump())))
        return BatchState(**asdict(state))

    @app.post("/disbursements/{batch_id}/items", response_model=ItemResults, responses=DOCUMENTED,
              operation_id="payItems")
    def pay_items(batch_id: BatchId, body: Items) -> ItemResults:
        """Pay items of the batch, all or none per call; each item exactly-once by item_id."""
        items = tuple(ports.Item(**item.model_dump()) for item in body.items)
        return ItemResults(results=per_item(lambda: disbursements.pay(batch_id, items), ItemResult))

    @app.post("/disbursements/{batch_id}/returns", response_model=ReturnResults, responses=DOCUMENTED,
              operation_id="returnItems")
    def return_items(batch_id: BatchId, body: Returns) -> ReturnResults:
        """Send paid items back (退票): the money goes back to the payer."""
        returns = tuple(ports.ItemReturn(**r.model_dump()) for r in body.returns)
        return ReturnResults(results=per_item(lambda: disbursements.return_items(batch_id, returns), ReturnResult))

    @app.get("/disbursements/{batch_id}/reconciliation", response_model=Reconciliation, responses=DOCUMENTED,
             operation_id="reconcile")
    def reconcile(batch_id: BatchId) -> Reconciliation:
        """The batch to the fen: items against the ledger."""
        return Reconciliation(**asdict(serial(lambda: disbursements.reconcile(batch_id))))

    return app


def served_app(db: str, *, plan: ServicePlan | None, seed: int, clock: Callable[[], datetime],
               elapsed: Callable[[], float], profile: Profile) -> FastAPI:
    """The app `ykt bank serve` runs: the books in the file `db` dated by `clock`, the fault plan
    (if any) seeded, its windows timed by `elapsed` (both clocks given at the process's edge),
    cryptograms checked by `profile`."""
    faults = ServiceFaults(plan, service="bank", seed=seed, elapsed=elapsed) if plan is not None else None
    return make_app(Ledger(db, clock=clock), faults=faults, profile=profile)
