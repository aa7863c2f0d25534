"""Loading the unified interface standard from `profiles/` (YAML, checked by JSON Schema).

The profile is the single source of truth (DESIGN.md "The standard as data"): cards, personas
and clause coverage all derive from it. Every document is schema-checked on load and an error
names the file, the path inside it and the offending value.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

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
}


class ProfileError(ValueError):
    """A profile document is missing or does not satisfy its schema."""


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


def persona_names() -> list[str]:
    return sorted(p.stem for p in (PROFILE_ROOT / "personas").glob("*.yaml"))


def load_persona(name: str) -> dict:
    if name not in persona_names():
        raise ProfileError(f"unknown persona {name!r}; known personas: {', '.join(persona_names())}")
    return load(f"personas/{name}", "persona")


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


def clauses(profile: str = "national") -> dict[str, dict]:
    """The clause catalogue of `profile` by id (each clause's `source` is structured: see `source_line`)."""
    catalogue = load(f"{profile}/clauses", "clauses")["clauses"]
    by_id = {c["id"]: c for c in catalogue}
    if len(by_id) != len(catalogue):
        raise ProfileError(f"{profile}/clauses: duplicate clause ids")
    return by_id


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
