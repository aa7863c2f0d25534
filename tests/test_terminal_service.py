"""A terminal running as a separate process, certified over the terminal control protocol.

The protocol (profiles/national/terminal_api.yaml) is checked as a document and against what
`conformance.service` serves; the APDU relay and its client are checked for every way a card can
leave; then the reference bus validator is started as its own process (`python -m
conformance.service serve`, i.e. `ykt terminal serve`) and certified through `http:` (the card
relayed over HTTP) and `vpcd:` (the card in the terminal's PC/SC reader): a normal card is
charged the flat fare, a torn debit is recovered without double charge, and the terminal suite
passes the reference and fails a mutant, run by pytest in yet another process. Last, terminals
with defects of the kinds only the card's side shows (money a record claims, personal data in a
record, a wall-clock stall) are served in-process and certified through `http:`: each fails its
clause, and a holder's data a terminal records never reaches a file of the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import jsonschema
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conformance.adapters import http as http_adapter
from conformance.adapters import vpcd as vpcd_adapter
from conformance.adapters.http import api_document, problems
from conformance.adapters.sim import REFERENCE_TERMINALS
from conformance.adapters.sim import make as make_sim
from conformance.dut import make_dut
from conformance.relay import CardRelay
from conformance.service import app as service_cli
from conformance.service import make_app, reference_app, served_facilities
from simulator.backend.loopback import free_port
from simulator.card import personas
from simulator.card.apps import epurse
from simulator.card.cardos import CardOS
from simulator.card.interface import EchoCard
from simulator.clock import AS_OF, Clock
from simulator.faults import FaultPlan, PowerLost
from simulator.profile import load, national
from simulator.transport import CardRemovedError, LinkTimeoutError, NoCardError, ServiceUnavailableError
from simulator.transport.relay import RelayTransport

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suites" / "terminal"
FLAT_FARE = load("national/terminals", "terminals")["bus"]["flat_fare"]
#: decision fields that must be the same whichever way the terminal met the card
SAME = ("terminal", "reason", "accepted", "amount", "fare", "debited", "loaded", "balance_after", "card", "detail")


def card(persona: str = "normal", plan: FaultPlan | None = None) -> CardOS:
    return CardOS(personas.image(persona, as_of=AS_OF), faults=plan)


def balance(c: CardOS) -> int:
    app = next(a for a in c.image.applications.values() if a.kind == "epurse")
    return int.from_bytes(c.nvm[epurse.balance_key(app.path)], "big", signed=True)


# -- the protocol document ---------------------------------------------------------------------


def deref(node: dict) -> dict:
    """Follow a local `$ref` of the document (responses and schemas)."""
    while isinstance(node, dict) and "$ref" in node:
        target: object = api_document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]  # type: ignore[index]
        node = target  # type: ignore[assignment]
    return node


def refs(node: object) -> Iterator[str]:
    """Every `$ref` in a part of the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def schema_name(operation: dict, status: int) -> str:
    """The components/schemas name of an operation's JSON answer for `status`."""
    response = deref(operation["responses"][str(status)])
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def operation(path: str, method: str = "post") -> dict:
    paths = api_document()["paths"]
    if path in paths:
        return paths[path][method]
    callbacks = paths["/transactions"]["post"]["callbacks"]["cardRelay"]
    return callbacks["{$request.body#/card/relay}" + path][method]


def conforms(answer: httpx.Response, path: str, method: str = "post") -> dict:
    """Check an answer against the document: its status is documented and its body fits."""
    op = operation(path, method)
    assert str(answer.status_code) in op["responses"], f"{method.upper()} {path}: undocumented {answer.status_code}"
    body = answer.json()
    wrong = problems(body, schema_name(op, answer.status_code))
    assert not wrong, f"{method.upper()} {path} {answer.status_code}: {wrong}"
    return body


def test_the_document_is_a_valid_openapi_31_document():
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator (test extra)")
    validator.validate(api_document())


def test_the_document_is_consistent_with_the_profile():
    document = api_document()
    assert document["openapi"].startswith("3.1") and document["x-source"] == "modelled"
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for ref in refs(document):
        assert deref({"$ref": ref}), f"{ref} names nothing"
    ics = load("national/ics", "ics")
    kinds = document["components"]["schemas"]["Kind"]["enum"]
    assert kinds == list(ics["terminal_kinds"]), "Kind must list exactly ics.yaml's terminal kinds"
    codes = set(document["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    assert set(http_adapter.ERRORS) <= codes
    decision = make_sim("terminals=bus", info={}, profile=national()).terminals["bus"].present(card()).decision
    assert sorted(document["components"]["schemas"]["Decision"]["required"]) == sorted(decision)
    assert problems(decision, "Decision") == []


# -- the served API against the document (in-process) ------------------------------------------


@contextmanager
def in_thread(app) -> Iterator[httpx.Client]:
    """Serve `app` with uvicorn from a thread of this process; a client of it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}", timeout=30) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def client():
    with in_thread(reference_app("bus", None, card_timeout=0.5)) as c:
        yield c


def test_the_served_api_follows_the_document(client):
    info = conforms(client.get("/info"), "/info", "get")
    assert info["kind"] == "bus" and "clock_control" in info["capabilities"]
    assert conforms(client.post("/clock", json={"advance_seconds": 60}), "/clock")["now"] == "2026-11-23T08:01:00"
    for bad in ({"advance_seconds": "soon"}, {"seconds": 1}):
        assert conforms(client.post("/clock", json=bad), "/clock")["error"] == "invalid_request"
    for bad in ({}, {"card": {}}, {"card": {"relay": "ftp://x"}}, {"card": {"reader": "A", "relay": "http://x"}}):
        assert conforms(client.post("/transactions", json=bad), "/transactions")["error"] == "invalid_request"
    answer = client.post("/transactions", content=b"not json", headers={"content-type": "application/json"})
    assert conforms(answer, "/transactions")["error"] == "invalid_request"
    assert client.get("/nowhere").json()["error"] == "not_found"
    assert client.get("/openapi.json").json() == api_document()  # the profile's document is the contract

    c = card()
    start = balance(c)
    with CardRelay(c) as relay:
        decision = conforms(client.post("/transactions", json={"card": {"relay": relay.url}}), "/transactions")
    assert (decision["reason"], decision["debited"], balance(c)) == ("OK", FLAT_FARE, start - FLAT_FARE)
    # a relay that is gone: the terminal cannot reach the card, an error answer, not a decision
    gone = client.post("/transactions", json={"card": {"relay": relay.url}})
    assert conforms(gone, "/transactions")["error"] == "no_card" and gone.status_code == 409


def test_a_reader_that_never_gets_a_card_is_a_documented_error(client):
    answer = client.post("/transactions", json={"card": {"reader": "No Such Reader 00 00"}})
    body = conforms(answer, "/transactions")
    assert body["error"] in ("reader_not_found", "service_unavailable", "link_timeout"), body


def test_clock_is_not_supported_without_clock_control():
    app = make_app(REFERENCE_TERMINALS["bus"], ["purse"], kind="bus", model="no clock")
    with in_thread(app) as c:
        answer = c.post("/clock", json={"advance_seconds": 1})
    assert answer.status_code == 501 and conforms(answer, "/clock")["error"] == "not_supported"


# -- the relay and its client -----------------------------------------------------------------


class SlowCard(EchoCard):
    def transmit(self, apdu: bytes) -> bytes:
        time.sleep(0.5)
        return super().transmit(apdu)


class TearingCard(EchoCard):
    """Torn away at its second command."""

    def __init__(self) -> None:
        self.commands = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.commands += 1
        if self.commands == 2:
            raise PowerLost("test.tear", 0)
        return super().transmit(apdu)


def test_relay_answers_follow_the_document_and_a_tear_is_gone_for_good():
    c = TearingCard()
    with CardRelay(c) as relay, httpx.Client(base_url=relay.url) as h:
        assert conforms(h.post("/apdu", json={"command": "00A4040000"}), "/apdu")["error"] == "invalid_request"
        assert conforms(h.post("/power", json={"action": "up"}), "/power")["atr"] == c.atr.hex().upper()
        assert conforms(h.post("/power", json={"action": "sideways"}), "/power")["error"] == "invalid_request"
        assert conforms(h.post("/apdu", json={"command": "zz"}), "/apdu")["error"] == "invalid_request"
        assert conforms(h.post("/apdu", json={"command": "00A4040000"}), "/apdu")["response"] == "9000"
        assert conforms(h.post("/apdu", json={"command": "00A4040000"}), "/apdu")["error"] == "card_gone"
        assert relay.tear is not None
        assert conforms(h.post("/power", json={"action": "up"}), "/power")["error"] == "card_gone"
        assert h.post("/nowhere", json={}).status_code == 404
        assert httpx.post(relay.url.rsplit("/", 1)[0] + "/0000/power", json={"action": "up"}).status_code == 404
    assert c.commands == 2  # nothing reached the card after the tear
    with pytest.raises(httpx.HTTPError):
        httpx.post(relay.url + "/power", json={"action": "up"}, timeout=1)


def test_relay_transport_maps_every_way_the_card_leaves():
    plan = FaultPlan()
    c = card(plan=plan)
    terminal = REFERENCE_TERMINALS["bus"](clock=Clock(), blacklist=frozenset())
    with CardRelay(c) as relay:
        transport = RelayTransport(relay.url)
        assert transport.connect() == c.image.atr
        transport.disconnect()
        plan.arm(at=0, point="nvm.clear")
        decision = terminal.present(transport)  # the debit tears: 410, the terminal's own RETAP
        assert decision.reason == "RETAP" and "left the field" in decision.detail, decision
        assert not transport.connected
        with pytest.raises(CardRemovedError, match="410"):
            transport.connect()  # torn: the card is gone for the rest of the presentation
        transport.close()
    with pytest.raises(NoCardError, match="power-up"):
        RelayTransport(relay.url).connect()  # the presentation is over: nobody serves the card
    with CardRelay(SlowCard()) as relay:
        transport = RelayTransport(relay.url, timeout=0.1)
        transport.connect()
        with pytest.raises(LinkTimeoutError):
            transport.transmit(bytes.fromhex("00A4040000"))
        transport.close()
    with pytest.raises(ValueError, match="http"):
        RelayTransport("ftp://example")


def test_adapters_report_an_unreachable_or_foreign_terminal_as_a_link_failure():
    with pytest.raises(ServiceUnavailableError, match="not reachable"):
        make_dut(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ValueError, match="--dut-info control="):
        make_dut("vpcd:127.0.0.1:35963")
    with pytest.raises(ValueError, match="port"):
        make_dut("vpcd:127.0.0.1:notaport", info={"control": "http://127.0.0.1:1"})
    assert vpcd_adapter.slot("localhost") == ("localhost", 35963)
    assert vpcd_adapter.slot("[::1]:35964") == ("::1", 35964)
    assert http_adapter.control_url("//h:1") == "http://h:1" == http_adapter.control_url("h:1")

    # a server that is not a terminal: its answers do not follow the protocol
    with CardRelay(EchoCard()) as relay:
        base = relay.url.rsplit("/", 1)[0]
        with pytest.raises(http_adapter.TerminalServiceError, match="HTTP 405"):
            make_dut(base)


def test_http_adapter_turns_every_error_answer_into_a_link_failure():
    fake = FastAPI()
    answers = iter([
        JSONResponse({"error": "link_timeout", "detail": "no card within 5 s"}, status_code=504),
        JSONResponse({"error": "no_card", "detail": "the card went"}, status_code=502),
        JSONResponse({"error": "terminal_fault", "detail": "KeyError: 'x'"}, status_code=500),
        JSONResponse({"reason": "OK"}),  # not a decision record
        PlainTextResponse("oops", status_code=500),
    ])

    @fake.get("/info")
    def info() -> dict:
        return {"kind": "bus", "capabilities": ["purse"], "vendor": "v", "model": "m", "firmware": "1"}

    @fake.post("/transactions")
    def transactions(body: dict):
        return next(answers)

    with in_thread(fake) as c:
        url = str(c.base_url)
        with pytest.raises(ValueError, match="says it is a bus"):
            make_dut(url, info={"kind": "scenic"})
        with pytest.raises(ValueError, match="a bus must declare validity, recovery"):  # short of its kind's
            make_dut(url, info={"capabilities": "purse,blacklist"})
        declared = "purse,blacklist,validity,recovery,timing,minimisation"
        dut = make_dut(url, info={"capabilities": declared, "vendor": "Acme"})
        try:
            bus = dut.terminals["bus"]
            assert bus.capabilities == set(declared.split(",")) and dut.info["vendor"] == "Acme"
            for expected_error, text in ((LinkTimeoutError, "504 link_timeout"), (NoCardError, "502 no_card"),
                                         (http_adapter.TerminalServiceError, "500 terminal_fault"),
                                         (http_adapter.TerminalServiceError, "not a Decision"),
                                         (http_adapter.TerminalServiceError, "oops")):
                with pytest.raises(expected_error, match=text):
                    bus.present(card())
            with pytest.raises(http_adapter.TerminalServiceError, match="clock_control"):
                bus.advance(1)
        finally:
            dut.close()


# -- the reference bus validator as a separate process -----------------------------------------


class Served:
    """A terminal control service in its own process (`python -m conformance.service serve ...`)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([*args, "--port", str(self.port), "--log-level", "warning"],
                                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the served terminal exited ({self.process.returncode}): {log.read_text()}")
            try:
                self.info = httpx.get(self.url + "/info", timeout=1).json()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the served terminal did not answer within 30 s: {log.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down cleanly), SIGKILL if that did not work in 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the served terminal ignored SIGTERM: {self.log.read_text()}") from None


def serve(*options: str, log: Path) -> Served:
    return Served([sys.executable, "-m", "conformance.service", "serve", *options], log)


@pytest.fixture(scope="module")
def served_bus(tmp_path_factory):
    served = serve("--kind", "bus", log=tmp_path_factory.mktemp("served") / "bus.log")
    yield served
    served.stop()


def expected(persona: str = "normal") -> tuple[dict, list[int]]:
    """The in-process reference bus validator's decision and the INS of its APDUs."""
    presentation = make_sim("terminals=bus", info={}, profile=national()).terminals["bus"].present(card(persona))
    return presentation.decision, [x.command[1] for x in presentation.trace]


def check_normal_charge(dut) -> None:
    c = card()
    start = balance(c)
    presentation = dut.terminals["bus"].present(c)
    decision, ins = expected()
    assert {k: presentation.decision[k] for k in SAME} == {k: decision[k] for k in SAME}, presentation.decision
    assert presentation.decision["debited"] == FLAT_FARE and balance(c) == start - FLAT_FARE
    assert set(presentation.decision["evidence"]) == set(decision["evidence"])
    assert [x.command[1] for x in presentation.trace] == ins  # recorded on the card's side
    assert len(presentation.timeline) == len(presentation.trace)  # timed on the card's side too


def test_http_served_bus_charges_a_normal_card_the_flat_fare(served_bus):
    assert served_bus.info["kind"] == "bus"
    dut = make_dut(served_bus.url)
    try:
        assert dut.terminals["bus"].capabilities >= {"purse", "clock_control"}
        assert dut.info["vendor"] == "yikatong"
        check_normal_charge(dut)
    finally:
        dut.close()


def test_http_served_bus_recovers_a_torn_debit_without_double_charge(served_bus):
    dut = make_dut(served_bus.url)
    try:
        check_torn_debit(dut)
    finally:
        dut.close()


def check_torn_debit(dut) -> None:
    plan = FaultPlan()
    c = card(plan=plan)
    start = balance(c)
    plan.arm(at=0, point="nvm.clear")
    bus = dut.terminals["bus"]
    first = bus.present(c)
    assert first.decision["reason"] == "RETAP" and first.decision["debited"] == 0, first.decision
    bus.advance(15)
    second = bus.present(c)
    assert second.decision["reason"] == "RECOVERED", second.decision
    charged = first.decision["debited"] + second.decision["debited"]
    assert charged == FLAT_FARE == start - balance(c), (first.decision, second.decision)


@pytest.mark.pcsc
@pytest.mark.timeout(60)
def test_vpcd_served_bus_charges_a_normal_card_the_flat_fare(pcscd, served_bus):
    dut = make_dut(f"vpcd:127.0.0.1:{pcscd.slot_port(0)}", info={"control": served_bus.url, "reader": pcscd.reader(0)})
    try:
        check_normal_charge(dut)
    finally:
        dut.close()


@pytest.mark.pcsc
@pytest.mark.timeout(60)
def test_vpcd_served_bus_recovers_a_torn_debit_without_double_charge(pcscd, served_bus):
    dut = make_dut(f"vpcd:127.0.0.1:{pcscd.slot_port(0)}", info={"control": served_bus.url})
    try:
        check_torn_debit(dut)
    finally:
        dut.close()


# -- the terminal suite against the separate process --------------------------------------------


def bus_mutant() -> str:
    """A bus validator mutant of conformance/mutants (a torn-debit one first: the tear crosses processes)."""
    from conformance.mutants import all_mutants

    names = sorted(n for n, m in all_mutants().items() if m.role == "terminal" and m.kind == "bus")
    assert names, "conformance/mutants has no bus validator mutant"
    return next((n for word in ("torn", "blacklist") for n in names if word in n), names[0])


def run_suite(tmp_path: Path, targets: list[str], dut: list[str], tag: str) -> list[dict]:
    """Run the terminal suite (or some of its tests) in a pytest subprocess; its verdicts."""
    results = tmp_path / f"{tag}.json"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *targets, *dut, "--yikatong-results", str(results),
         "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    verdicts = json.loads(results.read_text()) if results.exists() else []
    counts = {v: sum(1 for x in verdicts if x["verdict"] == v) for v in sorted({x["verdict"] for x in verdicts})}
    print(f"{tag}: {len(verdicts)} verdicts in {time.perf_counter() - started:.1f} s {counts}")
    assert verdicts, f"the suite run wrote no verdicts:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return verdicts


@pytest.fixture(scope="module")
def mutant_catch(tmp_path_factory) -> tuple[str, list[str]]:
    """A bus mutant and the suite's tests that fail it in-process (`sim:mutant=NAME`), as node ids
    for a DUT whose terminal is named `bus` (as the served one is)."""
    name = bus_mutant()
    verdicts = run_suite(tmp_path_factory.mktemp("sim"), [str(SUITE)], ["--dut", f"sim:mutant={name}"], "sim-mutant")
    caught = []
    for v in verdicts:
        if v["verdict"] == "fail":
            test, _, params = v["nodeid"].partition("[")
            caught.append(f"{test}[{'-'.join('bus' if p == name else p for p in params.rstrip(']').split('-'))}]")
    assert caught, f"the terminal suite does not catch {name} even in-process"
    return name, caught


def assert_reference_passes(verdicts: list[dict]) -> None:
    bad = [v for v in verdicts if v["verdict"] not in ("pass", "not_applicable")]
    assert not bad, "the served reference bus validator must pass:\n" + "\n".join(
        f"{v['verdict']} {v['nodeid']} [{v['clause']}]: {v['message']}" for v in bad)
    assert any(v["verdict"] == "pass" for v in verdicts)


def assert_mutant_caught(verdicts: list[dict], name: str, caught: list[str], how: str) -> None:
    """Every test that fails the mutant in-process fails it in its own process too (fail, not broken)."""
    by_id = {v["nodeid"]: v for v in verdicts}
    missed = [(test, by_id.get(test, {}).get("verdict", "not run")) for test in caught
              if by_id.get(test, {}).get("verdict") != "fail"]
    clauses = sorted({by_id[t]["clause"] for t in caught if t in by_id})
    print(f"served mutant {name} through {how}: caught by {clauses}; mutation score {0 if missed else 1}/1")
    assert not missed, f"mutant {name} through {how} was not failed as in-process: {missed}"


@pytest.mark.timeout(300)
def test_terminal_suite_through_http_passes_the_served_reference_and_fails_a_served_mutant(mutant_catch, tmp_path):
    name, caught = mutant_catch
    reference = serve("--kind", "bus", log=tmp_path / "bus.log")  # fresh: clock, journal and PSAM as in sim
    try:
        assert_reference_passes(run_suite(tmp_path, [str(SUITE)], ["--dut", reference.url], "http-reference"))
    finally:
        reference.stop()
    mutant = serve("--mutant", name, log=tmp_path / "mutant.log")
    try:
        assert mutant.info["kind"] == "bus" and name in mutant.info["model"]
        assert_mutant_caught(run_suite(tmp_path, caught, ["--dut", mutant.url], "http-mutant"), name, caught, "http")
    finally:
        mutant.stop()


@pytest.mark.pcsc
@pytest.mark.timeout(600)
def test_terminal_suite_through_vpcd_passes_the_served_reference_and_fails_a_served_mutant(pcscd, mutant_catch,
                                                                                           tmp_path):
    """The headline: the whole suite through vpcd against the reference in its own process, and the
    mutant through vpcd on the tests that catch it in-process.

    A vpcd presentation waits for two pcscd polls (removal, insertion: 0.8 s), so the reference run
    alternates the cards between vpcd's two slots (`--dut-info alternate=`, 12 s instead of 22 s);
    the mutant run and the tests above use the one slot a vendor's terminal usually reads."""
    name, caught = mutant_catch
    vpcd = f"vpcd:127.0.0.1:{pcscd.slot_port(0)}"
    reference = serve("--kind", "bus", log=tmp_path / "bus.log")
    try:
        verdicts = run_suite(tmp_path, [str(SUITE)], ["--dut", vpcd, "--dut-info", f"control={reference.url}",
                                                      "--dut-info", f"alternate={pcscd.reader(1)}"], "vpcd-reference")
        assert_reference_passes(verdicts)
    finally:
        reference.stop()
    mutant = serve("--mutant", name, log=tmp_path / "mutant.log")
    try:
        verdicts = run_suite(tmp_path, caught, ["--dut", vpcd, "--dut-info", f"control={mutant.url}"], "vpcd-mutant")
        assert_mutant_caught(verdicts, name, caught, "vpcd")
    finally:
        mutant.stop()


@pytest.mark.parametrize("kind", list(REFERENCE_TERMINALS))
def test_every_reference_terminal_can_be_served(kind):
    app = reference_app(kind, None)  # make_app checks its /info against the document
    ics = load("national/ics", "ics")
    assert app.state.info["kind"] == kind and app.state.terminal.kind in kind
    served = {*ics["terminal_kinds"][kind], *served_facilities(kind, ics)}
    assert app.state.info["capabilities"] == sorted(served)
    assert ("bank_control" in served) == (kind == "pos")  # only a terminal that asks a bank can be given one


def test_serve_refuses_an_unknown_kind_or_mutant():
    runner = CliRunner()
    for args, named in ((["--kind", "tram"], "tram"), (["--mutant", "no_such_mutant"], "no_such_mutant"),
                        ([], "--kind"), (["--kind", "scenic", "--mutant", "no_such_mutant"], "no_such_mutant")):
        result = runner.invoke(service_cli, ["serve", *args])
        assert result.exit_code == 2 and named in result.output, (args, result.output)


#: the vendor's declaration of the served reference bus validator: without one it is never certified
BUS_ICS = ROOT / "tests" / "data" / "ics" / "bus.yaml"


def certify(tmp_path: Path, name: str, *args: str) -> tuple[int, dict]:
    """`ykt certify` in its own process; its exit status and certificate."""
    out = tmp_path / name
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "certify", "--suite", "terminal", "--no-html",
                           "--out", str(out), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    certificate = json.loads((out / "certificate.json").read_text()) if (out / "certificate.json").exists() else {}
    assert certificate, f"no certificate:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.returncode, certificate


@pytest.mark.pcsc
@pytest.mark.timeout(600)
def test_ykt_certify_through_vpcd_certifies_the_served_reference_and_not_a_served_mutant(pcscd, tmp_path):
    """The issue's headline command: `ykt certify --suite terminal --dut vpcd:127.0.0.1:35963 ...` against
    a reference terminal reading through pcscd in its own process, then against a served mutant."""
    vpcd = f"vpcd:127.0.0.1:{pcscd.slot_port(0)}"
    reference = serve("--kind", "bus", log=tmp_path / "bus.log")
    try:
        code, certificate = certify(tmp_path, "reference", "--dut", vpcd, "--dut-info", f"control={reference.url}",
                                    "--dut-info", f"alternate={pcscd.reader(1)}", "--ics", str(BUS_ICS))
    finally:
        reference.stop()
    assert code == 0, certificate.get("reason")
    name = bus_mutant()
    mutant = serve("--mutant", name, log=tmp_path / "mutant.log")
    try:
        code, certificate = certify(tmp_path, "mutant", "--dut", vpcd, "--dut-info", f"control={mutant.url}",
                                    "--dut-info", f"alternate={pcscd.reader(1)}")
    finally:
        mutant.stop()
    clauses = certificate["clauses"]
    failed = sorted(c for c, v in clauses.items() if v["verdict"] == "fail") if isinstance(clauses, dict) else \
        sorted(c["id"] for c in clauses if c["verdict"] == "fail")
    print(f"ykt certify through vpcd: reference certified; mutant {name} failed {failed}")
    assert code == 1 and failed, certificate.get("reason")


# -- defects only the card's side shows, served through http: ------------------------------------
#: mutant -> (the clause that must fail it, `-k` of the suite's tests that judge that clause)
CARD_SIDE = {
    "bus_records_less_than_debited": ("TERM-MONEY-001", "records_the_money"),
    "gate_records_more_than_debited": ("TERM-MONEY-001", "records_the_money"),
    "scenic_records_visitor": ("TERM-PRIV-004", "decision_record_holds_only"),
    "bus_stalls_before_debit": ("TERM-TIME-001", "completes_within_the_limit"),
}
#: the reference terminals of those mutants' kinds (the bus validator passes the whole suite through http above)
CARD_SIDE_KINDS = ("gate_exit", "scenic")


@pytest.fixture(scope="module")
def served_apps() -> Iterator[dict[str, str]]:
    """Each card-side mutant and the reference terminals of their kinds, served once for the
    module from threads of this process: name -> URL."""
    apps = {name: reference_app(None, name) for name in CARD_SIDE} | {
        kind: reference_app(kind, None) for kind in CARD_SIDE_KINDS}
    with ExitStack() as stack:
        yield {name: str(stack.enter_context(in_thread(app)).base_url) for name, app in apps.items()}


@pytest.mark.parametrize("mutant", sorted(CARD_SIDE))
def test_a_mutant_only_the_card_side_shows_fails_its_clause_through_http(served_apps, mutant, tmp_path):
    clause, tests = CARD_SIDE[mutant]
    verdicts = run_suite(tmp_path, [str(SUITE), "-k", tests], ["--dut", served_apps[mutant]], f"http-{mutant}")
    broken = [v for v in verdicts if v["verdict"] == "broken"]
    failed = {v["clause"] for v in verdicts if v["verdict"] == "fail"}
    assert not broken and clause in failed, (broken, failed)


@pytest.mark.pcsc
@pytest.mark.timeout(600)
@pytest.mark.parametrize("mutant", sorted(CARD_SIDE))
def test_a_mutant_only_the_card_side_shows_fails_its_clause_through_vpcd(pcscd, mutant, tmp_path):
    """The same defects in a terminal of its own process that reads the card from its PC/SC
    reader (pcscd + vpcd), as a vendor's terminal does: the card's side judges them the same."""
    clause, tests = CARD_SIDE[mutant]
    served = serve("--mutant", mutant, log=tmp_path / "mutant.log")
    try:
        verdicts = run_suite(tmp_path, [str(SUITE), "-k", tests],
                             ["--dut", f"vpcd:127.0.0.1:{pcscd.slot_port(0)}", "--dut-info", f"control={served.url}",
                              "--dut-info", f"alternate={pcscd.reader(1)}"], f"vpcd-{mutant}")
    finally:
        served.stop()
    broken = [v for v in verdicts if v["verdict"] == "broken"]
    failed = {v["clause"] for v in verdicts if v["verdict"] == "fail"}
    assert not broken and clause in failed, (broken, failed)


@pytest.mark.parametrize("kind", CARD_SIDE_KINDS)
def test_the_served_reference_passes_the_card_side_clauses_through_http(served_apps, kind, tmp_path):
    tests = " or ".join(sorted({k for _, k in CARD_SIDE.values()}))
    assert_reference_passes(run_suite(tmp_path, [str(SUITE), "-k", tests], ["--dut", served_apps[kind]],
                                      f"http-{kind}"))


def test_a_holders_data_a_terminal_records_never_reaches_a_file_of_the_run(served_apps, tmp_path):
    """The visitor-log mutant puts 姓名, 社会保障号码 and 出生日期 into its decision records (checked
    first: the harness does receive them); `ykt certify` through http: fails TERM-PRIV-004, and no
    file it writes holds any synthetic personal datum (the same scan as tests/test_certify.py)."""
    from test_certify import personal_data, readable_texts

    url = served_apps["scenic_records_visitor"]
    dut = make_dut(url)
    try:
        record = json.dumps(dut.terminals["scenic"].present(card("elderly")).decision, ensure_ascii=False)
    finally:
        dut.close()
    holder = personas.resolve("elderly", as_of=AS_OF).values
    assert all(str(holder[k]) in record for k in ("name", "citizen_id", "birth_date")), record
    code, certificate = certify(tmp_path, "visitor", "--dut", url)
    failed = {c["id"] for c in certificate["clauses"] if c["verdict"] == "fail"}
    assert code == 1 and "TERM-PRIV-004" in failed, certificate.get("outcome")
    needles = personal_data()
    files = [path for path in (tmp_path / "visitor").rglob("*") if path.is_file()]
    assert any(path.parent.name == "allure-results" for path in files)
    leaks = sorted({f"{path.name}: {what}" for path in files for text in readable_texts(path)
                    for needle, what in needles.items() if needle in text})
    assert not leaks, "a holder's data the terminal recorded reached the run's files:\n" + "\n".join(leaks)


THROUGHPUT = ROOT / "conformance" / "suites" / "throughput"


@pytest.mark.pcsc
@pytest.mark.timeout(900)
def test_the_throughput_suite_times_a_served_gate_through_vpcd_and_fails_the_slow_one(pcscd, tmp_path):
    """The throughput suite through the path a vendor's gate uses: its own pcscd reading the card
    from vpcd. The harness times the card's side and plays the platform to it (PUT /platform); the
    reference gate passes all three clauses, the gate 30% over the purchase limit fails THR-GATE-001."""
    vpcd = f"vpcd:127.0.0.1:{pcscd.slot_port(0)}"
    outcomes = {}
    for tag, options in (("reference", ("--kind", "gate_entry")), ("slow", ("--mutant", "gate_slow_for_throughput"))):
        served = serve(*options, log=tmp_path / f"{tag}.log")
        try:
            verdicts = run_suite(tmp_path, [str(THROUGHPUT)], ["--dut", vpcd, "--dut-info", f"control={served.url}",
                                                               "--dut-info", f"alternate={pcscd.reader(1)}"], tag)
        finally:
            served.stop()
        outcomes[tag] = {v["clause"]: v["verdict"] for v in verdicts}
    assert outcomes["reference"] == {"THR-GATE-001": "pass", "THR-WAIT-001": "pass", "THR-OUT-001": "pass"}
    assert outcomes["slow"]["THR-GATE-001"] == "fail"


def test_put_platform_links_a_served_terminal_refuses_one_elsewhere_and_one_that_does_not_declare_it():
    """PUT /platform (terminal_api.yaml): a terminal declaring platform_control asks the platform it is
    pointed at about the cards it reads; a platform not on this machine is 403; a terminal without
    the facility answers 409 and keeps no link."""
    from conformance.adapters.http import HARNESS_DEPARTMENT

    app = reference_app("gate_entry", None)
    with TestClient(app) as http:
        body = {"url": "http://127.0.0.1:9", **HARNESS_DEPARTMENT}
        answer = http.put("/platform", json=body)
        assert (answer.status_code, answer.json()) == (200, {"connected": True})
        assert app.state.terminal.status.platform is not None and app.state.terminal.status.online
        far = http.put("/platform", json={**body, "url": "http://192.0.2.1:8800"})
        assert (far.status_code, far.json()["error"]) == (403, "platform_refused")
        assert "192.0.2.1" in far.json()["detail"]
        assert http.put("/platform", json={**body, "url": None}).json() == {"connected": False}
        assert app.state.terminal.status.platform is None
    undeclared = make_app(REFERENCE_TERMINALS["gate_entry"], ["purse", "blacklist"], kind="gate_entry")
    with TestClient(undeclared) as http:
        answer = http.put("/platform", json={"url": "http://127.0.0.1:9", **HARNESS_DEPARTMENT})
        assert (answer.status_code, answer.json()["error"]) == (409, "not_supported")
        assert undeclared.state.terminal.status.platform is None


def test_put_bank_points_a_served_pos_at_a_bank_here_keeps_its_platform_and_a_bus_refuses_it():
    """PUT /bank (terminal_api.yaml): a POS declaring bank_control pays through the bank it is pointed
    at, keeping the platform it was linked to; a bank not on this machine is 403 and the link stays;
    null gives it its own bank back; a bus (no bank to ask) does not declare it and answers 409."""
    from conformance.adapters.http import HARNESS_DEPARTMENT
    from simulator.backend.bank_client import BankClient

    app = reference_app("pos", None)
    own = type(app.state.terminal.bank)
    with TestClient(app) as http:
        http.put("/platform", json={"url": "http://127.0.0.1:9", **HARNESS_DEPARTMENT})
        answer = http.put("/bank", json={"url": "http://127.0.0.1:9"})
        assert (answer.status_code, conforms(answer, "/bank", "put")) == (200, {"connected": True})
        pos = app.state.terminal
        assert isinstance(pos.bank, BankClient) and str(pos.bank.http.base_url) == "http://127.0.0.1:9"
        assert pos.platform is not None  # the platform link is kept
        far = http.put("/bank", json={"url": "http://192.0.2.1:8710"})
        assert (far.status_code, conforms(far, "/bank", "put")["error"]) == (403, "bank_refused")
        assert app.state.terminal is pos and "192.0.2.1" in far.json()["detail"]
        assert http.put("/bank", json={"url": None}).json() == {"connected": False}
        assert type(app.state.terminal.bank) is own and app.state.terminal.platform is not None
    bus = reference_app("bus", None)
    with TestClient(bus) as http:
        answer = http.put("/bank", json={"url": "http://127.0.0.1:9"})
        assert (answer.status_code, conforms(answer, "/bank", "put")["error"]) == (409, "not_supported")


#: a regional clause judged over http: -> (region, its suite file, the reference terminal kind, the
#: served mutant that breaks it); ZZ-FIN-002 is judged on the books of the bank the harness serves
#: the POS (PUT /bank)
REGIONAL_OVER_HTTP = {
    "KF-CONC-001": ("kaifeng", "test_fares.py", "bus", "bus_national_concessions"),
    "KF-CONC-002": ("kaifeng", "test_fares.py", "scenic", "scenic_national_ages"),
    "ZZ-CODE-001": ("zhengzhou", "test_ecode.py", "bus", "bus_national_code_kinds"),
    "SC-XR-001": ("sichuan", "test_fares.py", "bus", "bus_own_province_concessions"),
    "ZZ-FIN-002": ("zhengzhou", "test_pos.py", "pos", "pos_lets_card_approve_offline"),
    # the harness serves its voucher service to the POS on loopback (PUT /vouchers)
    "GD-VOUCH-001": ("guangdong", "test_pos.py", "pos", "pos_voucher_skips_pin"),
    "GD-VOUCH-002": ("guangdong", "test_pos.py", "pos", "pos_voucher_lost_card"),
    "GD-VOUCH-003": ("guangdong", "test_pos.py", "pos", "pos_voucher_any_merchant"),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("clause", sorted(REGIONAL_OVER_HTTP))
def test_a_regional_clause_is_judged_over_http_against_a_terminal_served_for_the_region(clause, tmp_path):
    """A regional clause over http:: the terminal served for the region passes it; the served mutant
    that breaks the region's rule fails it, as it does in-process (tests/test_regional_mutants.py)."""
    region, suite, kind, mutant = REGIONAL_OVER_HTTP[clause]
    for options, expected in ((("--kind", kind), "pass"), (("--mutant", mutant), "fail")):
        served = serve(*options, "--region", region, log=tmp_path / f"{expected}.log")
        try:
            verdicts = run_suite(tmp_path, [str(SUITE / suite)], ["--dut", served.url, "--region", region],
                                 f"{region}-{expected}")
        finally:
            served.stop()
        judged = [v["verdict"] for v in verdicts if v["clause"] == clause]
        # a clause judged by several tests (SC-XR-001's cards) passes when every one passes
        assert judged and (set(judged) == {"pass"} if expected == "pass" else "fail" in judged), verdicts


def test_put_vouchers_links_a_served_pos_refuses_one_elsewhere_and_one_that_does_not_declare_it():
    """PUT /vouchers (terminal_api.yaml): a POS declaring `vouchers` (Guangdong's) redeems through the
    service it is pointed at and says its merchant category on /info; a service not on this machine
    is 403 with the link unchanged; a POS without vouchers answers 409 to the link and to a voucher
    transaction, and declares no merchant category."""
    from simulator.backend.voucher_client import VoucherClient
    from simulator.profile import build

    app = reference_app("pos", None, profile=build("national", "guangdong"))
    with TestClient(app) as http:
        assert http.get("/info").json()["merchant_category"] == app.state.terminal.merchant_category
        answer = http.put("/vouchers", json={"url": "http://127.0.0.1:9"})
        assert (answer.status_code, answer.json()) == (200, {"connected": True})
        linked = app.state.terminal
        assert isinstance(linked.vouchers, VoucherClient)
        far = http.put("/vouchers", json={"url": "http://192.0.2.1:8720"})
        assert (far.status_code, far.json()["error"]) == (403, "vouchers_refused")
        assert "192.0.2.1" in far.json()["detail"]
        assert app.state.terminal is linked
        assert http.put("/vouchers", json={"url": None}).json() == {"connected": False}
        assert app.state.terminal.vouchers is None
    national_pos = reference_app("pos", None)
    with TestClient(national_pos) as http:
        assert "merchant_category" not in http.get("/info").json()
        for method, path, body in (("PUT", "/vouchers", {"url": "http://127.0.0.1:9"}),
                                   ("POST", "/transactions", {"voucher": {"card": {"relay": "http://127.0.0.1:9"},
                                                                          "pin": "123456"}})):
            answer = http.request(method, path, json=body)
            assert (answer.status_code, answer.json()["error"]) == (409, "not_supported"), answer.text
        assert national_pos.state.terminal.vouchers is None

