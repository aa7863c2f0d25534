"""`ykt profile show|validate|diff`: what a regional profile is, whether it layers cleanly over the
national one, and what it adds or tightens.

Why a command: a region's author (a city's card office, a lab preparing "certified for Zhengzhou")
needs to see the layered standard and the region's differences before any suite runs, and to check
a draft folder before it is installed under profiles/regions/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from .crypto.hashes import sm3
from .profile import DOCUMENT_KINDS, PROFILE_ROOT, Profile, ProfileError, build, layer_region, national, region_names

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
console = Console()

#: the marker of a value the national profile does not have
ADDED = object()


def _profile(name: str) -> Profile:
    """`national`, a region's name, or the path of a region's folder (a draft)."""
    try:
        if name == "national":
            return national()
        if name in region_names():
            return build("national", name)
        folder = Path(name)
        if (folder / "region.yaml").is_file():
            return layer_region(national(), folder)
        known = ", ".join(["national", *region_names()])
        raise ProfileError(f"{name!r} is neither a profile ({known}) nor a folder holding a region.yaml")
    except ProfileError as exc:
        console.print(f"[red]invalid: {exc}[/]")
        raise typer.Exit(1) from None


def differences(national_value: Any, regional: Any, path: tuple = ()) -> list[tuple[tuple, Any, Any]]:
    """(path, national value or ADDED, regional value) for every value the region adds or changes;
    lists of mappings with an `id` are compared item by item, other lists by their new items."""
    if isinstance(national_value, dict) and isinstance(regional, dict):
        return [d for key, value in regional.items()
                for d in (differences(national_value[key], value, (*path, key)) if key in national_value
                          else [((*path, key), ADDED, value)])]
    if isinstance(national_value, list) and isinstance(regional, list):
        if all(isinstance(i, dict) and "id" in i for i in national_value + regional):
            by_id = {i["id"]: i for i in national_value}
            return [d for item in regional
                    for d in (differences(by_id[item["id"]], item, (*path, item["id"])) if item["id"] in by_id
                              else [((*path, item["id"]), ADDED, item)])]
        kept = len(national_value)
        if regional[:kept] == national_value:
            return [((*path, kept + n), ADDED, item) for n, item in enumerate(regional[kept:])]
    return [] if national_value == regional else [(path, national_value, regional)]


def _text(value: Any) -> str:
    flow = isinstance(value, (dict, list))
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip() if flow \
        else str(value)
    return text if len(text) <= 100 else text[:97] + "..."


@app.command("validate")
def validate(name: Annotated[str, typer.Argument(help="national, a region's name, or a region's folder")]) -> None:
    """Layer the region over the national profile and check it (exit 1 naming file, path and value)."""
    built = _profile(name)
    console.print(f"valid: {built.label}: {len(built.clauses)} clauses ({len(built.regional_clauses())} regional), "
                  f"{len(built.personas)} personas, {len(built.scenarios)} scenarios")


@app.command("diff")
def diff(name: Annotated[str, typer.Argument(help="a region's name or folder")]) -> None:
    """What the region adds (+) or tightens or sets (~) over the national profile."""
    built, base = _profile(name), national()
    table = Table(title=f"{built.label}: what the region adds or changes")
    for column in ("", "document", "path", "national", "region"):
        table.add_column(column, overflow="fold")
    for kind in DOCUMENT_KINDS:
        for path, was, now in differences(base[kind], built[kind]):
            table.add_row("+" if was is ADDED else "~", kind, "/".join(map(str, path)),
                          "" if was is ADDED else _text(was), _text(now))
    for what, theirs, ours in (("persona", built.personas, base.personas),
                               ("scenario", built.scenarios, base.scenarios)):
        for added in sorted(set(theirs) - set(ours)):
            table.add_row("+", what, added, "", theirs[added].get("description", ""))
    console.print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="national, a region's name, or a region's folder")],
         kind: Annotated[str | None, typer.Option(help="print this layered document as YAML instead")] = None) -> None:
    """The region: names, division codes, branding, its documents (with the SM3 of the files it is
    built from), its application catalogue and the clauses it adds."""
    built = _profile(name)
    if kind is not None:
        try:
            document = built[kind]
        except ProfileError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
        typer.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        return
    region = built.region_document
    if region is None:
        console.print(f"national: {len(built.clauses)} clauses; regions: {', '.join(region_names())}")
        return
    console.print(f"[bold]{region['name']['zh']} ({region['name']['en']})[/], {region['level']}; division codes "
                  f"{', '.join(region['division_codes'])}; card {region.get('branding', {}).get('card', '-')}")
    for document in region["documents"]:
        console.print(f"  {document['document']} ({document['status']}): {document['title']}")
    files = Table(title="files layered over national (SM3)")
    for column in ("file", "SM3"):
        files.add_column(column)
    for path in built.files:
        if "regions" in path.parts:
            files.add_row(path.relative_to(PROFILE_ROOT).as_posix(), sm3(path.read_bytes()).hex())
    console.print(files)
    applications = Table(title="application catalogue")
    for column in ("id", "zh", "purposes", "terminal kind", "clauses", "source"):
        applications.add_column(column, overflow="fold")
    for a in region["applications"]:
        applications.add_row(a["id"], a["zh"], ", ".join(a["purposes"]) or "-", a.get("terminal_kind", "-"),
                             ", ".join(a["clauses"]),
                             a.get("source", ""))
    console.print(applications)
    regional = sorted(built.regional_clauses())
    console.print(f"regional clauses: {', '.join(regional) or 'none yet'}")
