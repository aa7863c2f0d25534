"""Serve one terminal over the terminal control protocol (profiles/national/terminal_api.yaml).

    ykt terminal serve --kind bus [--mutant NAME] [--port 8700] [--host 127.0.0.1]
    ykt terminal serve --kind pos --bank http://127.0.0.1:8710   (the POS pays through `ykt bank serve`)
    python -m conformance.service serve --kind bus          (the same, before `ykt` mounts it)

A terminal that declares `platform_control` (`bank_control`, `vouchers`: a POS) is pointed by the
harness at the platform (the bank, the voucher service) it plays with `PUT /platform` (`PUT /bank`,
`PUT /vouchers`); each link keeps the others.

`make_app(terminal_factory, capabilities, kind=...)` is the FastAPI app of one terminal; the
`serve` command builds a reference terminal (`conformance.adapters.sim.REFERENCE_TERMINALS`) or a
seeded-defect one (`conformance.mutants`), with a harness-movable clock, and serves it with
uvicorn. So the suites certify a terminal that runs as a separate process exactly as they would a
vendor's (`--dut vpcd:...` or `--dut http:...`), and a vendor can compare its device with ours.

A transaction's card is read from a PC/SC reader of this machine's pcscd
(`{"card": {"reader": NAME}}`: the terminal waits up to `card_timeout` seconds for it to appear,
then opens `PcscTransport(NAME)`) or through the harness's HTTP relay
(`{"card": {"relay": URL}}`: `RelayTransport(URL)`). Transactions run one at a time.
A POS declaring `vouchers` (a region's, e.g. Guangdong's) redeems through the voucher service the
harness serves (`PUT /vouchers`, simulator/backend/voucher_client.py) when shown a card to pay by
a voucher (`{"voucher": {"card": ..., "pin": ...}}`), and says its merchant category on /info.

Every request body is checked against the protocol document itself (`conformance.adapters.http.parse`),
which the app also serves at /openapi.json, before anything else: a malformed request is answered
4xx with the protocol's error body, never acted on. A card the terminal may not reach is refused
before waiting for it: a relay whose host is not this machine (the terminal resolves no names and
connects nowhere else) or, when the terminal is given its `readers`, a reader not among them.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import threading
from collections.abc import Callable, Collection, Iterable
from importlib import metadata
from typing import Annotated

import httpx
import typer
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from conformance.adapters.http import (
    ERRORS,
    InvalidRequest,
    RelayRefusedError,
    api_document,
    error_code,
    parse,
    problems,
)
from simulator.devices.terminal import Terminal
from simulator.profile import Profile, build, national
from simulator.transport.errors import LinkError, ReaderNotFoundError

log = logging.getLogger(__name__)

#: seconds the terminal waits for a card to appear in its reader
CARD_TIMEOUT = 5.0
#: seconds the terminal waits for the platform's answer before it decides without it
PLATFORM_TIMEOUT = 1.0
#: seconds a POS waits for the voucher service's answer before it sends the redemption again
VOUCHERS_TIMEOUT = 2.0
#: the largest request body accepted, in bytes (terminal_api.yaml; its bodies are a few hundred)
MAX_BODY = 0x10000
#: harness facilities (ics.yaml) a served terminal declares only when its kind declares the
#: capability named: only a terminal that asks a bank to authorise can be pointed at one (PUT /bank)
NEEDS = {"bank_control": "online_authorisation"}


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


async def _body(request: Request) -> bytes:
    """The request body, refused (413) as soon as it grows past `MAX_BODY` bytes."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    return bytes(raw)


Body = Annotated[bytes, Depends(_body)]


def make_app(
    terminal_factory: Callable[..., Terminal],
    capabilities: Iterable[str],
    *,
    kind: str,
    vendor: str = "yikatong",
    model: str | None = None,
    firmware: str | None = None,
    card_timeout: float = CARD_TIMEOUT,
    readers: Collection[str] | None = None,
    profile: Profile | None = None,
) -> FastAPI:
    """The control service of one terminal, built as `terminal_factory(clock=..., blacklist=...,
    profile=...)`.

    The factory has the shape of `REFERENCE_TERMINALS` and `Mutant.build`; the clock is a
    `simulator.clock.Clock`, moved by `POST /clock` when `clock_control` is declared.
    `readers` are the PC/SC readers the terminal reads cards from (None: any reader of pcscd);
    `profile` is the one the terminal follows (the national one by default).
    """
    from conformance.adapters.sim import blacklist
    from simulator.clock import Clock

    profile = profile or national()

    declared = sorted(set(capabilities))
    clock = Clock()
    terminal = terminal_factory(clock=clock, blacklist=blacklist(profile), profile=profile)
    info = {"kind": kind, "capabilities": declared, "vendor": vendor,
            "model": model or f"reference {kind} terminal", "firmware": firmware or _version()}
    if "vouchers" in declared:  # which vouchers it may redeem follows from its merchant's category
        info["merchant_category"] = terminal.merchant_category
    wrong = problems(info, "Info")
    if wrong:
        raise ValueError(f"the terminal's /info would not follow terminal_api.yaml: {'; '.join(wrong)}")
    lock = threading.Lock()

    # the document is the contract: it is what /openapi.json serves, and nothing else is served
    app = FastAPI(title=f"{info['model']} ({kind})", version=api_document()["info"]["version"],
                  docs_url=None, redoc_url=None)
    app.openapi = api_document  # type: ignore[method-assign]
    app.state.terminal, app.state.clock, app.state.info = terminal, clock, info

    @app.exception_handler(InvalidRequest)
    async def _invalid(request: Request, exc: InvalidRequest) -> JSONResponse:
        return _error(422, "invalid_request", str(exc))

    @app.exception_handler(LinkError)
    async def _link(request: Request, exc: LinkError) -> JSONResponse:
        code = error_code(exc)
        log.warning("%s %s: %s: %s", request.method, request.url.path, code, exc)
        return _error(ERRORS[code][0], code, str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code in (404, 405) else "invalid_request"
        return _error(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}", exc.headers)

    @app.get("/info")
    def get_info() -> dict:
        return info

    @app.post("/transactions")
    def present(raw: Body) -> JSONResponse:
        request = parse(raw, "TransactionRequest")
        if "code" in request:
            return _scan(bytes.fromhex(request["code"]["payload"]))
        if "voucher" in request:
            return _redeem(request["voucher"])
        return _transact(request["card"], lambda transport: app.state.terminal.present(transport))

    def _redeem(sale: dict) -> JSONResponse:
        """A card presented to pay by a voucher, the holder typing the request's PIN (`VoucherSale`)."""
        if "vouchers" not in declared:
            return _error(409, "not_supported", f"this {kind} terminal does not declare vouchers: it redeems none")
        return _transact(sale["card"], lambda transport: app.state.terminal.redeem_voucher(transport, pin=sale["pin"]))

    def _transact(card: dict, act: Callable) -> JSONResponse:
        """The terminal's decision when `act` runs its flow with `card` (a `Card`), one at a time."""
        _check(card, readers)
        with lock:
            transport = _open(card, card_timeout)
            try:
                decision = act(transport)
            except LinkError:
                raise  # the link's failure, not the terminal's: answered by _link
            except Exception as exc:
                log.exception("transaction with %s failed", card)
                return _error(500, "terminal_fault", f"{type(exc).__name__}: {exc}")
            finally:
                close = getattr(transport, "close", None)  # a relay's HTTP connection; PC/SC has none
                if close is not None:
                    close()
        return JSONResponse(decision.as_dict())

    def _scan(payload: bytes) -> JSONResponse:
        """A scanned e-code: the terminal's decision, if it declares `ecode` (terminal_api.yaml `Code`)."""
        if "ecode" not in declared:
            return _error(409, "not_supported", f"this {kind} terminal does not declare ecode: it takes no codes")
        with lock:
            try:
                decision = app.state.terminal.present_code(payload)
            except Exception as exc:
                log.exception("transaction with a %d-byte code failed", len(payload))
                return _error(500, "terminal_fault", f"{type(exc).__name__}: {exc}")
        return JSONResponse(decision.as_dict())

    links: dict[str, object] = {}  # the ports the harness linked the terminal to: `platform`, `payments`, `vouchers`

    def _relink(raw: bytes, schema: str, facility: str, service: str, port_of: Callable[[dict], object],
                key: str) -> JSONResponse:
        """Point the terminal at the `service` the harness plays (PUT /platform, /bank, /vouchers): a fresh
        terminal of the same factory and clock whose port `key` is `port_of(link)` (or its own, for
        a null url), its other links kept."""
        link = parse(raw, schema)
        if facility not in declared:
            return _error(409, "not_supported", f"this {kind} terminal does not let the harness choose its {service}")
        refused = link["url"] is not None and _not_here(link["url"])
        if refused:
            return _error(403, f"{service}_refused", f"{service} {link['url']!r}: {refused}, and this terminal "
                          f"connects only to a {service} on localhost or its own IP addresses")
        port = None if link["url"] is None else port_of(link)
        with lock:
            replaced, links[key] = links.get(key), port
            app.state.terminal = terminal_factory(clock=clock, blacklist=blacklist(profile), profile=profile,
                                                  **{k: v for k, v in links.items() if v is not None})
        close = getattr(replaced, "close", None)  # a bank client's HTTP connections; a platform port has none
        if close is not None:
            close()
        return JSONResponse({"connected": port is not None})

    @app.put("/platform")
    def link_platform(raw: Body) -> JSONResponse:
        """The platform the terminal asks about cards: that platform's HTTP API (or none)."""
        return _relink(raw, "PlatformLink", "platform_control", "platform",
                       lambda link: _platform(link, clock, profile), "platform")

    @app.put("/bank")
    def link_bank(raw: Body) -> JSONResponse:
        """The bank the POS sends its authorisations and reversals to: that bank's HTTP API (or its own)."""
        from simulator.backend.bank_client import BankClient

        return _relink(raw, "BankLink", "bank_control", "bank", lambda link: BankClient(link["url"]), "payments")

    @app.put("/vouchers")
    def link_vouchers(raw: Body) -> JSONResponse:
        """The voucher service the POS redeems through: that service's HTTP API (or none)."""
        return _relink(raw, "VouchersLink", "vouchers", "vouchers", lambda link: _vouchers(link["url"]), "vouchers")

    @app.post("/clock")
    def advance(raw: Body) -> JSONResponse:
        seconds = parse(raw, "ClockRequest")["advance_seconds"]
        if "clock_control" not in declared:
            return _error(501, "not_supported", f"this {kind} terminal does not let the harness move its clock")
        with lock:
            try:
                clock.advance(seconds)
            except ValueError as exc:
                raise InvalidRequest(f"at advance_seconds: {exc}") from None
            return JSONResponse({"now": clock().isoformat()})

    return app


def _not_here(url: str) -> str:
    """Why the terminal will not connect to `url` (not this machine, or no address in it); "" if it will."""
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL as exc:  # the document's pattern admits e.g. "[b]", which names no address
        return f"no address in it ({exc})"
    return "" if host and _this_machine(host) else f"{host!r} is not this machine"


def _platform(link: dict, clock, profile: Profile):
    """The platform port of a `PlatformLink`: its HTTP API, signed as the link's department, read
    by `profile`'s platform document."""
    from simulator.backend.platform.client import DepartmentClient
    from simulator.backend.platform.http_port import HttpPlatform

    http = httpx.Client(base_url=link["url"], timeout=PLATFORM_TIMEOUT)
    return HttpPlatform(DepartmentClient(http, department=link["department_id"], secret=bytes.fromhex(link["secret"]),
                                         clock=clock, rng=random.Random(link["department_id"])),
                        platform_profile=profile["platform"])


def _vouchers(url: str):
    """The voucher port of a `VouchersLink`: the HTTP client of the service at `url`."""
    from simulator.backend.voucher_client import VoucherClient

    return VoucherClient(url, timeout=VOUCHERS_TIMEOUT)


def _check(card: dict, readers: Collection[str] | None) -> None:
    """Refuse, before waiting for it, a card this terminal may not reach (terminal_api.yaml `Card`)."""
    if "reader" in card:
        if readers is not None and card["reader"] not in readers:
            raise ReaderNotFoundError(card["reader"], readers)
        return
    why = _not_here(card["relay"])
    if why:
        raise RelayRefusedError(f"relay {card['relay']!r}: {why}, and this terminal connects only to relays "
                                "on localhost or its own IP addresses")


def _this_machine(host: str) -> bool:
    """`localhost`, or an IP address literal of this machine: loopback, or one a local socket can bind.

    Nothing is sent and no name is resolved (that would ask a name server)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    if address.is_unspecified or address.is_multicast:
        return False
    with socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


def _open(card: dict, card_timeout: float):
    """The transport to the request's card (unconnected; the terminal connects it)."""
    if "relay" in card:
        from simulator.transport.relay import RelayTransport

        return RelayTransport(card["relay"])
    from simulator.transport.pcsc import PcscTransport, wait_for_card

    wait_for_card(card["reader"], present=True, timeout=card_timeout)
    return PcscTransport(card["reader"])


def _version() -> str:
    try:
        return f"yikatong {metadata.version('yikatong')}"
    except metadata.PackageNotFoundError:
        return "yikatong (not installed)"


# -- the command line ------------------------------------------------------------------------

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Terminals as separate processes, driven over the terminal control protocol.")


@app.callback()
def _terminal() -> None:
    """Terminals as separate processes, driven over the terminal control protocol."""


def reference_app(kind: str | None, mutant: str | None, *, card_timeout: float = CARD_TIMEOUT,
                  readers: Collection[str] | None = None, bank: str | None = None,
                  profile: Profile | None = None) -> FastAPI:
    """The app of a reference terminal of `kind`, or of the terminal mutant `mutant`, following
    `profile` (the national one by default); the reference POS with `bank` (a served bank's base
    URL) pays through it over HTTP, not an in-memory bank."""
    from conformance.adapters.sim import REFERENCE_TERMINALS, reference_pos
    if bank is not None and (kind != "pos" or mutant is not None):
        raise ValueError("--bank is the reference POS's bank: give it with --kind pos (and no --mutant)")

    profile = profile or national()
    ics = profile["ics"]
    if mutant is not None:
        from conformance.mutants import all_mutants

        mutants = all_mutants()
        terminal_mutants = sorted(name for name, m in mutants.items() if m.role == "terminal")
        found = mutants.get(mutant)
        if found is None or found.role != "terminal":
            raise ValueError(f"unknown terminal mutant {mutant!r}; known: {', '.join(terminal_mutants) or 'none'}")
        if kind is not None and kind != found.kind:
            raise ValueError(f"mutant {mutant} is a {found.kind} terminal, not {kind}")
        kind, factory, model = found.kind, found.build, f"mutant {found.name}: {found.defect}"
    else:
        if kind not in REFERENCE_TERMINALS:
            raise ValueError(f"unknown terminal kind {kind!r}; valid: {', '.join(REFERENCE_TERMINALS)}")
        factory, model = REFERENCE_TERMINALS[kind], f"reference {kind} terminal"
        if bank is not None:
            factory, model = reference_pos(_bank_client(bank)), f"reference {kind} terminal, bank at {bank}"
    if kind not in ics["terminal_kinds"]:
        raise ValueError(f"terminal kind {kind!r} is not in ics.yaml; valid: {', '.join(ics['terminal_kinds'])}")
    capabilities = [*ics["terminal_kinds"][kind], *served_facilities(kind, ics)]
    return make_app(factory, capabilities, kind=kind, model=model, card_timeout=card_timeout, readers=readers,
                    profile=profile)


def served_facilities(kind: str, ics: dict) -> list[str]:
    """The harness facilities a served terminal of `kind` declares (`NEEDS`)."""
    own = ics["terminal_kinds"][kind]
    return [f for f in ics["harness_facilities"] if f not in NEEDS or NEEDS[f] in own]


def _bank_client(url: str):
    """What builds the POS's payment port, whatever the profile (a served bank keeps its own): the
    HTTP client of the bank at `url` (an http(s) URL
    naming a host, refused as a ValueError otherwise)."""
    from simulator.backend.bank_client import BankClient

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"--bank {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"--bank {url!r}: want the bank's base URL, http://HOST:PORT")
    return lambda profile: BankClient(url)


@app.command()
def serve(
    kind: Annotated[str | None, typer.Option(help="bus, gate_entry, gate_exit, scenic or pos")] = None,
    mutant: Annotated[str | None, typer.Option(help="serve this seeded-defect terminal instead")] = None,
    port: Annotated[int, typer.Option(help="TCP port of the control service")] = 8700,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    card_timeout: Annotated[float, typer.Option(help="seconds to wait for a card in the reader")] = CARD_TIMEOUT,
    reader: Annotated[list[str] | None, typer.Option(
        help="a PC/SC reader the terminal reads cards from (repeat for more; default: any of pcscd's)")] = None,
    bank: Annotated[str | None, typer.Option(
        help="the POS pays through the bank served at this URL (ykt bank serve); default: an in-memory one")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level")] = "info",
    region: Annotated[str | None, typer.Option(help="the regional profile the terminal follows "
                                                    "(its tariffs, card types, lists)")] = None,
) -> None:
    """Serve a reference terminal (or a mutant) over the terminal control protocol until Ctrl-C."""
    import uvicorn

    if kind is None and mutant is None:
        raise typer.BadParameter("give --kind (bus, gate_entry, gate_exit, scenic, pos) or --mutant NAME")
    try:
        served = reference_app(kind, mutant, card_timeout=card_timeout, readers=reader, bank=bank,
                               profile=build("national", region))
    except ValueError as exc:  # a ProfileError too
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"serving {served.title} on http://{host}:{port} (terminal control protocol, "
               "profiles/national/terminal_api.yaml)")
    uvicorn.run(served, host=host, port=port, log_level=log_level)


if __name__ == "__main__":
    app()
