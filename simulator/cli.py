"""`ykt`: the command line of yikatong.

    ykt demo                       serve a virtual card through pcscd + vpcd, read it back through
                                   PC/SC, print and save a masked read-out
    ykt card personas              list the test-card personas
    ykt card serve --persona NAME  insert a virtual card into this machine's vpcd until Ctrl-C
                                   (--vpcd HOST:PORT: a terminal's own pcscd on another host)
    ykt card read [--reader NAME]  read a card through PC/SC (personal data masked)
    ykt bank serve [--port] [--db PATH] [--faults PLAN]
                                   serve the reference bank (profiles/national/bank_api.yaml)
    ykt simulate SCENARIO          run a throughput scenario's replications in the SimPy world (on
                                   a Dask LocalCluster or --scheduler), print a summary table,
                                   write results.json and charts
    ykt platform serve [--port 8800] [--db platform.sqlite] [--faults PLAN]
                                   serve the 一卡通 application service platform (its state in the db)
    ykt platform openapi           print the platform's OpenAPI document (profiles/national/platform_api.yaml)
    ykt department serve --kind library|hospital|subsidy [--platform URL --department-id ID --secret HEX] [--port]
                                   serve a reference department (its callbacks and control endpoint)
    ykt department openapi         print a department's OpenAPI document (profiles/national/department_api.yaml)

Personal data is masked in everything printed or written unless --show-personal-data is given.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.backend.issuer import IssuerKeys
from simulator.card import personas
from simulator.card.apps import ssse
from simulator.card.cardos import CardOS
from simulator.devices.ssse_reader import ReadError, ReadOut, read_card
from simulator.privacy import TraceMasker
from simulator.profile import ProfileError, build, national
from simulator.trace import render as render_trace
from simulator.transport import (
    VPCD_PORT,
    LinkError,
    Pcscd,
    PcscTransport,
    TraceRecorder,
    VpcdCard,
    list_readers,
    wait_for_card,
)
from simulator.world import charts, full_logic, replications
from simulator.world import scenario as scenarios

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
card_app = typer.Typer(no_args_is_help=True, help="Virtual cards: list, serve through vpcd, read through PC/SC.")
app.add_typer(card_app, name="card")
bank_app = typer.Typer(no_args_is_help=True, help="The reference bank: accounts, card payments, disbursement.")
app.add_typer(bank_app, name="bank")
platform_app = typer.Typer(no_args_is_help=True, help="The 一卡通 platform: serve it, print its API.")
app.add_typer(platform_app, name="platform")
department_app = typer.Typer(no_args_is_help=True, help="Reference departments integrating with the platform.")
app.add_typer(department_app, name="department")
console = Console()

AsOf = Annotated[str | None, typer.Option(help="personalisation date YYYY-MM-DD (default: today)")]
ShowPersonal = Annotated[bool, typer.Option(help="show personal data unmasked (PIPL: only when needed)")]


def _as_of(text: str | None) -> date:
    try:
        return date.fromisoformat(text) if text else date.today()
    except ValueError:
        raise typer.BadParameter(f"--as-of takes YYYY-MM-DD, got {text!r}") from None


def _card(persona: str, as_of: date) -> CardOS:
    try:
        return CardOS(personas.image(persona, as_of=as_of, profile=national()))
    except ProfileError as exc:
        raise typer.BadParameter(str(exc)) from None


def _print_readout(readout: ReadOut, *, show_personal_data: bool) -> None:
    catalogue = ssse.elements(national()["ssse"])
    table = Table(title=f"SSSE read-out (algorithm {readout.algorithm}, EF06 opened by {readout.opened_by})")
    for column in ("element", "名称", "value"):
        table.add_column(column)
    shown = readout.shown(show_personal_data=show_personal_data)
    for name, element in catalogue.items():
        value = shown.get(name, f"[red]{readout.errors.get(name, 'not read')}[/red]")
        table.add_row(name, element.zh, value)
    console.print(table)


def _trace_lines(recorder: TraceRecorder) -> list[str]:
    return render_trace(recorder.exchanges, TraceMasker.from_profiles(national())).splitlines()


@card_app.command("personas")
def list_personas() -> None:
    """List the test-card personas (all synthetic)."""
    profile = national()
    for name in sorted(profile.personas):
        console.print(f"[bold]{name:18}[/bold] {profile.persona(name)['description']}")


@card_app.command("serve")
def serve(
    persona: Annotated[str, typer.Option(help="persona to personalise the card from")] = "normal",
    slot: Annotated[int, typer.Option(min=0, max=1, help="vpcd slot (reader 00 00 or 00 01)")] = 0,
    vpcd: Annotated[
        str | None,
        typer.Option(help="HOST:PORT of a vpcd elsewhere, e.g. a terminal's own pcscd (default 127.0.0.1:35963+slot)"),
    ] = None,
    as_of: AsOf = None,
) -> None:
    """Insert a virtual card into vsmartcard's vpcd (inside a running pcscd) until Ctrl-C.

    By default the card goes over loopback to this machine's pcscd (the one the project starts takes no other).

    --vpcd HOST:PORT presents it to a terminal's own pcscd on another host (its vpcd listens on every interface)."""
    host, port = "127.0.0.1", VPCD_PORT + slot
    if vpcd:
        host, _, port_text = vpcd.rpartition(":")
        if not host or not port_text.isdigit():
            raise typer.BadParameter(f"--vpcd takes HOST:PORT, got {vpcd!r}")
        port = int(port_text)
    card = _card(persona, _as_of(as_of))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with VpcdCard(card, host=host, port=port):
            console.print(f"card '{persona}' inserted at vpcd {host}:{port}; Ctrl-C removes it")
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    except LinkError as exc:
        console.print(f"[red]broken link:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print("card removed")


@card_app.command("read")
def read(
    reader: Annotated[str | None, typer.Option(help="PC/SC reader name (default: the first with a card)")] = None,
    pin: Annotated[str | None, typer.Option(help="PIN to open EF06 on a 2nd-generation card")] = None,
    show_personal_data: ShowPersonal = False,
    trace: Annotated[bool, typer.Option(help="print the APDU trace (masked)")] = False,
) -> None:
    """Read a social security card through PC/SC and print its data (masked by default)."""
    try:
        names = [reader] if reader else list_readers()
        recorder = TraceRecorder()
        for name in names:
            try:
                with PcscTransport(name, tracers=[recorder]) as transport:
                    readout = read_card(transport, keys=IssuerKeys(national()), pin=pin,
                                        ssse_profile=national()["ssse"])
                break
            except LinkError:
                if reader:
                    raise
        else:
            raise typer.BadParameter(f"no card in any reader ({', '.join(names) or 'no readers'})")
    except (LinkError, ReadError) as exc:
        console.print(f"[red]cannot read the card:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_readout(readout, show_personal_data=show_personal_data)
    if trace:
        console.print("\n".join(_trace_lines(recorder)))


@app.command()
def demo(
    persona: Annotated[str, typer.Option(help="persona of the virtual card")] = "normal",
    out: Annotated[Path | None, typer.Option(help="where to write the read-out (default reports/<run-id>)")] = None,
    as_of: AsOf = None,
) -> None:
    """Start pcscd + vpcd, insert a virtual card, read it back through PC/SC as department software
    would, print and save the masked read-out and trace."""
    run_id = datetime.now().strftime("demo-%Y%m%d-%H%M%S")
    out = out or Path("reports") / run_id
    card = _card(persona, _as_of(as_of))
    recorder = TraceRecorder()
    started = time.perf_counter()
    try:
        with Pcscd() as pcscd, VpcdCard(card, port=pcscd.slot_port(0)):
            wait_for_card(pcscd.reader(0), timeout=5.0)
            with PcscTransport(pcscd.reader(0), tracers=[recorder]) as transport:
                readout = read_card(transport, keys=IssuerKeys(national()), ssse_profile=national()["ssse"])
    except (LinkError, ReadError) as exc:
        console.print(f"[red]broken:[/red] {exc}")
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    _print_readout(readout, show_personal_data=False)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "run_id": run_id,
        "persona": persona,
        "path": "pcscd + vsmartcard vpcd + pyscard",
        "apdus": len(recorder.exchanges),
        "seconds": round(elapsed, 3),
        "algorithm": readout.algorithm,
        "ef06_opened_by": readout.opened_by,
        "values (masked)": readout.shown(),
        "errors": readout.errors,
    }
    (out / "readout.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "trace.txt").write_text("\n".join(_trace_lines(recorder)) + "\n", encoding="utf-8")
    console.print(f"{len(recorder.exchanges)} APDUs through PC/SC in {elapsed:.2f} s; wrote {out}/")
    if readout.errors:
        console.print(f"[red]{len(readout.errors)} elements could not be read[/red]")
        raise typer.Exit(1)



def _fault_plan(path: Path | None):
    """The fault plan in `path` (JSON or YAML, simulator.backend.service_faults), None without one;
    a plan that cannot be read or followed is a usage error naming it."""
    if path is None:
        return None
    import yaml

    from simulator.backend.service_faults import PlanError, ServicePlan

    try:
        return ServicePlan.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, PlanError) as exc:
        raise typer.BadParameter(f"--faults {path}: {exc}") from None


@bank_app.command("serve")
def bank_serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8710,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    db: Annotated[Path, typer.Option(help="the bank's SQLite file (created if missing)")] = Path("bank.sqlite3"),
    faults: Annotated[Path | None, typer.Option(
        help="a fault plan (JSON or YAML: latency, error_rate, outages, crash)")] = None,
    fault_seed: Annotated[int, typer.Option(help="root seed of the fault plan's draws")] = 0,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level")] = "warning",
) -> None:
    """Serve the reference bank until Ctrl-C; its state lives in --db and survives a kill.

    No access log: request paths name PANs (/accounts/{pan}), which are personal data."""
    import uvicorn

    from simulator.backend.bank_service import served_app
    from simulator.backend.store import StoreError

    plan = _fault_plan(faults)
    started = time.monotonic()
    try:
        served = served_app(str(db), plan=plan, seed=fault_seed, clock=datetime.now,
                            elapsed=lambda: time.monotonic() - started, profile=national())
    except StoreError as exc:
        raise typer.BadParameter(f"--db: {exc}") from None
    typer.echo(f"reference bank on http://{host}:{port} (books: {db}; fault plan: {faults or 'none'})")
    uvicorn.run(served, host=host, port=port, log_level=log_level, access_log=False)
def _figure(figure: dict) -> str:
    """A mean with its 95% interval's half-width (the mean alone for one replication)."""
    if "low" not in figure:
        return f"{figure['mean']:,.1f}"
    return f"{figure['mean']:,.1f}±{(figure['high'] - figure['low']) / 2:,.1f}"


def _summary_table(name: str, summary: dict) -> Table:
    n, seed = summary["replications"], summary["root_seed"]
    table = Table(title=f"{name}: {n} replication(s), root seed {seed}; mean±95% CI half-width, counts per replication")
    for column in ("site", "persons/h", "wait s", "p50 s", "p95 s", "p99 s", "queue", "util.",
                   "balked", "rejected", "offline", "money"):
        table.add_column(column, justify="left" if column == "site" else "right")
    for site, f in summary["sites"].items():
        table.add_row(
            site, _figure(f["throughput_per_hour"]), _figure(f["wait_mean_s"]), _figure(f["wait_p50_s"]),
            _figure(f["wait_p95_s"]), _figure(f["wait_p99_s"]), _figure(f["queue_mean"]),
            f"{f['utilisation_mean']['mean']:.0%}", _figure(f["balked"]), f"{sum(f['rejections'].values()) / n:,.0f}",
            _figure(f["offline_fallbacks"]), "[green]conserved[/]" if f["money_conserved"] else "[red]NOT conserved[/]",
        )
    return table


@app.command()
def simulate(
    scenario: Annotated[str, typer.Argument(help="a scenario of profiles/scenarios/ (e.g. metro-peak), or of the "
                                                 "region's")],
    region: Annotated[str | None, typer.Option(help="a regional profile (its scenarios, personas and world)")] = None,
    replications_: Annotated[int, typer.Option("--replications", min=1, help="independent replications")] = 10,
    workers: Annotated[int, typer.Option(min=0, help="LocalCluster worker processes (0: in this process)")] = 2,
    scheduler: Annotated[str | None, typer.Option(help="an existing Dask scheduler, tcp://host:8786")] = None,
    seed: Annotated[int, typer.Option(help="the run's root seed (every component's generator derives from it)")] = 1,
    out: Annotated[Path | None, typer.Option(help="results and charts (default reports/simulate/SCENARIO)")] = None,
    fidelity: Annotated[str | None, typer.Option(
        help="sampled or full_logic for every site with a reference terminal (default: the scenario's)")] = None,
) -> None:
    """Run a throughput scenario's replications in the SimPy world, one Dask task per replication;
    print the summary table, write results.json and the PNG charts."""
    try:
        chosen = scenarios.load(scenario, build("national", region))
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--region" if "region" in str(exc) else "SCENARIO") from None
    document = chosen.document
    if fidelity:
        try:
            document = scenarios.with_fidelity(document, fidelity, references=frozenset(full_logic.REFERENCES))
        except ProfileError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fidelity") from None
    out = out or Path("reports") / "simulate" / scenario
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task(f"{scenario} replications", total=replications_)
            advance = lambda result: progress.update(bar, advance=1)  # noqa: E731
            if scheduler or workers:
                with replications.cluster(workers=workers, scheduler=scheduler) as client:
                    results = replications.run(document, profile=chosen.profile, replications=replications_,
                                               root_seed=seed, client=client, progress=advance)
            else:
                results = replications.run(document, profile=chosen.profile, replications=replications_,
                                           root_seed=seed, progress=advance)
    except Exception:
        console.print(f"[red]the simulation failed; root seed {seed} reproduces it[/red]")
        raise
    summary = replications.summarise(results)
    console.print(_summary_table(scenario, summary))
    out.mkdir(parents=True, exist_ok=True)
    written = {"scenario": document, "summary": summary, "replications": results}
    (out / "results.json").write_text(json.dumps(written, ensure_ascii=False, indent=1), encoding="utf-8")
    pictures = charts.write(results, bin_s=chosen.bin_s, out=out)
    console.print(f"wrote {out}/results.json and {len(pictures)} charts")
    if not all(site["money_conserved"] for site in summary["sites"].values()):
        raise typer.Exit(1)


@platform_app.command("serve")
def platform_serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8800,
    host: Annotated[str, typer.Option(help="address to listen on (default: this machine only)")] = "127.0.0.1",
    db: Annotated[Path, typer.Option(help="SQLite file the platform keeps its state in")] = Path("platform.sqlite"),
    seed: Annotated[int, typer.Option(help="root seed of the platform's keys and secrets")] = 1,
    operator_secret: Annotated[str | None, typer.Option(
        help="the operator's HMAC-SM3 key, hex (default: derived from the seed, printed)")] = None,
    faults: Annotated[Path | None, typer.Option(
        help="a fault plan (JSON or YAML: latency, error_rate, outages, crash at platform.* points)")] = None,
    fault_seed: Annotated[int, typer.Option(help="root seed of the fault plan's draws")] = 0,
    region: Annotated[str | None, typer.Option(help="the regional profile the platform follows (its card states, "
                                                    "limits, catalogue)")] = None,
) -> None:
    """Serve the platform (profiles/national/platform_api.yaml) until Ctrl-C; state survives restarts."""
    from simulator.backend.platform.serve import serve
    from simulator.backend.service_faults import ServiceFaults
    from simulator.seeds import generator

    try:
        profile = build("national", region)
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--region") from None
    try:
        secret = (bytes.fromhex(operator_secret) if operator_secret
                  else generator(seed, "platform", "operator").randbytes(32))
    except ValueError:
        raise typer.BadParameter(f"--operator-secret takes hex, got {operator_secret!r}") from None
    if not operator_secret:
        console.print(f"operator secret (lab, derived from seed {seed}): {secret.hex()}")
    plan, started = _fault_plan(faults), time.monotonic()
    in_force = None if plan is None else ServiceFaults(plan, service="platform", seed=fault_seed,
                                                       elapsed=lambda: time.monotonic() - started)
    console.print(f"platform on http://{host}:{port} (state in {db}; fault plan: {faults or 'none'})")
    serve(host=host, port=port, db=str(db), seed=seed, operator_secret=secret, profile=profile, faults=in_force)


@platform_app.command("openapi")
def platform_openapi() -> None:
    """Print the platform's OpenAPI 3.1 document as YAML."""
    from simulator.backend.platform.serve import openapi_yaml

    typer.echo(openapi_yaml(), nl=False)


@department_app.command("serve")
def department_serve(
    kind: Annotated[str, typer.Option(help="library, hospital or subsidy")],
    platform: Annotated[str | None, typer.Option(help="the platform's base URL (or set later by PUT /control/platform)")
                        ] = None,
    department_id: Annotated[str | None, typer.Option(help="the id the platform registered the department under")
                             ] = None,
    secret: Annotated[str | None, typer.Option(help="the department's HMAC-SM3 key from its registration, hex")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8900,
    host: Annotated[str, typer.Option(help="address to listen on (default: this machine only)")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="root seed of its nonces and event ids")] = 1,
    region: Annotated[str | None, typer.Option(help="the regional profile the department follows")] = None,
) -> None:
    """Serve a reference department (profiles/national/department_api.yaml) until Ctrl-C."""
    from simulator.departments import PlatformLink
    from simulator.departments.serve import make_department, serve

    given = [platform, department_id, secret]
    if any(given) and not all(given):
        raise typer.BadParameter("--platform, --department-id and --secret go together")
    try:
        link = PlatformLink(platform.rstrip("/"), department_id, bytes.fromhex(secret)) if platform else None
        department = make_department(kind, seed=seed, link=link, profile=build("national", region))
    except ValueError as exc:  # a ProfileError too
        raise typer.BadParameter(str(exc)) from None
    console.print(f"{department.zh} ({kind}) on http://{host}:{port}, platform {platform or '(not yet set)'}")
    serve(department, host=host, port=port)


@department_app.command("openapi")
def department_openapi() -> None:
    """Print a department's OpenAPI 3.1 document as YAML."""
    from simulator.departments.serve import openapi_yaml

    typer.echo(openapi_yaml(), nl=False)


def main() -> None:
    app()
