"""The JSON Schemas of a protocol document (OpenAPI 3.1, `components/schemas`): what the adapters
check every answer of a served DUT against, so an answer outside its protocol is a link fault
(*broken*), never read as a verdict."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


@cache
def document(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


@cache
def _validator(path: Path, name: str) -> jsonschema.Draft202012Validator:
    parsed, uri = document(path), f"urn:yikatong:{Path(path).stem}"
    if name not in parsed["components"]["schemas"]:
        raise KeyError(f"{Path(path).name} has no schema {name!r}; it has {sorted(parsed['components']['schemas'])}")
    registry = Registry().with_resource(uri, Resource.from_contents(parsed, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry)


def where(path) -> str:
    return "/".join(str(p) for p in path) or "(top)"


def problems(path: Path, value: object, schema: str) -> list[str]:
    """What is wrong with `value` as the document's `schema`, one line each."""
    return [f"at {where(e.absolute_path)}: {e.message}"
            for e in sorted(_validator(path, schema).iter_errors(value), key=lambda e: list(e.absolute_path))]
