"""The platform's HTTP API (profiles/national/platform_api.yaml, OpenAPI 3.1, `source: modelled`).

`make_app(platform)` serves one `Platform`. Every operation but /openapi.json is a signed request
(`signing.py`): the department is authenticated from its headers over the raw body before the body
is read as the operation's model; then its purpose must permit the operation (checked after the
body, so a malformed body is 422 whoever sends it). Bodies are strict
(no extra fields, no coercion of types): a bad one is 422 `invalid_request` naming each field; a
refusal is the `PlatformError`'s status and code; nothing answers 5xx for anything a client sends.
The document the app publishes is the profile file itself (tests/test_platform_api.py checks the
two stay equal, and `ykt platform openapi` regenerates the file from the app).
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, some of them local

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from simulator.backend.json_errors import answer_errors_as_json
from simulator.backend.openapi import HTTP_URL, publish_as_modelled
from simulator.ecode import qr
from simulator.profile import PROFILE_ROOT

from .errors import PlatformError
from .service import Platform

API_PATH = PROFILE_ROOT / "national" / "platform_api.yaml"


def _text(value: object) -> object:
    """Dates come as ISO text only (pydantic's lax mode would read a number as Unix time)."""
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date or date-time string is required")
    return value


IsoDate = Annotated[date, BeforeValidator(_text), Field(strict=False)]
IsoDateTime = Annotated[datetime, BeforeValidator(_text), Field(strict=False)]
CARD_NUMBER, CHIP = "[0-9A-Z]{8,9}", "([0-9A-F]{2}){8,16}"
#: how a terminal names a card it asks about: its number, or an identifier read from its chip
CARD_OR_CHIP = f"^({CARD_NUMBER}|{CHIP})$"
CardNumber = Annotated[str, Field(pattern=f"^{CARD_NUMBER}$", description="卡号 (card number)")]
ChipId = Annotated[str, Field(pattern=f"^{CHIP}$",
                              description="an identifier a terminal reads from the chip (卡识别码, purse serial)")]
Chips = Annotated[list[ChipId], Field(max_length=4)]
CitizenId = Annotated[str, Field(pattern=r"^[1-9][0-9]{16}[0-9X]$", description="社会保障号码 (citizen ID number)")]
Name = Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[^\x00-\x1f]+$", description="姓名")]
Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="行政区划代码 (administrative division code)")]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Hex = Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}){1,1024}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Error(Strict):
    error: str
    detail: str


class DepartmentCredentials(Strict):
    department_id: str
    secret: Annotated[str, Field(description="HMAC-SM3 key, hex; shown once")]


class CardIssue(Strict):
    card_number: CardNumber
    citizen_id: CitizenId
    name: Name
    birth_date: IsoDate
    region: Region
    chips: Chips = []


class CardView(Strict):
    """A card as the asking department's purpose permits: fields outside it are absent (the routes
    answering one leave out what is None)."""

    card_number: str
    status: str
    financial_active: bool | None = None
    superseded_by: str | None = None
    current: Annotated[str | None, Field(description="the holder's current card (one person one card)")] = None
    region: str | None = None
    name: str | None = None
    citizen_id: str | None = None
    birth_date: str | None = None


class IdentityRequest(Strict):
    card_number: CardNumber
    citizen_id: CitizenId
    name: Name


class IdentityResult(Strict):
    verified: bool
    reason: Literal["verified", "no_match", "card_not_usable"]


class Blacklist(Strict):
    """The full list (`cards`), or with `since` the delta (`added`, `removed`) up to `version`."""

    version: int
    propagation_delay_seconds: int
    cards: list[str] | None = None
    since: int | None = None
    added: list[str] | None = None
    removed: list[str] | None = None


class Application(Strict):
    id: str
    zh: str
    purposes: list[str]


class UsageResult(Strict):
    event_id: str
    duplicate: bool


class UsageCount(Strict):
    department: str
    kind: str
    day: str
    count: int


class Delivery(Strict):
    event_id: str
    attempts: int
    state: Literal["pending", "delivered", "failed"]
    next_at: int
    last_status: int | None = None


class CallbackSchedule(Strict):
    retry_schedule_seconds: list[int]
    deliveries: list[Delivery]


class KeyEntry(Strict):
    index: int
    public_key: str
    test: bool


class Ecode(Strict):
    payload: Annotated[str, Field(description="the code's bytes, hex: what a terminal scans")]
    kind: str
    generated_at: int
    expires_at: int


class EcodeVerification(Strict):
    payload: Hex
    business_type: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")]


class EcodeVerdict(Strict):
    valid: bool
    reason: str
    detail: str
    kind: str | None = None
    card: CardView | None = None


class EcodeImage(Strict):
    payload: Hex
    format: Literal["png", "svg"] = "png"


def _vocabulary_models(platform_profile: dict, ecode_profile: dict) -> tuple[type[BaseModel], ...]:
    """The bodies whose values are the profile's names (lifecycle actions, purposes, data-return and
    e-code kinds), made for the profile the platform keeps: a region's own names are then valid.
    (A Literal: strict models take no coercion to an Enum.)"""
    Action = Literal[tuple(platform_profile["lifecycle"]["actions"])]
    Purpose = Literal[tuple(name for name in platform_profile["purposes"]["declared"] if name != "operator")]
    UseKind = Literal[tuple(platform_profile["data_return"]["kinds"])]
    CodeKind = Literal[tuple(ecode_profile["kinds"])]

    class DepartmentRegistration(Strict):
        department_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")]
        name: Name
        purpose: Purpose
        callback_url: Annotated[str | None, Field(pattern=HTTP_URL)] = None

    new_card = sorted(name for name, spec in platform_profile["lifecycle"]["actions"].items() if spec.get("new_card"))

    class CardAction(Strict):
        """A lifecycle action; reissue and replace name the card that supersedes this one (the
        document says so with if/then, the validator checks it)."""

        model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
            "if": {"properties": {"action": {"enum": new_card}}, "required": ["action"]},
            "then": {"required": ["new_card_number"], "properties": {"new_card_number": {"type": "string"}}}})

        action: Action
        new_card_number: CardNumber | None = None
        new_chips: Chips = []

        @model_validator(mode="after")
        def _names_the_new_card(self) -> "CardAction":
            if self.action in new_card and self.new_card_number is None:
                raise ValueError(f"{self.action} needs new_card_number, the number of the card that supersedes "
                                 f"this one")
            return self

    class UsageEvent(Strict):
        event_id: Id
        card_number: CardNumber
        kind: UseKind
        at: IsoDateTime
        site: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]

    class EcodeRequest(Strict):
        card_number: CardNumber
        kind: CodeKind

    return DepartmentRegistration, CardAction, UsageEvent, EcodeRequest


def _errors(*statuses: int) -> dict:
    return {status: {"model": Error} for status in (401, 422, *statuses)}


def make_app(platform: Platform) -> FastAPI:
    """The FastAPI app of `platform`; `app.state.platform` is it."""
    app = FastAPI(title="一卡通应用服务平台 (resident service card platform)", version="0.1.0",
                  docs_url=None, redoc_url=None,
                  description="Signed requests: X-Department, X-Timestamp (Unix s), X-Nonce and X-Signature = "
                              "hex HMAC-SM3(secret, method\\npath?query\\ntimestamp\\nnonce\\nhex SM3(body)). "
                              "Callbacks: webhook-id, webhook-timestamp, webhook-signature = v1,hex HMAC-SM3("
                              "secret, id.timestamp.body), retried on the schedule of GET /callbacks until a 2xx.")
    app.state.platform = platform
    DepartmentRegistration, CardAction, UsageEvent, EcodeRequest = _vocabulary_models(
        platform.platform_profile, platform.ecode_profile)

    @app.exception_handler(PlatformError)
    async def _refused(request: Request, exc: PlatformError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    answer_errors_as_json(app)

    async def signed(request: Request) -> str:
        body = await request.body()
        # the request target as sent (percent-encoded), which is what the client signed
        raw, query = request.scope.get("raw_path") or request.url.path.encode(), request.scope["query_string"]
        path = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        return platform.authenticate(request.headers, method=request.method, path=path, body=body)

    Signed = Annotated[str, Depends(signed)]
    CardPath = Annotated[str, Path(pattern=f"^{CARD_NUMBER}$", description="卡号 (card number)")]
    CardOrChip = Annotated[str, Path(pattern=CARD_OR_CHIP, description="卡号, or an identifier read from the chip")]

    @app.post("/departments", status_code=201, responses=_errors(403, 409))
    def register_department(body: DepartmentRegistration,
                            department: Signed) -> DepartmentCredentials:
        platform.require(department, "manage_departments")
        secret = platform.register_department(department_id=body.department_id, name=body.name,
                                              purpose=body.purpose, callback_url=body.callback_url)
        return DepartmentCredentials(department_id=body.department_id, secret=secret.hex())

    @app.post("/cards", status_code=201, responses=_errors(403, 409), response_model_exclude_none=True)
    def issue_card(body: CardIssue, department: Signed) -> CardView:
        platform.require(department, "manage_cards")
        return CardView(**platform.issue_card(**body.model_dump()))

    @app.post("/cards/{card_number}/actions", responses=_errors(403, 404, 409), response_model_exclude_none=True)
    def act_on_card(card_number: CardPath, body: CardAction,
                    department: Signed) -> CardView:
        platform.require(department, "manage_cards")
        return CardView(**platform.transition(card_number, body.action, new_card_number=body.new_card_number,
                                              new_chips=body.new_chips))

    # The two answers a terminal asks for at every passage, card status and e-code verification,
    # run on the event loop like the signature check before them: their work is short and commits
    # nothing that waits for the disk (reads, and the replay log's non-durable entries), while a
    # sync route costs two thread hops (the handler, then FastAPI's check of its answer) and the
    # GIL handed back and forth with the loop: under load, a third of the server's time per
    # verification (bench/bench_platform_load.py). They do wait, as the signature check does, while
    # a durable commit in a thread holds the store's lock. Every route that waits for the disk stays
    # sync.
    @app.get("/cards/{card_number}", responses=_errors(403, 404), response_model_exclude_none=True)
    async def card_status(card_number: CardOrChip, department: Signed) -> CardView:
        platform.require(department, "card_status")
        return CardView(**platform.card_view(department, card_number))

    @app.post("/identity/verifications", responses=_errors(403))
    def verify_identity(body: IdentityRequest, department: Signed) -> IdentityResult:
        platform.require(department, "identity")
        return IdentityResult(**platform.verify_identity(department, **body.model_dump()))

    @app.get("/blacklist", responses=_errors(403, 409), response_model_exclude_none=True)
    def blacklist(department: Signed,
                  since: Annotated[int | None, Query(ge=0, le=2**53)] = None) -> Blacklist:
        platform.require(department, "blacklist")
        return Blacklist(**platform.blacklist(since))

    @app.get("/catalogue/{region}", responses=_errors(404))
    def catalogue(region: Annotated[str, Path(pattern=r"^[a-z0-9_]{1,32}$")], _: Signed) -> list[Application]:
        return [Application(**entry) for entry in platform.catalogue(region)]

    @app.post("/usage-events", responses=_errors(403, 404, 409))
    def report_use(body: UsageEvent, department: Signed) -> UsageResult:
        platform.require(department, "data_return")
        return UsageResult(**platform.report_use(department, **body.model_dump()))

    @app.get("/usage-summary", responses=_errors(403))
    def usage_summary(department: Signed) -> list[UsageCount]:
        platform.require(department, "usage_summary")
        return [UsageCount(**row) for row in platform.usage_summary(department)]

    @app.get("/callbacks", responses=_errors(), response_model_exclude_none=True)
    def deliveries(department: Signed) -> CallbackSchedule:
        return CallbackSchedule(retry_schedule_seconds=platform.platform_profile["callbacks"]["retry_schedule_seconds"],
                                deliveries=[Delivery(**row) for row in platform.deliveries(department)])

    @app.get("/ecodes/keys", responses=_errors(403))
    def key_chain(department: Signed) -> list[KeyEntry]:
        platform.require(department, "ecode_verify")
        return [KeyEntry(index=key.index, public_key=key.public_key.hex(), test=key.test)
                for key in platform.key_chain.keys.values()]

    @app.post("/ecodes", status_code=201, responses=_errors(403, 404, 409))
    def issue_ecode(body: EcodeRequest, department: Signed) -> Ecode:
        platform.require(department, "ecode_issue")
        code = platform.issue_ecode(card_number=body.card_number, kind=body.kind)
        return Ecode(payload=code.encode().hex(), kind=body.kind, generated_at=code.generated_at,
                     expires_at=code.generated_at + code.authorisation.validity_seconds)

    @app.post("/ecodes/verifications", responses=_errors(403), response_model_exclude_none=True)
    async def verify_ecode(body: EcodeVerification, department: Signed) -> EcodeVerdict:  # on the loop: see card_status
        platform.require(department, "ecode_verify")
        return EcodeVerdict(**platform.verify_ecode(department, bytes.fromhex(body.payload)))

    @app.post("/ecodes/images", responses={**_errors(403), 200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
              response_class=Response)
    def ecode_image(body: EcodeImage, department: Signed) -> Response:
        platform.require(department, "ecode_issue")
        media = {"png": "image/png", "svg": "image/svg+xml"}[body.format]
        return Response(qr.image(bytes.fromhex(body.payload), kind=body.format), media_type=media)

    publish_as_modelled(app, "no public API of the 一卡通 application service platforms exists; shaped after the "
                        "services the provincial and city policies name (unified identity authentication, card "
                        "status, information exchange, data return), Berlin Group NextGenPSD2 12.2 request signing "
                        "and Standard Webhooks")
    return app
