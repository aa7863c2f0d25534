"""A department's HTTP face (profiles/national/department_api.yaml, OpenAPI 3.1, `source: modelled`).

`POST /callbacks` is what the platform calls; `GET /info` and the `/control` operations are what a
certifying suite uses in place of a person at the counter: point the department at a platform
(`PUT /control/platform`), have it serve a presented card by its own flow (`POST
/control/flows`), and read what it holds (`GET /control/state`, read-only). The document the app
publishes is the profile file (tests/test_departments.py keeps the two equal; `ykt department
openapi` regenerates it).
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations

from typing import Annotated, Literal

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from simulator.backend.json_errors import answer_errors_as_json
from simulator.backend.openapi import HTTP_URL, publish_as_modelled
from simulator.profile import PROFILE_ROOT

from .department import CallbackRefused, Department, NotConfigured, PlatformLink
from .lending import NotLending, NotOnLoan, lender

API_PATH = PROFILE_ROOT / "national" / "department_api.yaml"

CardNumber = Annotated[str, Field(pattern=r"^[0-9A-Z]{8,9}$", description="卡号 (card number)")]
ItemId = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,32}$", description="the lent item's id (its barcode or tag)")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Error(Strict):
    error: str
    detail: str


class Info(Strict):
    kind: Literal["department"]
    department_kind: str
    zh: str
    purpose: Annotated[str, Field(description="the purpose it declares to the platform (national.platform purposes)")]
    flow: Annotated[str, Field(description="the name of its own flow (POST /control/flows)")]
    configured: Annotated[bool, Field(description="whether it has been pointed at a platform")]


class StatusChange(BaseModel):
    """A status-change callback (national.platform callbacks): the fields of the event the
    department's purpose may see; others it may not are absent."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    card_number: str
    action: str
    status: str
    at: Annotated[str, Field(description="when the change happened (ISO 8601): events are applied in this order")]
    from_status: str | None = None
    superseded_by: str | None = None


class PlatformSettings(Strict):
    platform_url: Annotated[str, Field(pattern=HTTP_URL)]
    department_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")]
    secret: Annotated[str, Field(pattern=r"^([0-9a-fA-F]{2}){16,64}$", description="HMAC-SM3 key, hex")]


class PresentedCard(Strict):
    """What the card's chip gives the counter (synthetic in tests)."""

    card_number: CardNumber
    citizen_id: Annotated[str, Field(pattern=r"^[1-9][0-9]{16}[0-9X]$")]
    name: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[^\x00-\x1f]+$")]
    birth_date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class FlowRequest(Strict):
    card: PresentedCard


class LoanRequest(Strict):
    """A borrow (借): the reader's card and the item."""

    card: PresentedCard
    item_id: ItemId


class ReturnRequest(Strict):
    """A return (还): the item, and the card of whoever brings it if it is shown (not needed)."""

    item_id: ItemId
    card: PresentedCard | None = None


class FlowOutcome(Strict):
    outcome: Annotated[Literal["served", "refused", "failed"], Field(
        description="served: the holder got the service; refused: the card or holder may not be served; "
                    "failed: the platform could not be used")]
    reason: str


class HeldCard(Strict):
    status: str | None
    at: str | None
    kept: Annotated[dict[str, str | bool], Field(description="what it keeps of the holder, by field name")]


class DepartmentState(Strict):
    cards: dict[str, HeldCard]
    applied: Annotated[list[str], Field(description="the callbacks' event ids it applied, in order")]
    loans: Annotated[dict[str, str], Field(default_factory=dict,
                                           description="where it lends: item id -> the card number holding it")]


def _errors(*statuses: int) -> dict:
    return {status: {"model": Error} for status in (422, *statuses)}


def make_app(department: Department) -> FastAPI:
    """The FastAPI app of `department`; `app.state.department` is it."""
    app = FastAPI(title="部门业务系统 (a department's system integrating with the 一卡通 platform)",
                  version="0.1.0", docs_url=None, redoc_url=None,
                  description="POST /callbacks takes the platform's signed status changes (webhook-id, "
                              "webhook-timestamp, webhook-signature = v1,hex HMAC-SM3(secret, id.timestamp.body)): "
                              "204 when taken (applied, or a repeat or older event dropped), 401 when refused. "
                              "The /control operations let a certifying suite drive the department.")
    app.state.department = department
    answer_errors_as_json(app)

    @app.exception_handler(NotConfigured)
    async def _not_configured(request: Request, exc: NotConfigured) -> JSONResponse:
        return JSONResponse({"error": "not_configured", "detail": str(exc)}, status_code=409)

    @app.exception_handler(NotLending)
    async def _not_lending(request: Request, exc: NotLending) -> JSONResponse:
        return JSONResponse({"error": "not_lending", "detail": str(exc)}, status_code=404)

    @app.exception_handler(NotOnLoan)
    async def _not_on_loan(request: Request, exc: NotOnLoan) -> JSONResponse:
        return JSONResponse({"error": "not_on_loan", "detail": str(exc)}, status_code=409)

    @app.get("/info")
    def info() -> Info:
        return Info(**department.info())

    @app.post("/callbacks", status_code=204, response_class=Response, responses=_errors(401))
    async def callback(request: Request, event: StatusChange,
                       webhook_id: Annotated[str | None, Header()] = None,
                       webhook_timestamp: Annotated[str | None, Header()] = None,
                       webhook_signature: Annotated[str | None, Header()] = None) -> Response:
        headers = {"webhook-id": webhook_id, "webhook-timestamp": webhook_timestamp,
                   "webhook-signature": webhook_signature}
        try:
            department.receive({k: v for k, v in headers.items() if v}, await request.body())
        except CallbackRefused as exc:
            return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=401)
        return Response(status_code=204)

    @app.put("/control/platform", status_code=204, response_class=Response, responses=_errors())
    def point_at_platform(body: PlatformSettings) -> Response:
        department.configure(PlatformLink(url=body.platform_url.rstrip("/"), department_id=body.department_id,
                                          secret=bytes.fromhex(body.secret)))
        return Response(status_code=204)

    @app.post("/control/flows", responses=_errors(409))
    def run_flow(body: FlowRequest) -> FlowOutcome:
        return FlowOutcome(**department.serve(body.card.model_dump()))

    @app.post("/control/loans", responses=_errors(404, 409))
    def lend(body: LoanRequest) -> FlowOutcome:
        """Lend the item to the reader by the department's flow (refused: `on_loan` when it is lent)."""
        return FlowOutcome(**lender(department).lend(body.card.model_dump(), body.item_id))

    @app.post("/control/returns", responses=_errors(404, 409))
    def take_back(body: ReturnRequest) -> FlowOutcome:
        """Take the item back whatever its card's status (409 `not_on_loan` when it is not lent)."""
        card = body.card.model_dump() if body.card is not None else None
        return FlowOutcome(**lender(department).take_back(body.item_id, card))

    @app.get("/control/state")
    def state() -> DepartmentState:
        return DepartmentState(**department.state())

    publish_as_modelled(app, "no public interface of a department's side of the 一卡通 platforms exists; the callback "
                        "endpoint follows Standard Webhooks with HMAC-SM3 (national.platform callbacks), the control "
                        "operations are this harness's, as the OpenID Foundation's suite drives a relying party it "
                        "certifies")
    return app
