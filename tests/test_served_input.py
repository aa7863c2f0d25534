"""Every operation the project serves answers bad input by the protocol (issue 11, point 4).

schemathesis generates requests from profiles/national/terminal_api.yaml, valid and not, for the
control service of every reference terminal kind (`ykt terminal serve`'s app, in-process over
ASGI) and for the harness's APDU relay (a live `CardRelay` on 127.0.0.1, serving a reference
card; its operations are the document's `cardRelay` callbacks), and runs all its checks on every
answer: no 5xx, a documented status with a body that fits its schema, malformed input refused
with 4xx, valid input not refused as malformed, a method the document does not list 405. The
fuzzed terminals have one reader, whose name no example hits, so no request waits for pcscd.

Then focused cases pin what the fuzz is weak at or found: the clock refusing NaN, huge and
negative moves (unchanged afterwards), JSON that Python parses and RFC 8259 does not, relay URLs
off this machine refused without connecting, and the relay's HTTP-level refusals.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from conformance.adapters.http import MAX_DEPTH, api_document, problems
from conformance.adapters.sim import REFERENCE_TERMINALS
from conformance.relay import MAX_BODY as RELAY_MAX_BODY
from conformance.relay import CardRelay
from conformance.service import MAX_BODY, make_app, reference_app
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.card.interface import EchoCard
from simulator.clock import AS_OF, START

#: the one reader of the fuzzed terminals (a name no generated example hits)
READER = "Fuzz Reader 00 00"
#: the largest clock move the protocol allows (ClockRequest.advance_seconds.maximum)
MAX_ADVANCE = api_document()["components"]["schemas"]["ClockRequest"]["properties"]["advance_seconds"]["maximum"]
#: a few dozen examples per operation keep the whole file well under a minute on two cores
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def relay_document() -> dict:
    """The relay's operations as a document of their own: the `cardRelay` callbacks, at paths
    relative to the relay's URL (the components stay, so every `$ref` still resolves)."""
    document = copy.deepcopy(api_document())
    callbacks = document["paths"]["/transactions"]["post"]["callbacks"]["cardRelay"]
    document["paths"] = {expression.removeprefix("{$request.body#/card/relay}"): item
                         for expression, item in callbacks.items()}
    return document


#: what the services answer malformed input: 400 (relay) or 422 (terminal) `invalid_request`, or 413
#: for a body past the limit (schemathesis' default would also take 5xx, and not take 413)
CHECKS = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [400, 413, 422]}}})
terminal_api = schemathesis.openapi.from_dict(copy.deepcopy(api_document()), config=CHECKS)
relay_api = schemathesis.openapi.from_dict(relay_document(), config=CHECKS)


@pytest.fixture(scope="module")
def terminals() -> dict[str, FastAPI]:
    return {kind: reference_app(kind, None, card_timeout=0.1, readers=(READER,)) for kind in REFERENCE_TERMINALS}


@pytest.fixture(scope="module")
def relay() -> Iterator[CardRelay]:
    with CardRelay(CardOS(personas.image("normal", as_of=AS_OF))) as served:
        yield served


@pytest.fixture(scope="module")
def loopback() -> Iterator[requests.Session]:
    """A session that ignores proxy settings: requests go to 127.0.0.1 itself, never anywhere else."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@terminal_api.parametrize()
@pytest.mark.parametrize("kind", list(REFERENCE_TERMINALS))
@FUZZ
def test_every_terminal_kind_answers_every_request_by_the_protocol(case, kind, terminals):
    case.call_and_validate(app=terminals[kind])


@relay_api.parametrize()
@FUZZ
def test_the_relay_answers_every_request_by_the_protocol(case, relay, loopback):
    if case.path == "/apdu":  # a powered card, so commands reach the card OS behind the relay
        assert loopback.post(relay.url + "/power", json={"action": "up"}).status_code == 200
    case.call_and_validate(base_url=relay.url, session=loopback)


# -- the terminal control service ------------------------------------------------------------


@pytest.fixture
def bus() -> Iterator[TestClient]:
    with TestClient(reference_app("bus", None, card_timeout=0.1, readers=(READER,))) as client:
        yield client


def refused(answer, status: int, code: str, *named: str) -> None:
    """Check an error answer: its status, the protocol's error body and code; the detail naming `named`."""
    body = answer.json()
    assert (answer.status_code, problems(body, "Error"), body["error"]) == (status, [], code), body
    for text in named:
        assert text in body["detail"], body


@pytest.mark.parametrize("seconds", ["NaN", "Infinity", "-Infinity", "1e999", "1e18", "1e308", "-1", "-0.001",
                                     str(MAX_ADVANCE + 1), str(10**400)])
def test_the_clock_refuses_a_move_outside_the_protocol_and_stays_put(bus, seconds):
    clock = bus.app.state.clock
    before = clock()
    answer = bus.post("/clock", content=f'{{"advance_seconds": {seconds}}}'.encode())
    refused(answer, 422, "invalid_request", "advance_seconds")
    assert clock() == before


def test_the_clock_takes_the_documented_bound_but_not_past_the_calendar(bus):
    clock = bus.app.state.clock
    ten_years = START + timedelta(seconds=MAX_ADVANCE)
    assert bus.post("/clock", json={"advance_seconds": MAX_ADVANCE}).json()["now"] == ten_years.isoformat()
    clock.now = datetime(9999, 1, 1)
    refused(bus.post("/clock", json={"advance_seconds": MAX_ADVANCE}), 422, "invalid_request",
            "advance_seconds", "9999-12-31")
    assert clock() == datetime(9999, 1, 1)


def test_a_terminal_without_clock_control_still_refuses_a_malformed_move_as_malformed():
    with TestClient(make_app(REFERENCE_TERMINALS["bus"], ["purse"], kind="bus", model="no clock")) as client:
        refused(client.post("/clock", json={"advance_seconds": -1}), 422, "invalid_request", "advance_seconds")
        refused(client.post("/clock", json={"advance_seconds": 1}), 501, "not_supported")


@pytest.mark.parametrize(("body", "named"), [
    (b'{"card": {"reader": "a", "reader": "b"}}', "repeated key"),
    (b'{"card": {"reader": "\\ud800"}}', "lone surrogate"),
    (b'{"card": ' * (MAX_DEPTH + 1) + b"{}" + b"}" * (MAX_DEPTH + 1), "deeper than"),
    (b"[" * 20_000 + b"]" * 20_000, "not JSON"),
    (b'{"card": {"reader": "A\\u0000B"}}', "card/reader"),
    (b'{"card": {"reader": "' + b"R" * 128 + b'"}}', "card/reader"),
    (b'{"card": {"relay": "http://127.0.0.1:65536/x"}}', "card/relay"),
    (b'{"card": {}}', "card"),
    (b'{"card": {"reader": "A"}, "extra": 1}', "extra"),
    (b"\xff\xfe\x00", "not JSON"),
])
def test_a_transaction_request_outside_the_protocol_is_refused_naming_the_problem(bus, body, named):
    refused(bus.post("/transactions", content=body), 422, "invalid_request", named)


def test_a_body_past_the_limit_is_refused_unread(bus):
    refused(bus.post("/transactions", content=b" " * (MAX_BODY + 1)), 413, "invalid_request", str(MAX_BODY))


@pytest.mark.parametrize("relay", ["http://192.0.2.1:8080/t", "https://example.com/t", "http://[2001:db8::1]/t",
                                   "http://0.0.0.0:8700/t", "http://127.1/t", "http://[b]/t", "http://127.0.0.1:1\n"])
def test_a_relay_off_this_machine_is_refused_without_connecting(bus, monkeypatch, relay):
    def connect(*args, **kwargs):
        raise AssertionError(f"the terminal connected out to {args}")

    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setattr(socket.socket, "connect", connect)
    refused(bus.post("/transactions", json={"card": {"relay": relay}}), 403, "relay_refused", "localhost")


def test_a_card_that_is_not_there_is_a_client_error_answered_at_once(bus):
    refused(bus.post("/transactions", json={"card": {"reader": "No Such Reader 00 00"}}), 404, "reader_not_found",
            "No Such Reader 00 00", READER)
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for host in ("127.0.0.1", "localhost", "[::1]"):
        refused(bus.post("/transactions", json={"card": {"relay": f"http://{host}:{port}/token"}}), 409, "no_card")
    with CardRelay(EchoCard()) as relay:  # a live relay, the wrong token: nothing is served there
        base = relay.url.rsplit("/", 1)[0]
        refused(bus.post("/transactions", json={"card": {"relay": base + "/0000"}}), 409, "no_card", "404")


def test_only_the_document_is_served(bus):
    for path in ("/docs", "/redoc"):
        refused(bus.get(path), 404, "not_found")
    answer = bus.put("/clock", json={"advance_seconds": 1})
    refused(answer, 405, "not_found")
    assert answer.headers["allow"] == "POST"


# -- the relay ---------------------------------------------------------------------------------


def raw_request(relay: CardRelay, head: bytes) -> tuple[int, dict]:
    """Send a request head to the relay as it is (headers no client would send); the answer's status
    and JSON body, read until the relay closes the connection (it must: the socket times out else)."""
    with socket.create_connection(("127.0.0.1", urlsplit(relay.url).port), timeout=5) as conn:
        conn.sendall(head + b"\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize(("head", "status"), [
    (b"POST {path} HTTP/1.1\r\nContent-Length: abc", 400),
    (b"POST {path} HTTP/1.1\r\nContent-Length: -1", 400),
    (b"POST {path} HTTP/1.1\r\nTransfer-Encoding: chunked", 400),
    (b"POST {path} HTTP/1.1\r\nContent-Length: " + str(RELAY_MAX_BODY + 1).encode(), 413),
    (b"DELETE {path} HTTP/1.1\r\nContent-Length: 0", 405),
    (b"POST {path} HTTP/1.1\r\nX-Long: " + b"x" * 70_000, 431),
])
def test_the_relay_refuses_a_malformed_request_with_a_json_error_and_closes(head, status):
    with CardRelay(EchoCard()) as relay:
        code, body = raw_request(relay, head.replace(b"{path}", f"{urlsplit(relay.url).path}/power".encode()))
        assert (code, problems(body, "Error")) == (status, []), body
        assert relay.requests == 0  # nothing reached the card
        # and the relay still serves the card to the next request
        assert httpx.post(relay.url + "/power", json={"action": "up"}).status_code == 200


def test_the_relay_answers_a_body_past_the_limit_and_the_client_can_go_on(loopback):
    """The answer must reach a client still sending (a close with its body unread would reset the
    connection), and tell it the connection closes (or its next request would go down it)."""
    with CardRelay(EchoCard()) as relay:
        for _ in range(5):
            answer = loopback.post(relay.url + "/apdu", data=b" " * (8 * RELAY_MAX_BODY))
            assert (answer.status_code, answer.headers["connection"]) == (413, "close"), answer.text
        assert loopback.post(relay.url + "/power", json={"action": "up"}).status_code == 200


@pytest.mark.parametrize(("operation", "body", "named"), [
    ("power", {"action": "up", "extra": 1}, "extra"),
    ("power", {"action": "UP"}, "action"),
    ("apdu", {"command": "00A4040"}, "command"),
    ("apdu", {"command": "00" * 65545}, "command"),
])
def test_the_relay_refuses_a_body_outside_the_protocol_naming_the_problem(operation, body, named):
    with CardRelay(EchoCard()) as relay:
        answer = httpx.post(f"{relay.url}/{operation}", json=body)
        refused(answer, 400, "invalid_request", named)
