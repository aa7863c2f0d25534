"""`http:<url>`: a terminal running as its own process, driven by the terminal control protocol
(or a department's system, when its `/info` says so: conformance/adapters/department.py).

The protocol is profiles/national/terminal_api.yaml (OpenAPI 3.1): `GET /info` (kind,
capabilities, vendor, model, firmware), `POST /transactions` (present a card, answer the
decision record), `POST /clock` (terminals declaring `clock_control`), `PUT /platform` and `PUT /bank`
(`platform_control`, `bank_control`: the harness serves the terminal the platform or bank it
plays, on this machine); a terminal declaring `ecode` is also shown
scanned e-codes by `POST /transactions` (`{"code": {"payload": HEX}}`); a POS declaring `vouchers` is
pointed at the voucher service the harness serves on loopback (`PUT /vouchers`), shown a card to pay
by a voucher with the PIN the harness types as the holder (`{"voucher": {"card": ..., "pin": ...}}`),
and says its merchant category on /info. This module holds the
document's checks (`problems`; `parse`, the door every request body of the served terminals and
the relay goes through), the protocol's client (`TerminalControl`, also used by the `vpcd:`
adapter) and the `http:` adapter: the card is served to the terminal by the harness's APDU relay
(conformance/relay.py), so the terminal needs no PC/SC reader, and every APDU it sends is
recorded on the card's side.

    --dut http://127.0.0.1:8700          (or http:127.0.0.1:8700, http:https://lab-host/terminal)
    --dut-info timeout=30                seconds a transaction may take (default 30)
    --dut-info relay_host=0.0.0.0        where the relay listens (default 127.0.0.1: same machine)
    --dut-info relay_advertise=10.0.0.5  the host name the terminal reaches the relay by (default:
                                         relay_host, or for 0.0.0.0 the address facing the terminal)
    --dut-info capabilities=a,b,c        declare instead of /info, checked as a declaration of its kind
                                         (`--ics FILE` is the declaration that certifies)

Errors are never verdicts about the device: an unreachable service is
`ServiceUnavailableError`, a timeout `LinkTimeoutError`, an error answer the `LinkError` its code
names (`no_card`, `card_removed`, ...) or `TerminalServiceError`, and an answer outside the
protocol (its body fails the document's schema) `TerminalServiceError` too: all *broken*.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from conformance.adapters import department, documents, platform_relay
from conformance.adapters.documents import where as _where
from conformance.dut import DUT, Presentation, RecordingCard
from conformance.ics import check
from simulator.backend import bank_service, voucher_service
from simulator.backend.ledger import Ledger
from simulator.backend.loopback import serving
from simulator.backend.ports import CardPaymentPort, PlatformPort, VoucherPort
from simulator.card.interface import Card
from simulator.profile import PROFILE_ROOT, Profile
from simulator.transport.errors import (
    CardRemovedError,
    LinkError,
    LinkTimeoutError,
    NoCardError,
    ReaderNotFoundError,
    ServiceUnavailableError,
)

API_PATH = PROFILE_ROOT / "national" / "terminal_api.yaml"

#: seconds a transaction may take by default (the terminal waits for the card, then transacts)
DEFAULT_TIMEOUT = 30.0


class TerminalServiceError(LinkError):
    """The terminal's control service failed, or answered outside the protocol (verdict *broken*)."""


class RelayRefusedError(LinkError):
    """The terminal will not connect to the relay a transaction request names (not on its machine)."""


#: error code of the protocol -> (HTTP status the terminal answers, LinkError the harness raises).
#: 4xx: the request names a card the terminal may not reach (403), a reader it does not have (404),
#: or a reader or relay with no card in it (409); 5xx: the link failed.
ERRORS: dict[str, tuple[int, type[LinkError]]] = {
    "relay_refused": (403, RelayRefusedError),
    "reader_not_found": (404, LinkError),
    "no_card": (409, NoCardError),
    "card_removed": (502, CardRemovedError),
    "link": (502, LinkError),
    "service_unavailable": (503, ServiceUnavailableError),
    "link_timeout": (504, LinkTimeoutError),
}


def error_code(exc: LinkError) -> str:
    """The protocol's error code for a link failure on the terminal's side (most specific class first)."""
    for cls, code in ((RelayRefusedError, "relay_refused"), (ReaderNotFoundError, "reader_not_found"),
                      (NoCardError, "no_card"), (CardRemovedError, "card_removed"),
                      (ServiceUnavailableError, "service_unavailable"), (LinkTimeoutError, "link_timeout")):
        if isinstance(exc, cls):
            return code
    return "link"


# -- the protocol document -------------------------------------------------------------------


def api_document() -> dict:
    """profiles/national/terminal_api.yaml, parsed."""
    return documents.document(API_PATH)


def problems(value: object, schema: str) -> list[str]:
    """What is wrong with `value` as the protocol's `schema` (components/schemas), one line each."""
    return documents.problems(API_PATH, value, schema)


#: how deep a request body may nest (the protocol's bodies nest two levels)
MAX_DEPTH = 8


class InvalidRequest(ValueError):
    """A request body that is not a document of the protocol; the message names what is wrong."""


def parse(raw: bytes, schema: str) -> dict:
    """The request body `raw` as the protocol's `schema`, or `InvalidRequest` naming every problem.

    Stricter than Python's `json`, as RFC 8259 is: no NaN or Infinity (nor numbers too large for a
    double), no lone surrogates, no repeated keys; and no deeper than `MAX_DEPTH`. JSON Schema lets
    NaN through every `minimum`/`maximum`, so these are checked here, for every field at once.
    """
    try:
        document = json.loads(raw, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's stack
        raise InvalidRequest(f"the body is not JSON: {_short(str(exc) or type(exc).__name__)}") from None
    wrong = _not_json_values(document) or problems(document, schema)
    if wrong:
        raise InvalidRequest(f"not a {schema} of terminal_api.yaml: " + "; ".join(map(_short, wrong[:5])))
    return document


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"repeated key(s) {', '.join(map(repr, repeated))}")
    return dict(pairs)


def _not_json_values(document: object) -> list[str]:
    """Values Python's parser accepts and RFC 8259 does not, walked without recursion."""
    wrong, todo = [], [((), document)]
    while todo:
        path, value = todo.pop()
        if len(path) > MAX_DEPTH:
            return [f"at {_where(path)}: nested deeper than {MAX_DEPTH} levels"]
        if isinstance(value, float) and not math.isfinite(value):
            wrong.append(f"at {_where(path)}: {value} is not a JSON number (RFC 8259: finite numbers only)")
        elif isinstance(value, dict):
            todo.extend(((*path, key), item) for key, item in value.items())
            wrong.extend(f"at {_where(path)}: key {key!r} is not Unicode text" for key in value if _surrogates(key))
        elif isinstance(value, list):
            todo.extend(((*path, index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and _surrogates(value):
            wrong.append(f"at {_where(path)}: {value!r} is not Unicode text (a lone surrogate)")
    return sorted(wrong)


def _surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


# -- the client ------------------------------------------------------------------------------


#: the department a served terminal signs its platform requests as, when the harness plays the platform
HARNESS_DEPARTMENT = {"department_id": "harness-terminals", "secret": "00" * 32}


class TerminalControl:
    """A client of one terminal's control service at `url`."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the terminal's control URL must start with http:// or https://, got {url!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"<TerminalControl {self.url}>"

    def _call(self, method: str, path: str, body: dict | None, answer_schema: str) -> dict:
        where = f"{method} {self.url}{path}"
        try:
            answer = self._client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise LinkTimeoutError(f"{where}: the terminal did not answer within {self.timeout} s "
                                   "(raise it with --dut-info timeout=SECONDS)") from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServiceUnavailableError(f"{where}: the terminal's control service is not reachable ({exc}); "
                                          "is it running (e.g. `ykt terminal serve`)?") from exc
        except httpx.HTTPError as exc:
            raise TerminalServiceError(f"{where}: {type(exc).__name__}: {exc}") from exc
        try:
            document = answer.json()
        except ValueError:
            document = None
        if answer.status_code != 200:
            code, detail = "", answer.text[:300]
            if isinstance(document, dict) and not problems(document, "Error"):
                code, detail = document["error"], document["detail"]
            cls = ERRORS.get(code, (0, TerminalServiceError))[1]
            raise cls(f"{where}: HTTP {answer.status_code} {code or answer.reason_phrase}: {detail}")
        if document is None:
            raise TerminalServiceError(f"{where}: the answer is not JSON: {answer.text[:300]!r}")
        wrong = problems(document, answer_schema)
        if wrong:
            raise TerminalServiceError(f"{where}: the answer is not a {answer_schema} of terminal_api.yaml: "
                                       + "; ".join(wrong[:5]))
        return document

    def info(self) -> dict:
        return self._call("GET", "/info", None, "Info")

    def transaction(self, card: dict) -> dict:
        """Present a card (`{"reader": name}` or `{"relay": url}`); the decision record."""
        return self._call("POST", "/transactions", {"card": card}, "Decision")

    def scan(self, payload: bytes) -> dict:
        """Show the terminal a scanned e-code; the decision record."""
        return self._call("POST", "/transactions", {"code": {"payload": payload.hex().upper()}}, "Decision")

    def advance(self, seconds: float) -> dict:
        return self._call("POST", "/clock", {"advance_seconds": seconds}, "ClockState")

    def link_platform(self, url: str | None) -> dict:
        """Point the terminal at the platform at `url` (None: no platform), signed as the harness's department."""
        return self._call("PUT", "/platform", {"url": url, **HARNESS_DEPARTMENT}, "PlatformState")

    def link_bank(self, url: str | None) -> dict:
        """Point the POS at the bank at `url` (None: its own bank)."""
        return self._call("PUT", "/bank", {"url": url}, "BankState")

    def link_vouchers(self, url: str | None) -> dict:
        """Point the POS at the voucher service at `url` (None: none)."""
        return self._call("PUT", "/vouchers", {"url": url}, "VouchersState")

    def redeem(self, card: dict, pin: str | None) -> dict:
        """Present a card (as `transaction`) to pay by a voucher, the holder typing `pin`; the decision record."""
        return self._call("POST", "/transactions", {"voucher": {"card": card, "pin": pin}}, "Decision")

    def close(self) -> None:
        self._client.close()


# -- the terminal role ----------------------------------------------------------------------


class ServedTerminal:
    """What the `http:` and `vpcd:` terminal roles share: identity, capabilities, the clock."""

    def __init__(self, control: TerminalControl, info: dict, *, capabilities: frozenset[str] | None = None) -> None:
        self.control = control
        self.kind = info["kind"]
        self.name = info["kind"]
        self.capabilities = capabilities if capabilities is not None else frozenset(info["capabilities"])
        self.device = info
        self._served: dict[str, ExitStack] = {}  # facility -> what the harness serves the terminal while linked

    def identity(self) -> dict:
        """What the terminal answered on /info."""
        return {"name": self.name, "url": self.control.url, "info": self.device}

    def advance(self, seconds: float) -> datetime:
        if "clock_control" not in self.capabilities:
            raise TerminalServiceError(f"{self.control.url} does not declare clock_control: its clock cannot be moved")
        now = self.control.advance(seconds)["now"]
        try:
            return datetime.fromisoformat(now)
        except ValueError:
            raise TerminalServiceError(f"{self.control.url}: POST /clock answered now={now!r}, not ISO 8601") from None

    def present_code(self, payload: bytes) -> Presentation:
        """A scanned e-code, over the control protocol whatever way the terminal reaches cards."""
        return Presentation(self.control.scan(payload))

    def connect_platform(self, port: PlatformPort | None) -> None:
        """Point the terminal at `port` (None: no platform), served by the harness over HTTP on this
        machine for as long as the link lasts (terminals declaring `platform_control`)."""
        self._serve_to_terminal("platform_control", None if port is None else platform_relay.make_app(port),
                                self.control.link_platform)

    def connect_bank(self, port: CardPaymentPort | None) -> None:
        """Point the POS at `port` (None: its own bank again), served by the harness over HTTP on this
        machine with the bank's own API (bank_api.yaml) for as long as the link lasts (`bank_control`).
        The POS uses only the card payments: the bank's other operations answer from empty books."""
        app = None if port is None else bank_service.make_app(Ledger(), payments=port)
        self._serve_to_terminal("bank_control", app, self.control.link_bank)

    def _serve_to_terminal(self, facility: str, app, link: Callable[[str | None], dict]) -> None:
        """Serve `app` (None: nothing) on this machine and `link` the terminal to its URL (to None), for
        as long as the link lasts: the service served for `facility` before is stopped once the
        terminal has let go of it."""
        if facility not in self.capabilities:
            raise TerminalServiceError(f"{self.control.url} does not declare {facility}: it cannot be pointed at "
                                       "the harness's " + facility.removesuffix("_control"))
        served = ExitStack()
        url = None if app is None else served.enter_context(serving(app))
        try:
            link(url)
        except BaseException:
            served.close()
            raise
        self._served.pop(facility, ExitStack()).close()
        self._served[facility] = served

    def close(self) -> None:
        for served in self._served.values():
            served.close()
        self.control.close()


class HttpTerminal(ServedTerminal):
    """A terminal that reaches the card through the harness's HTTP relay."""

    def __init__(self, control: TerminalControl, info: dict, *, capabilities: frozenset[str] | None = None,
                 relay_host: str = "127.0.0.1", relay_advertise: str | None = None) -> None:
        super().__init__(control, info, capabilities=capabilities)
        self.relay_host = relay_host
        self.relay_advertise = relay_advertise

    def present(self, card: Card) -> Presentation:
        return self._relayed(card, self.control.transaction)

    def _relayed(self, card: Card, send: Callable[[dict], dict]) -> Presentation:
        """`send` the terminal a request naming `card`, served by the harness's relay; the card's side recorded."""
        from conformance.relay import CardRelay

        recorder = RecordingCard(card)
        with CardRelay(recorder, host=self.relay_host, advertise=self.relay_advertise) as relay:
            decision = send({"relay": relay.url})
        if relay.errors:
            raise LinkError(f"the harness's card failed behind the relay: {'; '.join(relay.errors)}")
        return recorder.presentation(decision)

    # -- consumption vouchers (terminals declaring `vouchers`) -----------------------------------
    @property
    def merchant_category(self) -> str:
        """The merchant category (ISO 18245) the POS declares on /info."""
        category = self.device.get("merchant_category")
        if category is None:
            raise TerminalServiceError(f"{self.control.url} declares no merchant_category on /info: which of a "
                                       "card's vouchers it may redeem cannot be judged")
        return category

    def connect_vouchers(self, port: VoucherPort) -> None:
        """Point the POS at `port`, served by the harness over HTTP on this machine for as long as
        the link lasts (PUT /vouchers)."""
        self._serve_to_terminal("vouchers", voucher_service.make_app(port), self.control.link_vouchers)

    def redeem_voucher(self, card: Card, *, pin: str | None) -> Presentation:
        """The card pays by a voucher at the POS; `pin` is what the holder types (None: nothing)."""
        return self._relayed(card, lambda where: self.control.redeem(where, pin))


# -- building the DUT ------------------------------------------------------------------------


def control_url(rest: str) -> str:
    """The URL of `http:<rest>`: `//host:port` (from `http://host:port`), a full URL, or `host:port`."""
    if rest.startswith("//"):
        url = "http:" + rest
    elif rest.startswith(("http://", "https://")):
        url = rest
    else:
        url = "http://" + rest
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"http: needs the terminal's URL, e.g. --dut http://127.0.0.1:8700; got 'http:{rest}'")
    return url


def timeout_of(info: dict[str, str]) -> float:
    text = info.get("timeout", str(DEFAULT_TIMEOUT))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"--dut-info timeout takes seconds > 0, got {text!r}")
    return value


def declared(control: TerminalControl, info: dict[str, str], profile: Profile) -> tuple[dict, frozenset[str] | None]:
    """The terminal's /info, and the capabilities `--dut-info capabilities=...` declares instead (or
    None), as the run's `profile` lets its kind declare them."""
    device = control.info()
    if "kind" in info and info["kind"] != device["kind"]:
        raise ValueError(f"--dut-info kind={info['kind']} but the terminal at {control.url} says it is a "
                         f"{device['kind']}")
    override = None
    if "capabilities" in info:
        declared = {c.strip() for c in info["capabilities"].split(",") if c.strip()}
        harness = declared & set(profile["ics"]["harness_facilities"])
        override = check(declared - harness, device["kind"], where=f"--dut-info capabilities={info['capabilities']}",
                         ics=profile["ics"])
        override |= harness
    return device, override


def dut_of(terminal: ServedTerminal, info: dict[str, str], where: str) -> DUT:
    device = terminal.device
    name = f"{device['vendor']} {device['model']} ({device['kind']}, firmware {device['firmware']}) at {where}"
    facts = {"dut_name": name, "kind": device["kind"], "capabilities": ",".join(sorted(terminal.capabilities))}
    facts.update({k: device[k] for k in ("vendor", "model", "firmware") if k not in info})
    return DUT(name=name, terminals={terminal.name: terminal}, info=facts)


def _facing(host: str) -> str:
    """The local address the route to `host` leaves from (no packet is sent)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((host, 9))
        return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()
    finally:
        probe.close()


def make(rest: str, *, info: dict[str, str], profile: Profile) -> DUT:
    """The terminal or department served at the URL `rest`, certified against `profile`."""
    url = control_url(rest)
    served = department.department_info(url, timeout=timeout_of(info))
    if served is not None:
        return department.make(url, served, settings=info, timeout=timeout_of(info), profile=profile)
    control = TerminalControl(url, timeout=timeout_of(info))
    try:
        device, capabilities = declared(control, info, profile)
    except BaseException:
        control.close()
        raise
    relay_host = info.get("relay_host", "127.0.0.1")
    advertise = info.get("relay_advertise")
    if advertise is None and relay_host in ("0.0.0.0", "::"):
        target = urlsplit(url).hostname or "127.0.0.1"
        advertise = _facing(target)
    terminal = HttpTerminal(control, device, capabilities=capabilities, relay_host=relay_host,
                            relay_advertise=advertise)
    return dut_of(terminal, info, url)
