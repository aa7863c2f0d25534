"""How a served app's /openapi.json is held against its document in profiles/national/.

Exact for the documents generated from their app (platform, departments, terminal: the profile
file *is* what the app publishes); for the bank's, written for people, equal in everything but
prose: the same paths, methods, operation ids, parameters, request bodies, response codes and
component schemas (types, patterns, bounds, required properties, additionalProperties), after
dropping `title`, `description`, `summary` and `x-*` keys from both, so the document cannot drift
from what is served while its prose is free.

`judge_fuzzed` is how a schemathesis case sent to a back-end app is judged (bank, vouchers).
"""

from __future__ import annotations

PROSE = {"title", "description", "summary"}


def structure(node):
    """`node` without prose or extension keys, recursively."""
    if isinstance(node, dict):
        return {k: structure(v) for k, v in node.items() if k not in PROSE and not k.startswith("x-")}
    if isinstance(node, list):
        return [structure(v) for v in node]
    return node


def differences_but_prose(served: dict, document: dict) -> list[str]:
    """Where `served` differs from `document` in anything but prose (empty: they agree)."""
    found = [f"{key}: {served.get(key)!r} != {document.get(key)!r}" for key in ("openapi",)
             if served.get(key) != document.get(key)]
    if served["info"]["version"] != document["info"]["version"]:
        found.append(f"info.version {served['info']['version']} != {document['info']['version']}")
    operations = {(p, m) for p, ops in served["paths"].items() for m in ops}
    documented = {(p, m) for p, ops in document["paths"].items() for m in ops}
    found += [f"{m.upper()} {p} served, not documented" for p, m in sorted(operations - documented)]
    found += [f"{m.upper()} {p} documented, not served" for p, m in sorted(documented - operations)]
    found += [f"{m.upper()} {p} differs" for p, m in sorted(operations & documented)
              if structure(served["paths"][p][m]) != structure(document["paths"][p][m])]
    schemas, described = served["components"]["schemas"], document["components"]["schemas"]
    found += [f"schema {name} differs or is missing" for name in sorted(set(schemas) | set(described))
              if structure(schemas.get(name)) != structure(described.get(name))]
    return found


def judge_fuzzed(case, app) -> None:
    """schemathesis's `case` sent to `app`: never 5xx, every refusal a JSON `{"error", "detail"}`
    naming the problem, and the answer by the document (code, body schema, headers)."""
    response = case.call(app=app)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "detail"} and response.json()["detail"], response.text
    case.validate_response(response)
