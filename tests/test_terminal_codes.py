"""Code presentation over the terminal control protocol: `POST /transactions` with
`{"code": {"payload": HEX}}` (profiles/national/terminal_api.yaml `Code`).

A body that does not follow the document is answered 422 `invalid_request` and never acted on (the
terminal's journal is unchanged); a terminal that does not declare `ecode` answers 409 `not_supported`; bytes
that are no e-code are the terminal's own decision. Then the terminal suite's e-code clauses
through `http:` against served reference gates (pass), a served mutant (fail on its clause), and
a served bus whose declaration leaves `ecode` out (not applicable).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_terminal_service import conforms, in_thread, run_suite

from conformance.service import reference_app

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suites" / "terminal" / "test_ecode.py"
BUS_ICS = ROOT / "tests" / "data" / "ics" / "bus.yaml"
VALID_LENGTH = "AB" * 2953

BAD_BODIES = [
    {"code": {}},
    {"code": {"payload": ""}},
    {"code": {"payload": "ABC"}},
    {"code": {"payload": "ZZ"}},
    {"code": {"payload": 318}},
    {"code": {"payload": "00", "kind": "ride"}},
    {"code": "00"},
    {"code": {"payload": VALID_LENGTH + "AB"}},
    {"card": {"reader": "R"}, "code": {"payload": "00"}},
]


@pytest.fixture
def scenic():
    app = reference_app("scenic", None)
    return app, TestClient(app)


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: str(b)[:40])
def test_a_malformed_code_body_is_refused_and_never_acted_on(scenic, body):
    app, client = scenic
    answer = client.post("/transactions", json=body)
    assert answer.status_code == 422 and conforms(answer, "/transactions")["error"] == "invalid_request"
    assert app.state.terminal.journal == []


def test_bytes_that_are_no_code_are_the_terminals_decision(scenic):
    app, client = scenic
    for payload in ("00", VALID_LENGTH.lower()):
        decision = conforms(client.post("/transactions", json={"code": {"payload": payload}}), "/transactions")
        assert (decision["reason"], decision["accepted"], decision["debited"]) == ("CODE_MALFORMED", False, 0)
    assert len(app.state.terminal.journal) == 2


def test_a_terminal_that_does_not_declare_ecode_refuses_a_code_with_409():
    app = reference_app("gate_entry", None)
    assert "ecode" not in app.state.info["capabilities"]
    answer = TestClient(app).post("/transactions", json={"code": {"payload": "00"}})
    assert answer.status_code == 409 and conforms(answer, "/transactions")["error"] == "not_supported"
    assert app.state.terminal.journal == []


@pytest.fixture(scope="module")
def served() -> dict[str, str]:
    """The reference scenic gate and bus validator and one e-code mutant, served from threads: name -> URL."""
    from contextlib import ExitStack

    apps = {"scenic": reference_app("scenic", None), "bus": reference_app("bus", None),
            "scenic_skips_code_signature": reference_app(None, "scenic_skips_code_signature")}
    with ExitStack() as stack:
        yield {name: str(stack.enter_context(in_thread(app)).base_url) for name, app in apps.items()}


def ecode_verdicts(verdicts: list[dict]) -> dict[str, str]:
    return {v["clause"]: v["verdict"] for v in verdicts if v["clause"].startswith("TERM-ECODE")}


@pytest.mark.parametrize("kind", ["scenic", "bus"])
def test_served_reference_gates_pass_the_ecode_clauses_through_http(served, kind, tmp_path):
    verdicts = ecode_verdicts(run_suite(tmp_path, [str(SUITE)], ["--dut", served[kind]], f"http-{kind}"))
    assert len(verdicts) == 8 and set(verdicts.values()) == {"pass"}, verdicts


def test_a_served_ecode_mutant_fails_its_clause_through_http(served, tmp_path):
    verdicts = ecode_verdicts(run_suite(tmp_path, [str(SUITE)], ["--dut", served["scenic_skips_code_signature"]],
                                        "http-mutant"))
    assert verdicts.pop("TERM-ECODE-004") == "fail" and set(verdicts.values()) == {"pass"}, verdicts


def test_a_declaration_without_ecode_makes_the_ecode_clauses_not_applicable(served, tmp_path):
    verdicts = ecode_verdicts(run_suite(tmp_path, [str(SUITE)], ["--dut", served["bus"], "--ics", str(BUS_ICS)],
                                        "http-bus-ics"))
    assert len(verdicts) == 8 and set(verdicts.values()) == {"not_applicable"}, verdicts
