"""Loading the unified interface standard from `profiles/` (YAML, checked by JSON Schema).

The profile is the single source of truth (DESIGN.md "The standard as data"): cards, personas
and clause coverage all derive from it. Every document is schema-checked on load and an error
names the file, the path inside it and the offending value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .profile_overlay import OverlayError, layer

PROFILE_ROOT = Path(str(resources.files("profiles")))

#: document kind -> schema file; a document's kind is named by the caller.
SCHEMAS = {
    "card": "card.schema.json",
    "ssse": "ssse.schema.json",
    "clauses": "clauses.schema.json",
    "persona": "persona.schema.json",
    "terminals": "terminals.schema.json",
    "epurse": "epurse.schema.json",
    "qpboc": "qpboc.schema.json",
    "timing": "timing.schema.json",
    "psam": "psam.schema.json",
    "ics": "ics.schema.json",
    "ics_declaration": "ics_declaration.schema.json",
    "reader_api": "reader_api.schema.json",
    "world": "world.schema.json",
    "scenario": "scenario.schema.json",
    "ecode": "ecode.schema.json",
    "platform": "platform.schema.json",
    "throughput": "throughput.schema.json",
    "region": "region.schema.json",
}

#: the documents of a profile folder a run reads, each by its kind (the file's stem is the kind)
DOCUMENT_KINDS = ("card", "clauses", "ecode", "epurse", "ics", "platform", "psam", "qpboc", "reader_api", "ssse",
                  "terminals", "throughput", "timing", "world")


class ProfileError(ValueError):
    """A profile document is missing or does not satisfy its schema, or a region's overlay drops,
    loosens or overrides what the national profile says."""


def _schema(name: str) -> dict:
    return json.loads((PROFILE_ROOT / "schema" / name).read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    """Every schema by its file name, so one schema's `$ref` can name a definition in another
    (the scenario schema reuses the world schema's distribution)."""
    return Registry().with_resources(
        (name, Resource.from_contents(_schema(name), default_specification=DRAFT202012)) for name in SCHEMAS.values()
    )


@cache
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    try:
        name = SCHEMAS[kind]
    except KeyError:
        raise ProfileError(f"unknown profile kind {kind!r}; valid kinds: {sorted(SCHEMAS)}") from None
    return jsonschema.Draft202012Validator(_schema(name), registry=_registry())


def validate(document: Any, kind: str, *, where: str) -> dict:
    """Check `document` against the schema of `kind`; `where` names it in errors."""
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.absolute_path) or "(top)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ProfileError(f"{where}: at {path}: {first.message}{more}")
    return document


def load_file(path: Path, kind: str) -> dict:
    """Read one YAML document and validate it."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile document") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    return validate(document, kind, where=str(path))


@cache
def load(name: str, kind: str) -> dict:
    """A document by its name under profiles/, e.g. load("national/ssse", "ssse")."""
    return load_file(PROFILE_ROOT / f"{name}.yaml", kind)


#: folders under profiles/ that are not profiles of their own
_NOT_PROFILES = frozenset({"schema", "personas", "regions", "scenarios", "__pycache__"})


def profile_names() -> list[str]:
    """The profiles a run can certify against: folders of profiles/ holding a clause catalogue."""
    return sorted(p.name for p in PROFILE_ROOT.iterdir()
                  if p.is_dir() and p.name not in _NOT_PROFILES and (p / "clauses.yaml").is_file())


def region_names() -> list[str]:
    """The regional profiles that can be layered over a national one (profiles/regions/<name>/)."""
    root = PROFILE_ROOT / "regions"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def check_choice(*, profile: str, region: str | None) -> None:
    """Refuse a profile or region that does not exist, listing what does (ProfileError)."""
    if profile not in profile_names():
        raise ProfileError(f"unknown profile {profile!r}; profiles: {', '.join(profile_names()) or '(none)'}")
    if region is not None and region not in region_names():
        known = ", ".join(region_names()) or "none exist yet (profiles/regions/ is empty)"
        raise ProfileError(f"unknown region {region!r}; regional profiles: {known}")


def _reference_text(reference: dict) -> str:
    """One reference: document, then its section (standard, policy) or file (code), then what it supports."""
    where = reference.get("section") or reference.get("file")
    text = f"{reference['document']} {where}" if where else reference["document"]
    return f"{text} ({reference['note']})" if "note" in reference else text


def source_line(clause: dict) -> str:
    """A clause's source as one line of text, the one form every report, label and table shows.

    The public references in catalogue order, then "modelled: <reason>" for what no public text
    gives, e.g. "gdgly/SI_3rdCard code/SSCARD/SSCARD/SSCARD/SSCARDCtrl.cpp (-51 PIN错(剩余N次)); modelled: pOutInfo
    as decimal digits is the model".
    """
    source = clause["source"]
    parts = [_reference_text(r) for r in source.get("references", ())]
    if "modelled" in source:
        parts.append(f"modelled: {source['modelled']}")
    return "; ".join(parts)


# -- the profile a run certifies against ----------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """The interface standard as one run certifies against it: the national documents, with a
    region's overlay layered over them when the run names one (`build`).

    Devices, suites and the world are handed this object instead of reading files by path, so
    a region's tariffs, clauses and limits reach every one of them. It is built once per run;
    the documents are shared, read-only by convention.
    """

    name: str
    region: str | None
    documents: Mapping[str, dict]
    personas: Mapping[str, dict]
    scenarios: Mapping[str, dict]
    #: the region's own description (region.yaml: name, division codes, documents, applications)
    region_document: dict | None = None
    #: every file the profile was built from, for the certificate's digests
    files: tuple[Path, ...] = field(default=(), repr=False)

    def __getitem__(self, kind: str) -> dict:
        try:
            return self.documents[kind]
        except KeyError:
            raise ProfileError(f"no profile document of kind {kind!r}; kinds: {', '.join(DOCUMENT_KINDS)}") from None

    @property
    def label(self) -> str:
        """'national', or 'national + zhengzhou' for a regional run."""
        return f"{self.name} + {self.region}" if self.region else self.name

    @cached_property
    def clauses(self) -> dict[str, dict]:
        """The clause catalogue by id, the region's clauses included (indexed once: the plugin asks
        for it, and for the regional clauses, for every collected test)."""
        return _by_id(self["clauses"]["clauses"], where=f"{self.label} clauses")

    def regional_clauses(self) -> frozenset[str]:
        """The ids of the clauses the region adds (none for a national run)."""
        return frozenset(self.clauses) - frozenset(build(self.name).clauses) if self.region else frozenset()

    def persona(self, name: str) -> dict:
        try:
            return self.personas[name]
        except KeyError:
            known = ", ".join(sorted(self.personas))
            raise ProfileError(f"unknown persona {name!r}; known personas: {known}") from None

    def scenario(self, name: str) -> dict:
        try:
            return self.scenarios[name]
        except KeyError:
            raise ProfileError(f"unknown scenario {name!r}; scenarios: {', '.join(sorted(self.scenarios))}") from None


def _by_id(catalogue: list[dict], *, where: str) -> dict[str, dict]:
    by_id = {c["id"]: c for c in catalogue}
    if len(by_id) != len(catalogue):
        raise ProfileError(f"{where}: duplicate clause ids")
    return by_id


def _folder(root: Path, kind: str) -> dict[str, dict]:
    """Every YAML document of `kind` in the folder `root`, by file stem (none if it does not exist)."""
    return {p.stem: load_file(p, kind) for p in sorted(root.glob("*.yaml"))} if root.is_dir() else {}


def _read_overlay(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ProfileError(f"{path}: an overlay is a mapping of what the region adds or tightens")
    return document


def _layered(base: dict[str, dict], folder: Path, kind: str, *, what: str) -> dict[str, dict]:
    """National personas or scenarios plus the region's own; a region may not replace a national one."""
    own = _folder(folder, kind)
    clash = sorted(set(own) & set(base))
    if clash:
        raise ProfileError(f"{folder}: {what} {clash} would replace the national ones of that name; a region adds "
                           f"{what} under names of its own")
    return {**base, **own}


@cache
def build(name: str = "national", region: str | None = None) -> Profile:
    """The profile `name`, with the region `region` (profiles/regions/<region>/) layered over it."""
    check_choice(profile=name, region=region)
    base = _national(name)
    return base if region is None else layer_region(base, PROFILE_ROOT / "regions" / region)


def _national(name: str) -> Profile:
    root = PROFILE_ROOT / name
    documents = {kind: load(f"{name}/{kind}", kind) for kind in DOCUMENT_KINDS}
    files = [root / f"{kind}.yaml" for kind in DOCUMENT_KINDS]
    files += sorted((PROFILE_ROOT / "personas").glob("*.yaml")) + sorted((PROFILE_ROOT / "scenarios").glob("*.yaml"))
    return Profile(name, None, documents, _folder(PROFILE_ROOT / "personas", "persona"),
                   _folder(PROFILE_ROOT / "scenarios", "scenario"), None, tuple(files))


def layer_region(base: Profile, folder: Path) -> Profile:
    """`base` with the regional profile in `folder` layered over it, validated (any folder, so a
    region's author can check a draft before it is installed: `ykt profile validate PATH`).

    region.yaml describes the region; `<kind>.yaml` for any of DOCUMENT_KINDS is an overlay of that
    document (profile_overlay's rules: add or tighten, never drop or loosen); personas/ and
    scenarios/ hold the region's own. The layered documents are validated against the national
    schemas, and what the region names (clauses, terminal kinds and scenarios of its applications,
    the documents its clauses cite) is checked; each error names file, path and value."""
    region_document = load_file(folder / "region.yaml", "region")
    documents, files = dict(base.documents), [*base.files, folder / "region.yaml"]
    for kind in DOCUMENT_KINDS:
        path = folder / f"{kind}.yaml"
        if not path.is_file():
            continue
        files.append(path)
        where = f"{folder.name}/{kind}.yaml"
        try:
            merged = layer(documents[kind], _read_overlay(path), schema_name=SCHEMAS[kind], registry=_registry(),
                           where=where)
        except OverlayError as refused:
            raise ProfileError(str(refused)) from None
        documents[kind] = validate(merged, kind, where=f"{where} (layered over {base.name})")
    unknown = sorted(p.name for p in folder.glob("*.yaml") if p.stem not in (*DOCUMENT_KINDS, "region"))
    if unknown:
        raise ProfileError(f"{folder}: {unknown} overlay no profile document; kinds: {', '.join(DOCUMENT_KINDS)}")
    personas = _layered(base.personas, folder / "personas", "persona", what="personas")
    scenarios = _layered(base.scenarios, folder / "scenarios", "scenario", what="scenarios")
    files += sorted(folder.glob("personas/*.yaml")) + sorted(folder.glob("scenarios/*.yaml"))
    built = Profile(base.name, region_document["id"], documents, personas, scenarios, region_document, tuple(files))
    _check_region(built, base=base, folder=folder)
    return built


def every_clause_id(name: str = "national") -> frozenset[str]:
    """The clause ids of `name` and of every region layered over it: what a test may name (a test
    of one region's clause is simply not run for another)."""
    return frozenset(cid for region in (None, *region_names()) for cid in build(name, region).clauses)


def national() -> Profile:
    """The national profile alone: what a run certifies against when it names no region."""
    return build("national")


def _check_region(profile: Profile, *, base: Profile, folder: Path) -> None:
    """What a region names must exist, and what it adds must say which of its documents it rests on."""
    region = profile.region_document
    where = f"{folder.name}/region.yaml"
    if region["id"] != folder.name:
        raise ProfileError(f"{where}: at id: {region['id']!r} is not the folder's name {folder.name!r}")
    clauses, kinds = profile.clauses, set(profile["ics"]["terminal_kinds"])
    purposes = set(profile["platform"]["purposes"]["declared"])
    for n, application in enumerate(region["applications"]):
        at = f"{where}: at applications/{n} ({application['id']})"
        unknown = [c for c in application.get("clauses", ()) if c not in clauses]
        if unknown:
            raise ProfileError(f"{at}/clauses: unknown clause(s) {unknown}")
        undeclared = [p for p in application["purposes"] if p not in purposes]
        if undeclared:
            raise ProfileError(f"{at}/purposes: undeclared purpose(s) {undeclared}; purposes: {sorted(purposes)}")
        if "terminal_kind" in application and application["terminal_kind"] not in kinds:
            raise ProfileError(f"{at}/terminal_kind: unknown terminal kind {application['terminal_kind']!r}; "
                               f"kinds: {sorted(kinds)}")
        if "scenario" in application and application["scenario"] not in profile.scenarios:
            raise ProfileError(f"{at}/scenario: unknown scenario {application['scenario']!r}")
    cited = {d["document"] for d in region["documents"]}
    for cid in sorted(set(clauses) - set(base.clauses)):
        references = {r["document"] for r in clauses[cid]["source"].get("references", ())}
        if not references & cited:
            raise ProfileError(f"{folder.name}/clauses.yaml: at clauses/{cid}/source: a regional clause "
                               f"cites one of the region's documents ({sorted(cited)}); it cites {sorted(references)}")
