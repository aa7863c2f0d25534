"""One certification session of a department: the platform the suite plays, the department pointed
at it, synthetic card holders, signed and crafted callbacks, and the record of what followed.

The oracle is the profile: the callback signature and tolerance (national.platform `callbacks`),
request signing (`request_signing`), the retry rule (`clients`), the lifecycle, and what each
purpose may call and read (`purposes`). Holders are synthetic (测试 names, made-up numbers).
"""

from __future__ import annotations

import json
import time
from datetime import date

from conformance.dut import DepartmentRole
from simulator import seeds
from simulator.backend.platform.serve import wall_clock
from simulator.backend.platform.signing import callback_headers, request_signature_matches
from simulator.card import personas
from simulator.ecode import epoch_seconds
from simulator.profile import Profile

from ._platform import RecordingPlatform, Request

#: seconds a negative test waits for a department to do something it should not
QUIET_SECONDS = 0.5
#: slack on a measured wait (the recorder's and the department's clocks tick apart)
SLACK_SECONDS = 0.05
SURNAMES = "赵钱孙李周吴郑王"


class Integration:
    def __init__(self, department: DepartmentRole, platform: RecordingPlatform, *, seed: int,
                 profile: Profile) -> None:
        self.department, self.platform, self.seed = department, platform, seed
        self.profile = profile
        #: the run's platform document: purposes, lifecycle, callbacks, client rules
        self.platform_profile = profile["platform"]
        self.purpose = self.platform_profile["purposes"]["declared"][department.purpose]
        self.rng = seeds.generator(seed, "integration")
        self.department_id = f"dut-{self.rng.randbytes(4).hex()}"
        self.secret = platform.register(department_id=self.department_id, purpose=department.purpose,
                                        callback_url=department.url + "/callbacks")
        department.configure(platform_url=platform.url, department_id=self.department_id, secret=self.secret)
        self._holders = 0

    # -- holders and their cards -----------------------------------------------------------------

    def holder(self, *, financial_active: bool = True) -> dict:
        """A new synthetic holder with a usable card (its financial account active unless
        `financial_active` is False), issued by the platform: what the chip presents."""
        self._holders += 1
        number = f"D{self.rng.randrange(16**8):08X}"
        born = date(1960 + self.rng.randrange(40), 1 + self.rng.randrange(12), 1 + self.rng.randrange(28))
        card = {"card_number": number, "citizen_id": f"410203{born:%Y%m%d}{self.rng.randrange(1000):03d}X",
                "name": f"测试{SURNAMES[self._holders % len(SURNAMES)]}{self._holders}", "birth_date": born.isoformat()}
        self.platform.platform.issue_card(card_number=number, citizen_id=card["citizen_id"], name=card["name"],
                                          birth_date=born, region="410200")
        if financial_active:
            self.platform.platform.transition(number, "activate_financial")
        return card

    def beside_current_card(self, persona: str) -> tuple[dict, dict]:
        """The holder of `persona`'s card (issued by a registry kept before the platform's) is issued a
        card by the platform, then the persona's card is imported beside it (存量卡), so it is not
        the holder's current card: (the current card, the persona's), as their chips present them,
        both financial accounts active. The persona's citizen number is none of `holder`'s."""
        resolved = personas.resolve(persona, as_of=wall_clock().date(), profile=self.profile)
        values, region = resolved.values, self.profile.persona(persona)["region"]
        holder = {"citizen_id": values["citizen_id"], "name": values["name"],
                  "birth_date": values["birth_date"].isoformat()}
        current = {"card_number": f"D{self.rng.randrange(16**8):08X}", **holder}
        old = {"card_number": values["card_number"], **holder}
        self.platform.platform.issue_card(card_number=current["card_number"], citizen_id=holder["citizen_id"],
                                          name=holder["name"], birth_date=values["birth_date"], region=region)
        self.platform.platform.import_card(card_number=old["card_number"], citizen_id=holder["citizen_id"],
                                           name=holder["name"], birth_date=values["birth_date"], region=region,
                                           issued=values["issue_date"])
        for card in (current, old):
            self.platform.platform.transition(card["card_number"], "activate_financial")
        return current, old

    def item(self) -> str:
        """A new id of an item a library lends (department_api.yaml ItemId)."""
        return f"BK-{self.rng.randbytes(4).hex()}"

    def transition(self, card: dict, action: str) -> dict:
        """Apply a lifecycle action at the platform; for reissue/replace, the superseding card presented
        (its financial account activated, as the holder's old one was)."""
        spec = self.platform_profile["lifecycle"]["actions"][action]
        new = f"D{self.rng.randrange(16**8):08X}" if spec.get("new_card") else None
        self.platform.platform.transition(card["card_number"], action, new_card_number=new)
        if new is None:
            return card
        self.platform.platform.transition(new, "activate_financial")
        return {**card, "card_number": new}

    def served(self) -> dict:
        """A holder the department has served once (so a bound purpose sees the card): positive control."""
        card = self.holder()
        outcome = self.department.run_flow(card)
        assert outcome["outcome"] == "served", (
            f"{self.department.name} did not serve a holder whose card is usable and identity matches "
            f"({outcome['outcome']}: {outcome['reason']}): nothing else can be judged of it")
        return card

    # -- callbacks -------------------------------------------------------------------------------

    def events(self, card: dict) -> list[tuple[str, bytes]]:
        return self.platform.events(self.department_id, card["card_number"])

    def signed(self, event_id: str, body: bytes, *, timestamp: int | None = None,
               secret: bytes | None = None) -> dict[str, str]:
        """The callback headers the profile prescribes, with the department's secret unless another is given."""
        return callback_headers(secret=self.secret if secret is None else secret, event_id=event_id,
                                timestamp=epoch_seconds(wall_clock()) if timestamp is None else timestamp, body=body)

    def crafted(self, card: dict, *, status: str = "lost", action: str = "report_lost") -> tuple[str, bytes]:
        """A status change the platform never made (department_api.yaml StatusChange), for negative cases."""
        event_id = f"evt-x{self.rng.randbytes(4).hex()}"
        body = {"event_id": event_id, "card_number": card["card_number"], "action": action, "from_status": "normal",
                "status": status, "at": wall_clock().isoformat()}
        return event_id, json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def held(self, card: dict) -> dict | None:
        return self.department.state()["cards"].get(card["card_number"])

    def applied(self) -> list[str]:
        return self.department.state()["applied"]

    def quiet_after(self, mark: int) -> list[Request]:
        """What the department sent the platform after `mark`, waiting QUIET_SECONDS for it to act."""
        time.sleep(QUIET_SECONDS)
        return self.platform.since(mark)

    # -- the record, judged by the profile ---------------------------------------------------------

    def signature_problems(self, request: Request) -> list[str]:
        missing = [h for h in ("x-department", "x-timestamp", "x-nonce", "x-signature") if not request.headers.get(h)]
        if missing:
            return [f"{request.method} {request.path} has no {', '.join(missing)}"]
        if request.headers["x-department"] != self.department_id:
            return [f"{request.method} {request.path} names X-Department {request.headers['x-department']!r}, "
                    f"not the id it was registered under"]
        if not request_signature_matches(self.secret, request.headers["x-signature"], method=request.method,
                                         path=request.target, timestamp=request.headers["x-timestamp"],
                                         nonce=request.headers["x-nonce"], body=request.body):
            return [f"{request.method} {request.path}: X-Signature is not HMAC-SM3 over method, target, timestamp, "
                    f"nonce and the body's SM3 with the department's secret"]
        return []

    def cards_named(self, request: Request) -> set[str]:
        """The card numbers a request asks or tells about (in its path or its body)."""
        parts = request.path.split("/")
        named = {parts[2]} if len(parts) > 2 and parts[1] == "cards" else set()
        body = request.json()
        if isinstance(body, dict) and isinstance(body.get("card_number"), str):
            named.add(body["card_number"])
        return named


def requests_to(requests: list[Request], method: str, path: str) -> list[Request]:
    return [r for r in requests if r.method == method and r.path == path]
