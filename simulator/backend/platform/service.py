"""The 一卡通 application service platform (应用服务平台): the model behind the HTTP service.

Card registry and lifecycle (platform.yaml `lifecycle`, transitions as data), card status and
identity verification, departments with their declared purpose and secret, signed requests, the
callback queue, the blacklist for offline terminals (full and delta, versioned), the catalogue,
data return, and the e-codes (issued by the platform as issuer, verified online). State lives in
one `Store`; time is the injected clock's; every secret and signature nonce comes from generators
derived from the one root seed, so a run is reproduced from its seed.

Purpose limitation (PIPL art. 6; 郑州市人民政府令第249号 art. 13): every read goes through
`card_view`, which answers a card only to a department whose purpose sees it (all cards, or only
those bound to it by a verified identity) and only with its purpose's fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import date, datetime, timedelta

from simulator import ecode, seeds
from simulator.backend.store import Store
from simulator.crypto import sm2
from simulator.faults import point
from simulator.profile import Profile, national

from . import callbacks
from .errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from .schema import MIGRATIONS
from .signing import request_signature_matches

OPERATOR = "operator"
#: crash points (simulator.faults registry): a served platform's fault plan may kill it there (serve.py)
LIFECYCLE_COMMITTED = point("platform.lifecycle.committed",
                            "a card's lifecycle change is committed; the platform has not answered yet")
USE_COMMITTED = point("platform.data_return.committed",
                      "a department's card-use report is committed; the platform has not answered yet")
#: the simulator's CA key indices: one production key, one test key (ecode.yaml `ca_keys`)
PRODUCTION_CA, TEST_CA = 1, 128


def _no_crash(point: str) -> None:
    """No fault plan: a crash point is passed like any other line."""


class Platform:
    """One platform over `store`; `clock()` gives the time, `seed` derives every key and secret."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime], seed: int, operator_secret: bytes,
                 crash: Callable[[str], None] | None = None, profile: Profile | None = None) -> None:
        """`profile`: the run's profile (the national one by default), whose platform and e-code
        documents are the rules the platform keeps."""
        self.store, self.clock, self.seed = store, clock, seed
        #: called at each crash point (a served platform's fault plan may end the process there)
        self.crash = crash or _no_crash
        self.profile = profile or national()
        self.platform_profile = self.profile["platform"]
        self.ecode_profile = self.profile["ecode"]
        self.purposes = self.platform_profile["purposes"]["declared"]
        self._departments: dict[str, tuple[bytes, str]] = {}
        self._nonces, self._scanned = _ExpiringLog(store, "nonces"), _ExpiringLog(store, "ecode_seen")
        with store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO departments (id, name, purpose, secret) VALUES (?, ?, ?, ?)",
                       (OPERATOR, "platform operator", OPERATOR, operator_secret))
        self._issuer, self.key_chain = self._ecode_keys()

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> int:
        return ecode.epoch_seconds(self.clock())

    # -- requests ------------------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str], *, method: str, path: str, body: bytes) -> str:
        """The department that signed this request (`headers` looked up case-insensitively, as HTTP
        has them), or Unauthenticated naming why not. The nonce is
        recorded only for a request whose signature verifies, so a forger cannot burn nonces."""
        department, timestamp, nonce, signature = (headers.get(h) for h in
                                                   ("X-Department", "X-Timestamp", "X-Nonce", "X-Signature"))
        missing = [h for h, v in zip(("X-Department", "X-Timestamp", "X-Nonce", "X-Signature"),
                                     (department, timestamp, nonce, signature), strict=True) if not v]
        if missing:
            raise Unauthenticated(f"the request is not signed: {', '.join(missing)} missing", code="unsigned")
        registered = self._registered(department)
        if registered is None:
            raise Unauthenticated(f"no department {department!r} is registered", code="unknown_department")
        tolerance = self.platform_profile["request_signing"]["tolerance_seconds"]
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise Unauthenticated(f"X-Timestamp {timestamp[:20]!r} is not Unix seconds", code="stale_timestamp")
        skew = int(timestamp) - self.now()
        if abs(skew) > tolerance:
            raise Unauthenticated(f"X-Timestamp is {skew:+d} s from the platform's clock (tolerance {tolerance} s)",
                                  code="stale_timestamp")
        if not (nonce.isascii() and 8 <= len(nonce) <= 64):
            raise Unauthenticated("X-Nonce must be 8..64 ASCII characters", code="bad_signature")
        if not request_signature_matches(registered[0], signature, method=method, path=path, timestamp=timestamp,
                                         nonce=nonce, body=body):
            raise Unauthenticated("X-Signature does not match the request (HMAC-SM3 over method, path, timestamp, "
                                  "nonce and the body's SM3)", code="bad_signature")
        # not waiting for the disk: a nonce lost with the machine's power (never with the process)
        # lets at most a request signed in the minutes before the cut be replayed once after it
        now = self.now()
        if not self._nonces.first_use(department, nonce, now=now, until=now + 2 * tolerance):
            raise Unauthenticated(f"X-Nonce {nonce!r} was used before", code="replayed_nonce")
        return department

    def _registered(self, department: str) -> tuple[bytes, str] | None:
        """(secret, purpose) of a registered department, None for any other name. Kept once read: a
        registration is never changed nor withdrawn, and each request needs it up to three times."""
        known = self._departments.get(department)
        if known is None:
            rows = self.store.query("SELECT secret, purpose FROM departments WHERE id = ?", (department,))
            if not rows:
                return None
            known = self._departments[department] = (rows[0]["secret"], rows[0]["purpose"])
        return known

    def purpose_of(self, department: str) -> dict:
        return self.purposes[self._registered(department)[1]]

    def require(self, department: str, operation: str) -> None:
        purpose = self.purpose_of(department)
        if operation not in purpose["operations"]:
            raise Forbidden(f"department {department!r}'s purpose ({purpose['zh']}) does not permit {operation}")

    # -- departments ---------------------------------------------------------------------------

    def register_department(self, *, department_id: str, name: str, purpose: str, callback_url: str | None) -> bytes:
        """Register a department with a declared purpose; its secret (returned once)."""
        if purpose == OPERATOR or purpose not in self.purposes:
            known = sorted(set(self.purposes) - {OPERATOR})
            raise Invalid(f"purpose {purpose!r} is not one a department may declare: {', '.join(known)}")
        secret = seeds.generator(self.seed, "platform", "department", department_id).randbytes(32)
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM departments WHERE id = ?", (department_id,)).fetchone():
                raise Conflict(f"department {department_id!r} is already registered")
            db.execute("INSERT INTO departments VALUES (?, ?, ?, ?, ?)",
                       (department_id, name, purpose, secret, callback_url))
        return secret

    # -- cards ---------------------------------------------------------------------------------

    def issue_card(self, *, card_number: str, citizen_id: str, name: str, birth_date: date, region: str,
                   chips: Sequence[str] = ()) -> dict:
        """申领: a new card in the lifecycle's initial state, its financial account not activated;
        `chips` are the identifiers terminals read from it (卡识别码, the purse's application serial).
        It becomes its holder's current card; where one person has one card (lifecycle
        `one_card_per_person`), Conflict holder_has_card while the holder has a live card."""
        with self.store.transaction() as db:
            self._insert_card(db, card_number=card_number, citizen_id=citizen_id, name=name,
                              birth_date=birth_date.isoformat(), region=region, action="issue", chips=chips)
        return self.card_view(OPERATOR, card_number)

    def import_card(self, *, card_number: str, citizen_id: str, name: str, birth_date: date, region: str,
                    issued: date, chips: Sequence[str] = ()) -> dict:
        """存量卡导入: a card issued before this registry (by a city's own system), recorded as found
        with its issue date, in the initial state. The card is in its holder's hands whatever the
        registry says, so it is recorded even beside a live card of the same holder, but then it is
        not the holder's current card: the zombie card (僵尸卡) a one-card cleanup deals with."""
        with self.store.transaction() as db:
            self._insert_card(db, card_number=card_number, citizen_id=citizen_id, name=name,
                              birth_date=birth_date.isoformat(), region=region, action="import", chips=chips,
                              issued_at=datetime.combine(issued, datetime.min.time()))
        return self.card_view(OPERATOR, card_number)

    def _insert_card(self, db, *, card_number: str, citizen_id: str, name: str, birth_date: str, region: str,
                     action: str, chips: Sequence[str], succeeds: str | None = None,
                     issued_at: datetime | None = None) -> None:
        if db.execute("SELECT 1 FROM cards WHERE card_number = ?", (card_number,)).fetchone():
            raise Conflict(f"card {card_number} is already issued", code="card_exists")
        for chip in chips:
            if db.execute("SELECT 1 FROM chips WHERE chip = ?", (chip,)).fetchone():
                raise Conflict(f"chip {chip} already belongs to a card", code="chip_exists")
        initial = self.platform_profile["lifecycle"]["initial"]
        db.execute("INSERT INTO cards (card_number, citizen_id, name, birth_date, region, status, issued_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (card_number, citizen_id, name, birth_date, region, initial,
                    (issued_at or self.clock()).isoformat()))
        self._take_current(db, citizen_id, card_number, action=action, succeeds=succeeds)
        db.execute("INSERT INTO card_history (card_number, action, to_status, at) VALUES (?, ?, ?, ?)",
                   (card_number, action, initial, self.clock().isoformat()))
        db.executemany("INSERT INTO chips VALUES (?, ?)", [(chip, card_number) for chip in dict.fromkeys(chips)])

    def _take_current(self, db, citizen_id: str, card_number: str, *, action: str, succeeds: str | None) -> None:
        """Make the new card its holder's current one, unless the holder has another live card it
        does not supersede (`succeeds`): then an import is kept beside it, not current, and an issue
        is refused where one person has one card (elsewhere the card issued last is current)."""
        lifecycle = self.platform_profile["lifecycle"]
        held = db.execute("SELECT card_number, status FROM holders JOIN cards USING (card_number) "
                          "WHERE holders.citizen_id = ?", (citizen_id,)).fetchone()
        if held is not None and held["card_number"] != succeeds and held["status"] in lifecycle["live"]:
            if action == "import":
                return
            if lifecycle["one_card_per_person"]:
                raise Conflict(f"the holder of card {card_number} has a live card ({held['status']}) already: one "
                               f"person one card", code="holder_has_card")
        db.execute("INSERT OR REPLACE INTO holders VALUES (?, ?)", (citizen_id, card_number))

    def transition(self, card_number: str, action: str, *, new_card_number: str | None = None,
                   new_chips: Sequence[str] = ()) -> dict:
        """Apply a lifecycle action (platform.yaml `lifecycle.actions`); Conflict naming the state and
        the action when the card's state does not allow it. Reissue and replace supersede the card
        with `new_card_number` (chips `new_chips`), bound to every department the old one was bound to."""
        view = self._transition(card_number, action, new_card_number=new_card_number, new_chips=new_chips)
        self.crash(LIFECYCLE_COMMITTED)
        return view

    def _transition(self, card_number: str, action: str, *, new_card_number: str | None,
                    new_chips: Sequence[str]) -> dict:
        actions = self.platform_profile["lifecycle"]["actions"]
        if action not in actions:
            raise Invalid(f"no lifecycle action {action!r}; actions: {', '.join(actions)}")
        spec = actions[action]
        if spec.get("new_card") and not new_card_number:
            raise Invalid(f"{action} needs new_card_number, the number of the card that supersedes this one")
        with self.store.transaction() as db:
            card = db.execute("SELECT * FROM cards WHERE card_number = ?", (card_number,)).fetchone()
            if card is None:
                raise NotFound(f"no card {card_number}")
            if card["status"] not in spec["from"]:
                raise Conflict(f"card {card_number} is {card['status']}: {action} is allowed only from "
                               f"{' or '.join(spec['from'])}", code="invalid_transition")
            if action == "activate_financial":
                if card["financial_active"]:
                    raise Conflict(f"card {card_number} is normal with its financial account already active: "
                                   "activate_financial done before", code="invalid_transition")
                db.execute("UPDATE cards SET financial_active = 1 WHERE card_number = ?", (card_number,))
                self._record(db, card_number, action, card["status"], card["status"])
                return self._view_row(db, card_number, self.purposes[OPERATOR])
            if spec.get("new_card"):
                self._insert_card(db, card_number=new_card_number, citizen_id=card["citizen_id"], name=card["name"],
                                  birth_date=card["birth_date"], region=card["region"], action=action,
                                  chips=new_chips, succeeds=card_number)
                db.execute("INSERT INTO bindings SELECT department, ? FROM bindings WHERE card_number = ?",
                           (new_card_number, card_number))
            db.execute("UPDATE cards SET status = ?, superseded_by = ? WHERE card_number = ?",
                       (spec["to"], new_card_number, card_number))
            self._record(db, card_number, action, card["status"], spec["to"], superseded_by=new_card_number)
            return self._view_row(db, card_number, self.purposes[OPERATOR])

    def _record(self, db, card_number: str, action: str, before: str, after: str, *,
                superseded_by: str | None = None) -> None:
        """History, blacklist change and callbacks of one status change, in the same transaction."""
        at = self.clock().isoformat()
        history = db.execute("INSERT INTO card_history (card_number, action, from_status, to_status, at) "
                             "VALUES (?, ?, ?, ?, ?)", (card_number, action, before, after, at)).lastrowid
        listed = self.platform_profile["lifecycle"]["blacklisted"]
        if (before in listed) != (after in listed):
            db.execute("INSERT INTO blacklist_changes (card_number, listed, at) VALUES (?, ?, ?)",
                       (card_number, int(after in listed), at))
        event = {"event_id": f"evt-{history}", "card_number": card_number, "action": action, "from_status": before,
                 "status": after, "at": at}
        if superseded_by:
            event["superseded_by"] = superseded_by
        for row in db.execute("SELECT id, purpose FROM departments WHERE callback_url IS NOT NULL").fetchall():
            if self._sees(db, row["id"], self.purposes[row["purpose"]], card_number):
                allowed = set(self.purposes[row["purpose"]]["fields"]) | {"event_id", "action", "from_status", "at"}
                if "status" in allowed:
                    allowed.add("superseded_by")
                callbacks.enqueue(db, event_id=event["event_id"], department=row["id"], now=self.now(),
                                  event={k: v for k, v in event.items() if k in allowed})

    @staticmethod
    def _sees(db, department: str, purpose: dict, card_number: str) -> bool:
        if purpose["cards"] == "all":
            return True
        return db.execute("SELECT 1 FROM bindings WHERE department = ? AND card_number = ?",
                          (department, card_number)).fetchone() is not None

    def _view_row(self, db, card_number: str, purpose: dict) -> dict:
        card = dict(db.execute("SELECT cards.*, holders.card_number AS current FROM cards LEFT JOIN holders "
                               "USING (citizen_id) WHERE cards.card_number = ?", (card_number,)).fetchone())
        card["financial_active"] = bool(card["financial_active"])
        return {field: card[field] for field in purpose["fields"] if card.get(field) is not None}

    def card_view(self, department: str, card: str) -> dict:
        """The card (by its number or a chip identifier) as `department`'s purpose permits, or
        NotFound alike for an unknown card and for a card the department may not see."""
        purpose = self.purpose_of(department)
        with self.store.lock:  # the reads of one answer together, never inside another thread's transaction
            db = self.store.db
            row = db.execute("SELECT card_number FROM cards WHERE card_number = ? UNION "
                             "SELECT card_number FROM chips WHERE chip = ?", (card, card)).fetchone()
            if row is None or not self._sees(db, department, purpose, row["card_number"]):
                raise NotFound(f"no card {card} visible to department {department!r}")
            return self._view_row(db, row["card_number"], purpose)

    def verify_identity(self, department: str, *, card_number: str, citizen_id: str, name: str) -> dict:
        """Real-name check (实名核验): the card data presented against the registry. A match on a
        usable card binds the card to the department (it may then read it within its purpose).
        The answer never says which field differed, nor what the registry holds."""
        rows = self.store.query("SELECT citizen_id, name, status FROM cards WHERE card_number = ?", (card_number,))
        if not rows or rows[0]["citizen_id"] != citizen_id or rows[0]["name"] != name:
            return {"verified": False, "reason": "no_match"}
        if rows[0]["status"] in self.platform_profile["lifecycle"]["blacklisted"]:
            return {"verified": False, "reason": "card_not_usable"}
        with self.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO bindings VALUES (?, ?)", (department, card_number))
        return {"verified": True, "reason": "verified"}

    # -- blacklist -----------------------------------------------------------------------------

    def _with_chips(self, card_numbers: Iterable[str]) -> list[str]:
        """Card numbers and the chip identifiers of those cards: what a terminal can look up."""
        numbers = list(card_numbers)
        marks = ",".join("?" * len(numbers))
        chips = self.store.query(f"SELECT chip FROM chips WHERE card_number IN ({marks})", numbers) if numbers else []
        return sorted(numbers + [row["chip"] for row in chips])

    def blacklist(self, since: int | None = None) -> dict:
        """The full list (since None) or the delta after version `since`: the net change per card,
        each card as its number and its chips' identifiers."""
        version = self.store.query("SELECT coalesce(max(version), 0) AS v FROM blacklist_changes")[0]["v"]
        delay = self.platform_profile["blacklist"]["propagation_delay_seconds"]
        if since is None:
            listed = self.platform_profile["lifecycle"]["blacklisted"]
            cards = self._with_chips(r["card_number"] for r in self.store.query(
                f"SELECT card_number FROM cards WHERE status IN ({','.join('?' * len(listed))}) ORDER BY card_number",
                listed))
            return {"version": version, "propagation_delay_seconds": delay, "cards": cards}
        if since > version:
            raise Conflict(f"since={since} is ahead of the blacklist's version {version}", code="version_ahead")
        final: dict[str, int] = {}
        for row in self.store.query("SELECT card_number, listed FROM blacklist_changes WHERE version > ? "
                                    "ORDER BY version", (since,)):
            final[row["card_number"]] = row["listed"]
        return {"since": since, "version": version, "propagation_delay_seconds": delay,
                "added": self._with_chips(c for c, v in final.items() if v),
                "removed": self._with_chips(c for c, v in final.items() if not v)}

    # -- catalogue and data return ---------------------------------------------------------------

    def catalogue(self, region: str) -> list[dict]:
        """The application catalogue of `region`: the national one (platform.yaml), or the run's own
        region's, each application of its region.yaml with the purposes that use it."""
        regions = dict(self.platform_profile["catalogue"]["regions"])
        if self.profile.region is not None:
            regions[self.profile.region] = [{key: application[key] for key in ("id", "zh", "purposes")}
                                            for application in self.profile.region_document["applications"]]
        if region not in regions:
            raise NotFound(f"no application catalogue for region {region!r}; regions: {', '.join(regions)}")
        return regions[region]

    def report_use(self, department: str, *, event_id: str, card_number: str, kind: str, at: datetime,
                   site: str) -> dict:
        """数据回流: one card-use event. The same id with the same content answers as before; the
        same id with other content is a Conflict (a retry never counts twice, a clash is never hidden)."""
        self.card_view(department, card_number)  # a department reports only cards it may see
        event = (card_number, kind, at.isoformat(), site)
        with self.store.transaction() as db:
            row = db.execute("SELECT card_number, kind, at, site FROM usage_events WHERE department = ? "
                             "AND event_id = ?", (department, event_id)).fetchone()
            if row is not None:
                if tuple(row) != event:
                    raise Conflict(f"event {event_id!r} was reported before with other content", code="event_conflict")
                return {"event_id": event_id, "duplicate": True}
            db.execute("INSERT INTO usage_events VALUES (?, ?, ?, ?, ?, ?)", (department, event_id, *event))
        self.crash(USE_COMMITTED)
        return {"event_id": event_id, "duplicate": False}

    def usage_summary(self, department: str) -> list[dict]:
        """Counts of reported events by department, kind and day: the department's own, or every
        department's for the operator (aggregates only: no card numbers)."""
        where, args = ("", ()) if department == OPERATOR else ("WHERE department = ?", (department,))
        return [dict(r) for r in self.store.query(
            f"SELECT department, kind, substr(at, 1, 10) AS day, count(*) AS count FROM usage_events {where} "
            "GROUP BY department, kind, day ORDER BY department, kind, day", args)]

    # -- callbacks -----------------------------------------------------------------------------

    def deliver_callbacks(self, send: callbacks.Sender) -> int:
        return callbacks.deliver_due(self.store, now=self.now(),
                                     schedule=self.platform_profile["callbacks"]["retry_schedule_seconds"], send=send,
                                     crash=self.crash)

    def deliveries(self, department: str) -> list[dict]:
        return callbacks.deliveries(self.store, department)

    # -- e-codes -------------------------------------------------------------------------------

    def _ecode_keys(self) -> tuple[ecode.Issuer, ecode.KeyChain]:
        """The CA keys (one production, one test), the issuer key and its certificate: made from the
        seed on first start and kept in the store, so codes issued before a restart still verify."""
        rows = {r["key"]: r["value"] for r in self.store.query("SELECT key, value FROM meta")}
        if "issuer" not in rows:
            rng = seeds.generator(self.seed, "platform", "ecode-keys")
            ca, test_ca, issuer = (sm2.generate_keypair(rng)[0] for _ in range(3))
            certificate = ecode.CertificateAuthority(PRODUCTION_CA, ca).certify(
                issuer_id=b"\x41\x00\x00\x01", issuer_key=sm2.public_key_of(issuer),
                expires=self.clock().date() + timedelta(days=3650), serial=1, rng=rng)
            rows = {"ca": ca, "test_ca": test_ca, "issuer": issuer, "certificate": certificate.encode()}
            with self.store.transaction() as db:
                db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
        chain = ecode.KeyChain([ecode.CaKey(PRODUCTION_CA, sm2.public_key_of(rows["ca"]), test=False),
                                ecode.CaKey(TEST_CA, sm2.public_key_of(rows["test_ca"]), test=True)])
        issuer = ecode.Issuer(ecode.IssuerCertificate.decode(rows["certificate"]), rows["issuer"], self.ecode_profile)
        return issuer, chain

    def issue_ecode(self, *, card_number: str, kind: str) -> ecode.ECode:
        """A fresh code of `kind` for a usable card, bound to its holder: the platform keeps the
        user key it authorised (for the authorisation's days) and signs the display now."""
        if kind not in self.ecode_profile["kinds"]:
            raise Invalid(f"e-code kind {kind!r}; kinds: {', '.join(self.ecode_profile['kinds'])}")
        rows = self.store.query("SELECT * FROM cards WHERE card_number = ?", (card_number,))
        if not rows:
            raise NotFound(f"no card {card_number}")
        card = rows[0]
        if card["status"] in self.platform_profile["lifecycle"]["blacklisted"]:
            raise Conflict(f"card {card_number} is {card['status']}: no e-code for it", code="card_not_usable")
        now = self.now()
        rng = seeds.generator(self.seed, "platform", "ecode", card_number, kind, now)
        user = self.store.query("SELECT private_key, authorisation FROM ecode_users WHERE card_number = ? "
                                "AND kind = ?", (card_number, kind))
        if user and ecode.Authorisation.decode(user[0]["authorisation"]).expires_at >= now:
            private_key, authorisation = user[0]["private_key"], ecode.Authorisation.decode(user[0]["authorisation"])
        else:
            private_key, public_key = sm2.generate_keypair(rng)
            authorisation = self._issuer.authorise(
                card_number=card_number, holder=ecode.holder_binding(card["citizen_id"], card["name"]),
                region=card["region"], kind=kind, user_key=public_key, now=self.clock(), rng=rng)
            with self.store.transaction() as db:
                db.execute("INSERT OR REPLACE INTO ecode_users VALUES (?, ?, ?, ?)",
                           (card_number, kind, private_key, authorisation.encode()))
        return ecode.display(certificate=self._issuer.certificate, authorisation=authorisation,
                             user_private_key=private_key, now=self.clock(), rng=rng)

    def verify_ecode(self, department: str, payload: bytes) -> dict:
        """Online verification: the key chain, the store's log of scanned codes, the live registry.
        The card number is in the answer only if the department may see the card."""
        listed = self.platform_profile["lifecycle"]["blacklisted"]

        def revoked(card_number: str) -> bool:
            rows = self.store.query("SELECT status FROM cards WHERE card_number = ?", (card_number,))
            return not rows or rows[0]["status"] in listed

        verdict = ecode.verify(payload, chain=self.key_chain, profile=self.ecode_profile, now=self.clock(),
                               replay=self._scanned, revoked=revoked)
        answer = {"valid": verdict.valid, "reason": verdict.reason.value, "detail": verdict.detail,
                  "kind": verdict.kind}
        if verdict.valid and verdict.card_number:
            with suppress(NotFound):  # the code is good; the card may not be this department's to see
                answer["card"] = self.card_view(department, verdict.card_number)
        return answer


class _ExpiringLog:
    """Entries kept in one table of the store until a Unix second (its last column, `until`): the
    request nonces, the platform's log of scanned codes (`ecode.ReplayLog`). In the store, so they
    survive a restart; not waiting for the disk, so only a power cut (not a crash) loses some: a
    nonce lives minutes and a code one minute, less than the platform takes to come back from one.

    The entries past their second are deleted by the first entry of each clock second, not by every
    one (a statement less per request). The answers are those of a delete before every entry: no
    entry is made until a second before its own, so once the first of a second has deleted those
    past it, none kept is past that second until the clock moves on."""

    def __init__(self, store: Store, table: str) -> None:
        self.store, self.table = store, table
        #: the clock second whose first entry deleted the ones past it
        self._purged: int | None = None

    def first_use(self, *key: object, now: int, until: int) -> bool:
        """Record `key` (the columns before `until`) until `until`; False if it is kept already."""
        with self.store.transaction(durable=False) as db:
            if now != self._purged:
                db.execute(f"DELETE FROM {self.table} WHERE until < ?", (now,))
            marks = ", ".join("?" * (len(key) + 1))
            added = db.execute(f"INSERT OR IGNORE INTO {self.table} VALUES ({marks})", (*key, until)).rowcount
            self._purged = now
        return added == 1


def open_store(path: str) -> Store:
    """The platform's store at `path` (':memory:' for a throw-away one)."""
    return Store(path, MIGRATIONS)
