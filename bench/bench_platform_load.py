"""Load on the served platform: requests/s and p99 latency of the card-status query and of the
e-code verification, each against a bare FastAPI endpoint of the same shape (target: within 1.5x).

Why against a bare endpoint: the figures of one HTTP service on a shared 2-core machine mean little
alone; a trivial JSON handler served by the same uvicorn, on the same loopback, driven by the same
client in the same run, is the floor, and the ratio is what the platform's own work costs (the
signature check, the nonce kept, the purpose check, the store, the SM2 chain) whatever the machine.

How: each app is its own process (`python -m bench.bench_platform_load serve ...`), one uvicorn
worker, the same settings for both, so the server has one core and this process, the client, the
other. The routes measured run on the event loop in both apps (async handlers): the platform's
do, so as not to pay two thread hops per request (simulator/backend/platform/api.py), and the bare
app's changed with them (they were sync, as the platform's were), so the floor keeps its shape.
The client is one `httpx.AsyncClient` with CONCURRENCY requests in flight; every request is signed
as a department's client signs it (`request_headers`: HMAC-SM3, fresh nonce, the wall clock), the
bare endpoint gets the same headers and bodies, so the client's work is the same for both. The
platform keeps its state in a file (WAL; synchronous=FULL, NORMAL for the nonces and the scanned
codes), with a transit department registered and CARDS cards issued; each verification scans a
fresh e-code once (codes are made here before the servers start: signing them, pure-Python SM2,
is most of this benchmark's time). 1,500 verifications, not fewer: a p99 is the 1 % slowest, and of
500 it is the 5th slowest answer, which one scheduling hiccup of the shared machine moves by half
(ratios x0.97 to x1.92 over runs of one build); of 1,500 it is the 15th.
Every answer is checked (200, and a valid verdict for each code): a benchmark of refusals would
measure nothing. Bounded: a fixed number of requests per figure, servers stopped at the end.

The CPU each side spends per request is printed too: on this machine the client (httpx, pure
Python HTTP) costs more per request than the bare server, so the bare figures are the client's
limit ("client-bound") and the req/s ratio understates the platform's own cost; the server CPU
ratio is that cost. CONCURRENCY is 4 because httpx's pool costs the client more per request the
more are in flight (16 in flight cost it twice what 4 do).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from simulator import seeds
from simulator.backend.loopback import free_port, wait_until_serving
from simulator.backend.platform.serve import wall_clock
from simulator.backend.platform.signing import request_headers
from simulator.clock import Clock
from simulator.ecode import epoch_seconds

TARGET = 1.5
SEED = 20261213
CONCURRENCY = 4
STATUS_REQUESTS, CODES, WARMUP = 3000, 1500, 100
CARDS = 50
OPERATOR_SECRET = bytes(32)
DEPARTMENT = "bench-metro"


@dataclass(frozen=True)
class Figure:
    """One load run: requests per second, the 99th-percentile latency, and the CPU time the
    server and this client spent per request (which of the two bounds the rate)."""

    rate: float
    p99_ms: float
    server_ms: float
    client_ms: float


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# -- the servers (each in its own process) --------------------------------------------------------

def bare_app():
    """Routes of the platform's shape (async handlers on the event loop, as the platform's card
    status and e-code verification are) that answer at once: what serving a JSON request costs here."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/cards/{card_number}")
    async def card_status(card_number: str) -> dict:
        return {"card_number": card_number, "status": "normal"}

    @app.post("/ecodes/verifications")
    async def verify_ecode(body: dict) -> dict:
        return {"valid": True, "reason": "valid", "detail": "", "kind": "essc"}

    return app


def platform_app(db: str):
    """The real platform's app over the store prepared in `db`, on the wall clock (as served)."""
    from simulator.backend.platform import Platform, open_store
    from simulator.backend.platform.api import make_app

    return make_app(Platform(open_store(db), clock=wall_clock, seed=SEED, operator_secret=OPERATOR_SECRET))


def serve(kind: str, port: int, db: str) -> None:
    """Serve `kind` (bare or platform) with the settings both share, until terminated."""
    import uvicorn

    app = bare_app() if kind == "bare" else platform_app(db)
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def start(kind: str, db: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.bench_platform_load", "serve", kind, str(port), str(db)],
                               stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url + "/openapi.json", process=process)
    return process, url


# -- the platform's state -------------------------------------------------------------------------

def prepare(db: Path) -> tuple[bytes, list[str], list[str]]:
    """A transit department's secret, the cards issued and one fresh e-code (hex) per verification,
    all in the store at `db`. The codes are displayed at distinct seconds from now on (each card's
    code changes each second), so all are in their 60 s validity once the servers run."""
    from simulator.backend.platform import Platform, open_store

    clock = Clock(wall_clock().replace(microsecond=0))
    store = open_store(str(db))
    platform = Platform(store, clock=clock, seed=SEED, operator_secret=OPERATOR_SECRET)
    secret = platform.register_department(department_id=DEPARTMENT, name="bench metro", purpose="transit",
                                          callback_url=None)
    cards = [f"K{n:08d}" for n in range(1, CARDS + 1)]
    for n, card in enumerate(cards):
        platform.issue_card(card_number=card, citizen_id=f"41020319850615{n:03d}1", name=f"测试{n}",
                            birth_date=clock().date().replace(year=1985), region="410200")
    codes = []
    while len(codes) < CODES + WARMUP:
        codes += [platform.issue_ecode(card_number=card, kind="essc").encode().hex() for card in cards]
        clock.advance(1)
    store.close()
    return secret, cards, codes[:CODES + WARMUP]


# -- the client -----------------------------------------------------------------------------------

class WrongAnswer(Exception):
    """A server answered a request otherwise than it should: the figures would measure refusals."""


Request = tuple[str, str, bytes]  # method, path, body


async def drive(url: str, pid: int, requests: list[Request], secret: bytes, check, *, name: str) -> Figure:
    """Send `requests` to the server `url` (process `pid`) signed, CONCURRENCY at a time; the first WARMUP are not
    timed. `check(answer)` says what is wrong with an answer (None: nothing); nonces are drawn from
    the generator of `name` (one per run, so no two runs share one)."""
    rng = seeds.generator(SEED, "bench", "nonces", name)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30, trust_env=False) as client:

        async def send(method: str, path: str, body: bytes) -> float:
            headers = request_headers(department=DEPARTMENT, secret=secret, method=method, path=path,
                                      timestamp=epoch_seconds(wall_clock()), nonce=rng.randbytes(12).hex(), body=body)
            if body:
                headers["content-type"] = "application/json"
            began = time.perf_counter()
            answer = await client.request(method, path, content=body, headers=headers)
            took = time.perf_counter() - began
            wrong = check(answer)
            if wrong:
                raise WrongAnswer(f"{name}: {method} {path}: {wrong}")
            return took

        async def run(batch: list) -> list[float]:
            queue = iter(batch)
            latencies: list[float] = []

            async def worker() -> None:
                for request in queue:
                    latencies.append(await send(*request))

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return latencies

        await run(requests[:WARMUP])
        began, served, own = time.perf_counter(), cpu_seconds(pid), _own_cpu()
        latencies = await run(requests[WARMUP:])
        elapsed, served, own = time.perf_counter() - began, cpu_seconds(pid) - served, _own_cpu() - own
    n = len(latencies)
    return Figure(n / elapsed, statistics.quantiles(latencies, n=100)[98] * 1000, served / n * 1000, own / n * 1000)


def _ok(answer: httpx.Response) -> str | None:
    return None if answer.status_code == 200 else f"HTTP {answer.status_code} {answer.text[:200]}"


def _valid(answer: httpx.Response) -> str | None:
    """An e-code verification's answer is wrong unless it found the code valid (the bare endpoint's
    always does: the check costs the client the same for both)."""
    return _ok(answer) or (None if answer.json().get("valid") else f"code refused: {answer.text[:200]}")


def _row(name: str, figure: Figure, base: Figure | None = None) -> str:
    """One figure as a table row; against `base`, with its ratios (how many times slower)."""
    row = (f"  {name:<11} {figure.rate:>7,.0f} req/s  p99 {figure.p99_ms:>6.1f} ms   "
           f"CPU/request: server {figure.server_ms:.2f} ms, client {figure.client_ms:.2f} ms")
    if base is None:
        return row + ("   (client-bound)" if figure.client_ms > figure.server_ms else "")
    ratios = (base.rate / figure.rate, figure.p99_ms / base.p99_ms)
    return (row + f"\n  {'':<11} ratios: req/s x{ratios[0]:.2f}, p99 x{ratios[1]:.2f} (target <= {TARGET}: "
            f"{'met' if max(ratios) <= TARGET else 'NOT MET'}); server CPU x{figure.server_ms / base.server_ms:.2f}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "platform.sqlite"
        made = time.perf_counter()
        secret, cards, codes = prepare(db)
        made = time.perf_counter() - made
        status = [("GET", f"/cards/{cards[n % CARDS]}", b"") for n in range(STATUS_REQUESTS + WARMUP)]
        verify = [("POST", "/ecodes/verifications", json.dumps({"payload": code, "business_type": "entry"}).encode())
                  for code in codes]
        servers = {kind: start(kind, db) for kind in ("bare", "platform")}
        try:
            figures = {(kind, what): asyncio.run(drive(url, process.pid, requests, secret,
                                                       _valid if what == "verify" else _ok, name=f"{kind} {what}"))
                       for what, requests in (("verify", verify), ("status", status))
                       for kind, (process, url) in servers.items()}
        except WrongAnswer as wrong:
            print(f"refused or failed, no figures: {wrong}")
            return 1
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(10)
    print(f"platform under load: each app one uvicorn worker in its own process, one httpx.AsyncClient with "
          f"{CONCURRENCY} requests in flight, all signed; {CARDS} cards, {len(codes)} e-codes made in {made:.0f} s")
    met = []
    for what, name, count in (("status", "card status", STATUS_REQUESTS), ("verify", "e-code verification", CODES)):
        base, platform = figures[("bare", what)], figures[("platform", what)]
        print(f" {name}, {count:,} requests after {WARMUP} warm-up")
        print(_row("bare (base)", base))
        print(_row("platform", platform, base))
        met.append(max(base.rate / platform.rate, platform.p99_ms / base.p99_ms) <= TARGET)
    return 0 if all(met) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(main())
