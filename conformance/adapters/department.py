"""`http:<url>` when the service there is a department's system: the DUT's `department` role.

`conformance.adapters.http.make` asks `GET /info` first; a service answering `kind: department`
(profiles/national/department_api.yaml) is driven through this adapter instead of the terminal
control protocol. The suite plays the platform: it points the department at it (`configure`),
posts callbacks to its endpoint (`notify`, the status it answered), triggers its flow (`run_flow`),
lends and takes back items where it declares `lending` (`lend`, `take_back`) and reads what it
holds (`state`). Every answer is checked against the document; an unreachable
service, a timeout or an answer outside the document is a `LinkError`: the verdict is *broken*.

    --dut http://127.0.0.1:8900          a department served by `ykt department serve`
    --dut-info timeout=30                seconds one control call may take (a flow waits out Retry-After)
"""

from __future__ import annotations

import httpx

from conformance.adapters import documents
from conformance.dut import DUT
from simulator.profile import PROFILE_ROOT, Profile
from simulator.transport.errors import LinkError, LinkTimeoutError, ServiceUnavailableError

API_PATH = PROFILE_ROOT / "national" / "department_api.yaml"


class DepartmentServiceError(LinkError):
    """The department's service failed, or answered outside department_api.yaml (verdict *broken*)."""


def department_info(url: str, *, timeout: float) -> dict | None:
    """The /info of the service at `url` if it says it is a department, else None (also when it
    cannot be reached: the caller's own adapter then reports that)."""
    try:
        answer = httpx.get(url.rstrip("/") + "/info", timeout=timeout, trust_env=False)
        info = answer.json()
    except (httpx.HTTPError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("kind") == "department" else None


class ServedDepartment:
    """The department at `url` (a `conformance.dut.DepartmentRole`)."""

    def __init__(self, url: str, info: dict, *, timeout: float, profile: Profile) -> None:
        wrong = documents.problems(API_PATH, info, "Info")
        if wrong:
            raise DepartmentServiceError(f"{url}/info is not an Info of department_api.yaml: {'; '.join(wrong)}")
        self.url, self.info = url.rstrip("/"), info
        self.name = f"{info['zh']} ({info['department_kind']})"
        self.purpose = info["purpose"]
        #: until a declaration says otherwise, what a department may declare
        self.capabilities = frozenset(profile["ics"]["department"])
        self._http = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)

    def _call(self, method: str, path: str, *, schema: str | None, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise LinkTimeoutError(f"{method} {self.url}{path}: no answer in time ({exc})") from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(f"{method} {self.url}{path}: {exc}") from exc
        if schema is not None:
            if response.status_code != 200:
                raise DepartmentServiceError(f"{method} {self.url}{path} answered {response.status_code}: "
                                             f"{response.text[:300]}")
            try:
                wrong = documents.problems(API_PATH, response.json(), schema)
            except ValueError:
                wrong = ["the body is not JSON"]
            if wrong:
                raise DepartmentServiceError(f"{method} {self.url}{path}: not a {schema} of department_api.yaml: "
                                             f"{'; '.join(wrong[:5])}")
        return response

    def identity(self) -> dict:
        return {"name": self.name, "url": self.url, **{k: self.info[k] for k in ("department_kind", "purpose", "flow")}}

    def configure(self, *, platform_url: str, department_id: str, secret: bytes) -> None:
        response = self._call("PUT", "/control/platform", schema=None,
                              json={"platform_url": platform_url, "department_id": department_id,
                                    "secret": secret.hex()})
        if response.status_code != 204:
            raise DepartmentServiceError(f"PUT {self.url}/control/platform answered {response.status_code}: "
                                         f"{response.text[:300]}")

    def notify(self, headers: dict[str, str], body: bytes) -> int:
        return self._call("POST", "/callbacks", schema=None, content=body,
                          headers={**headers, "content-type": "application/json"}).status_code

    def run_flow(self, card: dict) -> dict:
        return self._call("POST", "/control/flows", schema="FlowOutcome", json={"card": card}).json()

    def lend(self, card: dict, item_id: str) -> dict:
        return self._call("POST", "/control/loans", schema="FlowOutcome",
                          json={"card": card, "item_id": item_id}).json()

    def take_back(self, item_id: str, card: dict | None = None) -> dict:
        body = {"item_id": item_id, **({"card": card} if card is not None else {})}
        return self._call("POST", "/control/returns", schema="FlowOutcome", json=body).json()

    def state(self) -> dict:
        return self._call("GET", "/control/state", schema="DepartmentState").json()

    def close(self) -> None:
        self._http.close()


def make(url: str, info: dict, *, settings: dict[str, str], timeout: float, profile: Profile) -> DUT:
    """The DUT of the department at `url` whose /info is `info`, certified against `profile`."""
    if "capabilities" in settings:
        raise ValueError("a department declares its capabilities in its ICS (--ics FILE), not --dut-info")
    department = ServedDepartment(url, info, timeout=timeout, profile=profile)
    return DUT(name=department.name, department=department, info={"dut_name": department.name,
                                                                  "purpose": department.purpose})
