"""Layering a regional profile over the national one: add or tighten, never drop or loosen.

Why a rule of its own: a vendor certified "for Zhengzhou" must still meet every national clause, so a
region's documents may only add to the national ones (a clause, a persona, a tariff, an application)
or make a national requirement stricter (a shorter propagation delay, a clause raised to critical).
Which values a region may change, and in which direction, is said by the national document's own
JSON Schema, beside the value it constrains, so the rule is data and not a list kept here:

- `"x-tighter": "lower"` (or `"higher"`): a number a region may lower (raise), never the reverse;
- `"x-tighter": [a, b, c]`: an ordered choice, later is stricter (a region may move right only);
- `"x-regional": true`: a value that is the region's to set (a city's tariff, its card branding);
- `"x-additions": false`: a list or mapping a region may not extend, because more in it is less
  protection (the fields a department's purpose may read, the data a terminal may ask the card for).

Anything else a region writes must equal the national value or be new. Mappings merge key by key;
lists of mappings that carry an `id` (clauses) merge item by item; other lists keep every national
item and append the region's new ones. A `null` in an overlay, the only way YAML could drop a
national value, is refused. Every refusal names the region's file, the path inside the document
and the two values (ProfileError).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from referencing import Registry

#: a `referencing` resolver (the schema a `$ref` is looked up from)
Resolver = Any

class OverlayError(ValueError):
    """A regional overlay drops, loosens or overrides a national value (message names file, path, values)."""


def _path_text(path: tuple[Any, ...]) -> str:
    return "/".join(str(p) for p in path) or "(top)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse(where: str, path: tuple[Any, ...], message: str) -> OverlayError:
    return OverlayError(f"{where}: at {_path_text(path)}: {message}")


# -- the schema beside a value --------------------------------------------------------------------

def _expand(schema: Any, resolver: Resolver) -> Iterator[tuple[dict, Resolver]]:
    """`schema` and every subschema that applies at the same place ($ref, allOf/anyOf/oneOf, if/then/else)."""
    if not isinstance(schema, dict):
        return
    yield schema, resolver
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        yield from _expand(resolved.contents, resolved.resolver)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, ()):
            yield from _expand(sub, resolver)
    for keyword in ("then", "else"):
        yield from _expand(schema.get(keyword), resolver)


def _children(nodes: list[tuple[dict, Resolver]], key: Any) -> list[tuple[dict, Resolver]]:
    """The subschemas that constrain member `key` (a property name or a list index) of a value the
    `nodes` constrain."""
    found = []
    for node, resolver in (pair for schema, r in nodes for pair in _expand(schema, r)):
        if isinstance(key, int):
            if isinstance(node.get("items"), dict):
                found.append((node["items"], resolver))
            continue
        if key in node.get("properties", {}):
            found.append((node["properties"][key], resolver))
            continue
        matched = [sub for pattern, sub in node.get("patternProperties", {}).items() if re.search(pattern, key)]
        found += [(sub, resolver) for sub in matched]
        if not matched and isinstance(node.get("additionalProperties"), dict):
            found.append((node["additionalProperties"], resolver))
    return found


def _annotation(nodes: list[tuple[dict, Resolver]], keyword: str) -> Any:
    for node, _ in (pair for schema, r in nodes for pair in _expand(schema, r)):
        if keyword in node:
            return node[keyword]
    return None


# -- the merge ------------------------------------------------------------------------------------

def _tightens(direction: Any, national: Any, regional: Any) -> bool:
    if direction == "lower":
        return regional <= national
    if direction == "higher":
        return regional >= national
    if isinstance(direction, list):
        known = national in direction and regional in direction
        return known and direction.index(regional) >= direction.index(national)
    raise ValueError(f"unknown x-tighter {direction!r}: lower, higher or an ordered list")


def _scalar(national: Any, regional: Any, nodes: list, where: str, path: tuple[Any, ...]) -> Any:
    if regional == national:
        return regional
    direction = _annotation(nodes, "x-tighter")
    if direction is None:
        raise _refuse(where, path, f"changes the national value {_short(national)} to {_short(regional)}; a region "
                                   f"may only add values or tighten those the national schema marks x-tighter")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (national, regional))
    if direction in ("lower", "higher") and not numbers:
        raise _refuse(where, path, f"{regional!r} is not a number to compare with the national {national!r}")
    if not _tightens(direction, national, regional):
        word = {"lower": "raises", "higher": "lowers"}[direction] if isinstance(direction, str) else "moves"
        raise _refuse(where, path, f"{word} the national limit {national!r} to {regional!r}, which loosens it "
                                   f"(a region may only tighten: x-tighter {direction!r})")
    return regional


def _keyed(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "id" in i for i in items)


def merge(national: Any, regional: Any, nodes: list, where: str, path: tuple[Any, ...] = ()) -> Any:
    """`regional` layered over `national`; `nodes` are the schemas constraining the value here."""
    if regional is None:
        raise _refuse(where, path, f"is null, which would drop the national value {_short(national)}; a region may "
                                   f"not drop a national value")
    if _annotation(nodes, "x-regional"):
        return _fresh(regional, where, path)
    closed = _annotation(nodes, "x-additions") is False
    if isinstance(national, dict) and isinstance(regional, dict):
        added = sorted(set(regional) - set(national))
        if closed and added:
            raise _refuse(where, path, f"adds {added}, which loosens what the national profile allows here "
                                       f"(x-additions: false)")
        merged = dict(national)
        for key, value in regional.items():
            child = _children(nodes, key)
            merged[key] = merge(national[key], value, child, where, (*path, key)) if key in national \
                else _fresh(value, where, (*path, key))
        return merged
    if isinstance(national, list) and isinstance(regional, list):
        added = [item for item in regional if item not in national and not _keyed([item])]
        if closed and added:
            raise _refuse(where, path, f"adds {_short(added)}, which loosens what the national profile allows "
                                       f"here (x-additions: false)")
        return _merge_list(national, regional, _children(nodes, 0), where, path)
    if isinstance(national, (dict, list)) or isinstance(regional, (dict, list)):
        raise _refuse(where, path, f"replaces the national {type(national).__name__} with a {type(regional).__name__}")
    return _scalar(national, regional, nodes, where, path)


def _merge_list(national: list, regional: list, item_nodes: list, where: str, path: tuple[Any, ...]) -> list:
    merged = list(national)
    if _keyed(national) and all(isinstance(i, dict) and "id" in i for i in regional):
        index = {item["id"]: n for n, item in enumerate(national)}
        for item in regional:
            if item["id"] in index:
                n = index[item["id"]]
                merged[n] = merge(national[n], item, item_nodes, where, (*path, item["id"]))
            else:
                merged.append(_fresh(item, where, (*path, item["id"])))
        return merged
    new = [item for item in regional if item not in national]
    merged += [_fresh(item, where, (*path, len(national) + n)) for n, item in enumerate(new)]
    return merged


def _fresh(value: Any, where: str, path: tuple[Any, ...]) -> Any:
    """A value the national document does not have: taken as it is, but a null inside it still drops nothing
    and is refused, so a region's own values read the same way as its overrides."""
    if value is None:
        raise _refuse(where, path, "is null; a region's values may not be null")
    if isinstance(value, dict):
        for key, sub in value.items():
            _fresh(sub, where, (*path, key))
    elif isinstance(value, list):
        for n, sub in enumerate(value):
            _fresh(sub, where, (*path, n))
    return value


def layer(national: Mapping[str, Any], regional: Mapping[str, Any], *, schema_name: str, registry: Registry,
          where: str) -> dict:
    """The national document `national` with the region's overlay `regional` layered over it, by the
    rules above; `schema_name` names the national document's schema in `registry`. The caller
    validates the result against the same schema."""
    resolver = registry.resolver(base_uri=schema_name)
    root = resolver.lookup(schema_name)
    return merge(dict(national), dict(regional), [(root.contents, root.resolver)], where)
