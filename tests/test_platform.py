"""The platform through its HTTP API: lifecycle, signed requests, purpose limitation, callbacks,
the blacklist, data return and the e-code online. The clock is the test's; callbacks are delivered
to a list. Oracles: the lifecycle and purposes of profiles/national/platform.yaml, and the
signature recomputed here from the signing rule, never the platform's own answers."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest
from fastapi.testclient import TestClient

from simulator.backend.platform import Platform, open_store
from simulator.backend.platform.api import make_app
from simulator.backend.platform.client import DepartmentClient
from simulator.backend.platform.errors import NotFound
from simulator.backend.platform.signing import hmac_sm3
from simulator.clock import Clock
from simulator.ecode import epoch_seconds
from simulator.profile import build, load

PROFILE = load("national/platform", "platform")
OPERATOR_SECRET = b"\x07" * 32
HOLDERS = {"K00000001": ("410203198506150131", "测试甲"), "K00000002": ("410203199001010022", "测试乙"),
           "K00000003": ("410203197012120013", "测试丙")}


@pytest.fixture
def world():
    clock = Clock()
    platform = Platform(open_store(":memory:"), clock=clock, seed=5, operator_secret=OPERATOR_SECRET)
    http = TestClient(make_app(platform))
    operator = DepartmentClient(http, department="operator", secret=OPERATOR_SECRET, clock=clock, rng=random.Random(1))
    for number, (citizen, name) in HOLDERS.items():
        answer = operator.request("POST", "/cards", {"card_number": number, "citizen_id": citizen, "name": name,
                                                     "birth_date": "1985-06-15", "region": "410200"})
        assert answer.status_code == 201, answer.text
    return clock, platform, http, operator


def department(world, name: str, purpose: str, *, callback: bool = False) -> DepartmentClient:
    clock, _, http, operator = world
    body = {"department_id": name, "name": name, "purpose": purpose}
    if callback:
        body["callback_url"] = f"http://{name}.test/callbacks"
    answer = operator.request("POST", "/departments", body)
    assert answer.status_code == 201, answer.text
    return DepartmentClient(http, department=name, secret=bytes.fromhex(answer.json()["secret"]), clock=clock,
                            rng=random.Random(name))


def act(operator, card: str, action: str, **extra):
    return operator.request("POST", f"/cards/{card}/actions", {"action": action, **extra})


def refused(answer, status: int, code: str, *named: str) -> None:
    body = answer.json()
    assert (answer.status_code, body["error"]) == (status, code), body
    for text in named:
        assert text in body["detail"], body


# -- lifecycle -----------------------------------------------------------------------------------


def test_every_lifecycle_action_is_allowed_exactly_from_the_states_the_profile_names(world):
    _, platform, _, operator = world
    actions = PROFILE["lifecycle"]["actions"]
    # a card in each state: normal, lost, superseded, cancelled
    setups = {"normal": [], "lost": ["report_lost"], "superseded": [("replace", "N0000001")], "cancelled": ["cancel"]}
    serial = 0
    for state, steps in setups.items():
        for action, spec in actions.items():
            serial += 1
            card = f"S{serial:07d}"
            platform.issue_card(card_number=card, citizen_id="410203198001010011", name="测试丁",
                                birth_date=date(1980, 1, 1), region="410200")
            for step in steps:
                name, new = step if isinstance(step, tuple) else (step, None)
                assert act(operator, card, name, **({"new_card_number": f"R{serial:07d}"} if new else {})).is_success
            extra = {"new_card_number": f"T{serial:07d}"} if spec.get("new_card") else {}
            answer = act(operator, card, action, **extra)
            if state in spec["from"]:
                assert answer.status_code == 200, (state, action, answer.text)
                assert answer.json()["status"] == spec.get("to", state)
            else:
                refused(answer, 409, "invalid_transition", card, state, action)


def test_financial_functions_start_inactive_and_activate_once(world):
    _, _, _, operator = world
    assert operator.request("GET", "/cards/K00000001").json()["financial_active"] is False
    assert act(operator, "K00000001", "activate_financial").json()["financial_active"] is True
    refused(act(operator, "K00000001", "activate_financial"), 409, "invalid_transition", "activate_financial")


def test_a_reissued_card_supersedes_the_old_one_and_keeps_the_holder(world):
    _, _, _, operator = world
    assert act(operator, "K00000001", "report_lost").json()["status"] == "lost"
    old = act(operator, "K00000001", "reissue", new_card_number="K00000009").json()
    assert (old["status"], old["superseded_by"]) == ("superseded", "K00000009")
    new = operator.request("GET", "/cards/K00000009").json()
    assert (new["status"], new["citizen_id"], new["name"]) == ("normal", *HOLDERS["K00000001"])
    refused(act(operator, "K00000002", "reissue"), 422, "invalid_request", "new_card_number")
    refused(act(operator, "K00000002", "reissue", new_card_number="K00000003"), 409, "card_exists", "K00000003")


# -- signed requests -----------------------------------------------------------------------------


def test_each_way_a_request_is_not_properly_signed_has_its_own_refusal(world):
    clock, _, http, operator = world
    refused(http.get("/cards/K00000001"), 401, "unsigned", "X-Department")
    now = epoch_seconds(clock())
    tolerance = PROFILE["request_signing"]["tolerance_seconds"]
    refused(operator.request("GET", "/cards/K00000001", timestamp=now - tolerance - 1), 401, "stale_timestamp")
    refused(operator.request("GET", "/cards/K00000001", timestamp=now + tolerance + 1), 401, "stale_timestamp")
    assert operator.request("GET", "/cards/K00000001", timestamp=now - tolerance).status_code == 200
    assert operator.request("GET", "/cards/K00000001", nonce="nonce-0001").status_code == 200
    refused(operator.request("GET", "/cards/K00000001", nonce="nonce-0001"), 401, "replayed_nonce", "nonce-0001")
    stranger = DepartmentClient(http, department="nobody", secret=b"x" * 32, clock=clock, rng=random.Random(2))
    refused(stranger.request("GET", "/cards/K00000001"), 401, "unknown_department", "nobody")
    forger = DepartmentClient(http, department="operator", secret=b"y" * 32, clock=clock, rng=random.Random(3))
    refused(forger.request("GET", "/cards/K00000001"), 401, "bad_signature")


def test_nonces_and_scanned_codes_are_kept_through_their_window_and_forgotten_after_it(world):
    """The entries past their second are deleted by the first request of each second, not by every
    one; a replay is refused up to the window's last second (also right after that second's
    delete), and once the window has passed the entry is gone: a nonce may serve again."""
    clock, platform, _, operator = world
    metro = department(world, "metro", "transit")
    tolerance = PROFILE["request_signing"]["tolerance_seconds"]
    deletes = []
    platform.store.db.set_trace_callback(lambda sql: deletes.append(sql.split()[2]) if sql.startswith("DELETE") else 0)
    clock.advance(1)
    code = operator.request("POST", "/ecodes", {"card_number": "K00000001", "kind": "essc"}).json()
    scan = {"payload": code["payload"], "business_type": "metro_entry"}
    assert operator.request("GET", "/cards/K00000001", nonce="nonce-0001").status_code == 200
    assert metro.request("POST", "/ecodes/verifications", scan).json()["reason"] == "valid"
    assert deletes == ["nonces", "ecode_seen"]  # one for each log in this second, however many entries it made
    clock.advance(code["expires_at"] - code["generated_at"])  # the code's last second
    assert metro.request("POST", "/ecodes/verifications", scan).json()["reason"] == "replayed"
    assert len(platform.store.query("SELECT * FROM ecode_seen")) == 1
    clock.advance(1)
    later = operator.request("POST", "/ecodes", {"card_number": "K00000002", "kind": "essc"}).json()
    assert metro.request("POST", "/ecodes/verifications", {**scan, "payload": later["payload"]}).json()["valid"]
    assert len(platform.store.query("SELECT * FROM ecode_seen")) == 1  # the first code's entry is gone
    clock.advance(2 * tolerance - (code["expires_at"] - code["generated_at"]) - 1)  # the nonce's last second
    refused(operator.request("GET", "/cards/K00000001", nonce="nonce-0001"), 401, "replayed_nonce")
    clock.advance(1)
    assert operator.request("GET", "/cards/K00000001", nonce="nonce-0001").status_code == 200
    kept = {row["nonce"]: row["until"] for row in platform.store.query("SELECT nonce, until FROM nonces")}
    assert min(kept.values()) >= epoch_seconds(clock()) and kept["nonce-0001"] == epoch_seconds(clock()) + 2 * tolerance


def test_the_entries_kept_before_the_logs_lost_their_rowids_are_kept_after(tmp_path):
    """Schema v4 rebuilds the nonce and scanned-code logs WITHOUT ROWID: a file of v3 keeps its entries."""
    from simulator.backend.platform.schema import MIGRATIONS
    from simulator.backend.store import Store

    path = tmp_path / "platform.sqlite"
    old = Store(path, MIGRATIONS[:3])
    with old.transaction() as db:
        db.execute("INSERT INTO nonces VALUES ('operator', 'nonce-0001', 9999999999)")
        db.execute("INSERT INTO ecode_seen VALUES (?, 9999999999)", (b"\x01" * 64,))
    old.close()
    store = open_store(str(path))
    assert [tuple(row) for row in store.query("SELECT * FROM nonces")] == [("operator", "nonce-0001", 9999999999)]
    assert [tuple(row) for row in store.query("SELECT * FROM ecode_seen")] == [(b"\x01" * 64, 9999999999)]
    tables = {row["name"]: row["sql"] for row in store.query("SELECT name, sql FROM sqlite_master")}
    assert all("WITHOUT ROWID" in tables[name] for name in ("nonces", "ecode_seen"))
    assert {"nonces_by_until", "ecode_seen_by_until"} <= set(tables)
    platform = Platform(store, clock=Clock(), seed=5, operator_secret=OPERATOR_SECRET)
    operator = DepartmentClient(TestClient(make_app(platform)), department="operator", secret=OPERATOR_SECRET,
                                clock=platform.clock, rng=random.Random(1))
    refused(operator.request("GET", "/cards/K00000001", nonce="nonce-0001"), 401, "replayed_nonce")


def test_the_signature_covers_method_path_query_and_body(world):
    """A request signed here by hand with the documented rule passes; the same headers on another
    path or another body do not."""
    clock, _, http, _ = world
    from simulator.crypto import sm3
    stamp, nonce = str(epoch_seconds(clock())), "hand-signed-1"

    def headers(method, path, body):
        text = "\n".join((method, path, stamp, nonce, sm3(body).hex())).encode()
        return {"X-Department": "operator", "X-Timestamp": stamp, "X-Nonce": nonce,
                "X-Signature": hmac_sm3(OPERATOR_SECRET, text).hex(), "content-type": "application/json"}

    body = json.dumps({"action": "report_lost"}).encode()
    signed = headers("POST", "/cards/K00000001/actions", body)
    refused(http.post("/cards/K00000002/actions", content=body, headers=signed), 401, "bad_signature")
    refused(http.post("/cards/K00000001/actions", content=body.replace(b"lost", b"lost "), headers=signed), 401,
            "bad_signature")
    assert http.post("/cards/K00000001/actions", content=body, headers=signed).status_code == 200
    clock.advance(1)
    signed = headers("GET", "/blacklist?since=0", b"")
    refused(http.get("/blacklist?since=1", headers=signed), 401, "bad_signature")


# -- purpose limitation --------------------------------------------------------------------------


def test_a_department_sees_only_its_own_citizens_and_only_its_purposes_fields(world):
    hospital_a = department(world, "hospital-a", "hospital")
    hospital_b = department(world, "hospital-b", "hospital")
    library = department(world, "library", "library")
    transit = department(world, "metro", "transit")
    citizen, name = HOLDERS["K00000001"]
    # before the holder verifies identity with it, a 'bound' department cannot see the card at all,
    # and is answered exactly as for a card that does not exist
    missing = hospital_a.request("GET", "/cards/K00000001")
    refused(missing, 404, "not_found")
    assert missing.json()["detail"].replace("K00000001", "X") == \
        hospital_a.request("GET", "/cards/K99999999").json()["detail"].replace("K99999999", "X")
    wrong = hospital_a.request("POST", "/identity/verifications",
                               {"card_number": "K00000001", "citizen_id": citizen, "name": "测试乙"})
    assert wrong.json() == {"verified": False, "reason": "no_match"}
    refused(hospital_a.request("GET", "/cards/K00000001"), 404, "not_found")
    right = {"card_number": "K00000001", "citizen_id": citizen, "name": name}
    assert hospital_a.request("POST", "/identity/verifications", right).json()["verified"] is True
    assert library.request("POST", "/identity/verifications", right).json()["verified"] is True
    seen = {who: client.request("GET", "/cards/K00000001").json()
            for who, client in (("hospital", hospital_a), ("library", library), ("transit", transit))}
    for who, purpose in (("hospital", "hospital"), ("library", "library"), ("transit", "transit")):
        assert set(seen[who]) <= set(PROFILE["purposes"]["declared"][purpose]["fields"]), seen[who]
    assert seen["hospital"]["citizen_id"] == citizen
    assert "citizen_id" not in seen["library"] and seen["library"]["name"] == name
    assert set(seen["transit"]) == {"card_number", "status"}
    # hospital B never verified this holder: it sees nothing, though hospital A does
    refused(hospital_b.request("GET", "/cards/K00000001"), 404, "not_found")
    # operations outside the purpose are refused, naming the purpose
    refused(library.request("GET", "/blacklist"), 403, "purpose_forbids", "blacklist")
    refused(transit.request("POST", "/identity/verifications", right), 403, "purpose_forbids", "identity")
    refused(hospital_a.request("POST", "/cards/K00000001/actions", {"action": "cancel"}), 403, "purpose_forbids")


# -- callbacks -----------------------------------------------------------------------------------


def test_callbacks_follow_the_published_schedule_until_acknowledged_with_stable_ids(world):
    clock, platform, _, operator = world
    metro = department(world, "metro", "transit", callback=True)
    department(world, "hospital-a", "hospital", callback=True)  # not bound to the card: gets nothing
    assert metro.request("GET", "/callbacks").json()["retry_schedule_seconds"] == \
        PROFILE["callbacks"]["retry_schedule_seconds"]
    secret = metro.secret
    act(operator, "K00000002", "report_lost")
    received, answers = [], iter([500, None, 503, 204])

    def send(url, headers, body):
        received.append((clock(), url, headers, body))
        return next(answers)

    schedule = PROFILE["callbacks"]["retry_schedule_seconds"]
    start = clock()
    for _ in range(4):
        platform.deliver_callbacks(send)
        clock.advance(schedule[len(received)] - (clock() - start).total_seconds() if len(received) < 4 else 1)
    assert [(at - start).total_seconds() for at, *_ in received] == schedule[:4]
    assert {url for _, url, _, _ in received} == {"http://metro.test/callbacks"}
    ids = {headers["webhook-id"] for _, _, headers, _ in received}
    assert len(ids) == 1  # every retry carries the same event id: a receiver applies it once
    for _, _, headers, body in received:
        expected = hmac_sm3(secret, f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body)
        assert headers["webhook-signature"] == "v1," + expected.hex()
        event = json.loads(body)
        assert (event["card_number"], event["status"], event["event_id"]) == ("K00000002", "lost",
                                                                              headers["webhook-id"])
        assert set(event) <= {"event_id", "card_number", "status", "action", "from_status", "at", "superseded_by"}
    delivery = metro.request("GET", "/callbacks").json()["deliveries"]
    assert [(d["attempts"], d["state"], d["last_status"]) for d in delivery] == [(4, "delivered", 204)]
    clock.advance(10**6)
    assert platform.deliver_callbacks(send) == 0  # acknowledged: never sent again
    assert department(world, "hospital-b", "hospital").request("GET", "/callbacks").json()["deliveries"] == []


def test_a_delivery_never_acknowledged_is_given_up_after_the_last_attempt(world):
    clock, platform, _, operator = world
    metro = department(world, "metro", "transit", callback=True)
    act(operator, "K00000003", "cancel")
    attempts = []
    for _ in range(200):
        platform.deliver_callbacks(lambda url, headers, body: attempts.append(clock()) or 500)
        clock.advance(600)
    assert len(attempts) == len(PROFILE["callbacks"]["retry_schedule_seconds"])
    assert metro.request("GET", "/callbacks").json()["deliveries"][0]["state"] == "failed"


# -- blacklist -----------------------------------------------------------------------------------


def test_the_blacklist_delta_brings_a_terminal_from_any_version_to_the_full_list(world):
    _, _, _, operator = world
    metro = department(world, "metro", "transit")
    versions = [metro.request("GET", "/blacklist").json()]
    steps = [("K00000001", "report_lost", {}), ("K00000002", "cancel", {}), ("K00000001", "unreport", {}),
             ("K00000001", "replace", {"new_card_number": "K00000011"}), ("K00000003", "report_lost", {})]
    for card, action, extra in steps:
        assert act(operator, card, action, **extra).status_code == 200
        versions.append(metro.request("GET", "/blacklist").json())
    assert [v["version"] for v in versions] == [0, 1, 2, 3, 4, 5]
    assert versions[-1]["cards"] == ["K00000001", "K00000002", "K00000003"]
    for old in versions:  # a terminal holding any earlier list catches up with one delta
        delta = metro.request("GET", f"/blacklist?since={old['version']}").json()
        assert (delta["since"], delta["version"]) == (old["version"], 5)
        assert sorted((set(old["cards"]) - set(delta["removed"])) | set(delta["added"])) == versions[-1]["cards"]
    assert metro.request("GET", "/blacklist?since=1").json()["removed"] == []  # lost, unlisted, listed again
    refused(metro.request("GET", "/blacklist?since=6"), 409, "version_ahead", "ahead")
    assert versions[-1]["propagation_delay_seconds"] == PROFILE["blacklist"]["propagation_delay_seconds"]


# -- data return, catalogue ----------------------------------------------------------------------


def test_usage_events_count_once_per_id_and_a_clash_is_refused(world):
    metro = department(world, "metro", "transit")
    scenic = department(world, "park", "scenic")
    event = {"event_id": "gate-7-000001", "card_number": "K00000001", "kind": "entry",
             "at": "2026-11-23T08:00:05", "site": "station 0101"}
    assert metro.request("POST", "/usage-events", event).json() == {"event_id": "gate-7-000001", "duplicate": False}
    assert metro.request("POST", "/usage-events", event).json()["duplicate"] is True
    refused(metro.request("POST", "/usage-events", {**event, "kind": "exit"}), 409, "event_conflict", "gate-7-000001")
    assert scenic.request("POST", "/usage-events", {**event, "kind": "visit"}).json()["duplicate"] is False
    metro.request("POST", "/usage-events", {**event, "event_id": "gate-7-000002", "kind": "exit"})
    assert metro.request("GET", "/usage-summary").json() == [
        {"department": "metro", "kind": "entry", "day": "2026-11-23", "count": 1},
        {"department": "metro", "kind": "exit", "day": "2026-11-23", "count": 1}]
    operator = world[3]
    assert sum(r["count"] for r in operator.request("GET", "/usage-summary").json()) == 3
    library = department(world, "library", "library")
    refused(library.request("POST", "/usage-events", {**event, "kind": "loan"}), 404, "not_found")  # not bound


def test_the_catalogue_is_the_profiles_and_names_the_known_regions(world):
    metro = department(world, "metro", "transit")
    assert metro.request("GET", "/catalogue/national").json() == PROFILE["catalogue"]["regions"]["national"]
    refused(metro.request("GET", "/catalogue/kaifeng"), 404, "not_found", "national")


def test_a_regional_platform_serves_its_regions_catalogue_from_its_region_document():
    guangdong = build("national", "guangdong")
    platform = Platform(open_store(":memory:"), clock=Clock(), seed=5, operator_secret=OPERATOR_SECRET,
                        profile=guangdong)
    served = {a["id"]: a["purposes"] for a in platform.catalogue("guangdong")}
    assert served["library"] == ["library"] and served["payment"] == []
    assert set(served) == {a["id"] for a in guangdong.region_document["applications"]}
    assert platform.catalogue("national") == PROFILE["catalogue"]["regions"]["national"]
    with pytest.raises(NotFound, match="regions: national, guangdong"):
        platform.catalogue("kaifeng")


# -- e-code online -------------------------------------------------------------------------------


def test_the_platform_verifies_its_codes_online_with_a_reason_for_each_refusal(world):
    clock, _, _, operator = world
    metro = department(world, "metro", "transit")
    issued = operator.request("POST", "/ecodes", {"card_number": "K00000001", "kind": "essc"})
    assert issued.status_code == 201, issued.text
    code = issued.json()
    assert code["expires_at"] - code["generated_at"] == load("national/ecode", "ecode")["kinds"]["essc"][
        "validity_seconds"]
    scan = {"payload": code["payload"], "business_type": "metro_entry"}
    first = metro.request("POST", "/ecodes/verifications", scan).json()
    assert (first["reason"], first["card"]) == ("valid", {"card_number": "K00000001", "status": "normal"})
    assert metro.request("POST", "/ecodes/verifications", scan).json()["reason"] == "replayed"
    forged = bytearray.fromhex(code["payload"])
    forged[-1] ^= 1
    assert metro.request("POST", "/ecodes/verifications", {**scan, "payload": forged.hex()}).json()["reason"] == \
        "wrong_signature"
    later = operator.request("POST", "/ecodes", {"card_number": "K00000001", "kind": "essc"}).json()
    clock.advance(61)
    assert metro.request("POST", "/ecodes/verifications", {**scan, "payload": later["payload"]}).json()["reason"] == \
        "expired"
    fresh = operator.request("POST", "/ecodes", {"card_number": "K00000001", "kind": "essc"}).json()
    act(operator, "K00000001", "report_lost")
    assert metro.request("POST", "/ecodes/verifications", {**scan, "payload": fresh["payload"]}).json()["reason"] == \
        "revoked_card"
    refused(operator.request("POST", "/ecodes", {"card_number": "K00000001", "kind": "essc"}), 409,
            "card_not_usable", "lost")
    keys = metro.request("GET", "/ecodes/keys").json()
    assert {(k["index"], k["test"]) for k in keys} == {(1, False), (128, True)}
    image = operator.request("POST", "/ecodes/images", {"payload": fresh["payload"], "format": "png"})
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")


def test_a_terminal_verifies_a_platform_code_offline_from_the_published_key_chain(world):
    from simulator import ecode
    clock, _, _, operator = world
    metro = department(world, "metro", "transit")
    chain = ecode.KeyChain(ecode.CaKey(k["index"], bytes.fromhex(k["public_key"]), k["test"])
                           for k in metro.request("GET", "/ecodes/keys").json())
    payload = bytes.fromhex(operator.request("POST", "/ecodes", {"card_number": "K00000002",
                                                                 "kind": "ride"}).json()["payload"])
    blacklist = set(metro.request("GET", "/blacklist").json()["cards"])
    clock.advance(3)
    verdict = ecode.verify(payload, chain=chain, profile=load("national/ecode", "ecode"), now=clock(),
                           replay=ecode.MemoryReplayLog(), revoked=blacklist.__contains__)
    assert (verdict.reason, verdict.card_number, verdict.kind) == (ecode.Reason.VALID, "K00000002", "ride")


# -- the port devices see --------------------------------------------------------------------------


@pytest.mark.parametrize("over", ["in process", "http"])
def test_the_port_answers_as_the_platform_within_the_departments_purpose(world, over):
    """The same scenario through `InProcessPlatform` and through `HttpPlatform` over the served API."""
    from datetime import datetime

    from simulator.backend import ports
    from simulator.backend.platform import Forbidden, InProcessPlatform
    from simulator.backend.platform.http_port import HttpPlatform
    _, platform, _, operator = world
    metro = department(world, "metro", "transit")
    port: ports.PlatformPort = InProcessPlatform(platform, "metro") if over == "in process" else HttpPlatform(metro)
    assert port.card_status(ports.CardStatusRequest("r1", "K00000001")) == \
        ports.CardStatus("r1", "K00000001", "normal", usable=True)
    act(operator, "K00000001", "report_lost")
    assert port.card_status(ports.CardStatusRequest("r2", "K00000001")).usable is False
    assert port.card_status(ports.CardStatusRequest("r3", "K99999999")) == \
        ports.CardStatus("r3", "K99999999", None, usable=False)
    update = port.blacklist(ports.BlacklistRequest("r4", since=0))
    assert (update.request_id, update.version, update.added, update.removed) == ("r4", 1, ("K00000001",), ())
    payload = bytes.fromhex(operator.request("POST", "/ecodes", {"card_number": "K00000002",
                                                                 "kind": "ride"}).json()["payload"])
    result = port.verify_ecode(ports.EcodeVerifyRequest("r5", payload, "metro_entry"))
    assert (result.request_id, result.valid, result.reason, result.card_number) == ("r5", True, "valid", "K00000002")
    report = ports.UsageReport("gate-1", "K00000002", "entry", datetime(2026, 11, 23, 8, 1), "station 0101")
    assert (port.report_use(report).duplicate, port.report_use(report).duplicate) == (False, True)
    with pytest.raises(Forbidden, match="identity"):
        port.verify_identity(ports.IdentityRequest("r6", "K00000002", *HOLDERS["K00000002"]))


def test_a_card_is_found_and_listed_by_the_chip_identifiers_it_was_issued_with(world):
    _, _, _, operator = world
    chips = ["410200D1560000055A3C7E0000000909", "03104102770000000909"]
    answer = operator.request("POST", "/cards", {"card_number": "K00000009", "citizen_id": "410203198506150131",
                                                 "name": "测试丁", "birth_date": "1985-06-15", "region": "410200",
                                                 "chips": chips})
    assert answer.status_code == 201, answer.text
    metro = department(world, "metro", "transit")
    assert metro.request("GET", f"/cards/{chips[1]}").json() == {"card_number": "K00000009", "status": "normal"}
    again = operator.request("POST", "/cards", {"card_number": "K00000010", "citizen_id": "410203198506150131",
                                                "name": "测试丁", "birth_date": "1985-06-15", "region": "410200",
                                                "chips": chips[:1]})
    refused(again, 409, "chip_exists", chips[0])
    assert act(operator, "K00000009", "report_lost").status_code == 200
    assert metro.request("GET", "/blacklist").json()["cards"] == sorted(["K00000009", *chips])
    assert metro.request("GET", "/blacklist?since=0").json()["added"] == sorted(["K00000009", *chips])
    refused(metro.request("GET", "/cards/0310410277000000090"), 422, "invalid_request")  # 19 hex digits: neither
