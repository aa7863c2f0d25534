"""The run's profile is an object handed down, never a file read by path: structural checks that
keep it so, and proof that a profile built in a test reaches the devices.

Why: a regional profile (profiles/regions/<name>/) layers over the national documents inside
`simulator.profile.build`; a module that reads `national/<kind>` by path, or reads a document when
it is imported, would silently keep the national value in a regional run.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from conformance.dut import make_dut
from simulator.card import personas
from simulator.card.cardos import CardOS
from simulator.clock import AS_OF
from simulator.profile import Profile, national

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "conformance", "bench")
#: the one module that knows where the documents are
PROFILE_MODULE = ROOT / "simulator" / "profile.py"
#: the loaders a module may call only once it runs, never while it is imported
LOADERS = frozenset({"load", "load_file", "build", "national", "load_persona"})


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", [p for p in _modules() if p != PROFILE_MODULE], ids=_shown)
def test_no_module_names_a_national_document_by_path(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("national/")]
    assert not named, f"{_shown(path)} reads documents by path instead of the run's profile: {named}"


def _main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":`: run as a script, never on import."""
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("__name__ == '__main__'", '__name__ == "__main__"')


def _run_at_import(tree: ast.Module):
    """The nodes Python evaluates when the module is imported: its statements, class bodies,
    decorators and default values of its functions (not the functions' bodies, not a main guard)."""
    pending: list[ast.AST] = [node for node in tree.body if not _main_guard(node)]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
            continue
        if isinstance(node, ast.Lambda):
            pending += [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
            continue
        if isinstance(node, ast.ClassDef):
            pending += [*node.decorator_list, *node.bases, *node.keywords, *node.body]
            continue
        yield node
        pending += list(ast.iter_child_nodes(node))


def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


@pytest.mark.parametrize("path", _modules(), ids=_shown)
def test_no_module_reads_a_profile_when_it_is_imported(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [(node.lineno, _called(node)) for node in _run_at_import(tree)
             if isinstance(node, ast.Call) and _called(node) in LOADERS]
    assert not calls, f"{_shown(path)} reads a profile at import time (line, loader): {calls}"


def _with(document: str, change) -> Profile:
    """The national profile with one document changed by `change(copy)`, built as a region would be."""
    changed = copy.deepcopy(national()[document])
    change(changed)
    return dataclasses.replace(national(), documents={**national().documents, document: changed})


def test_a_profiles_bus_fare_is_what_the_reference_bus_validator_charges():
    fare = national()["terminals"]["bus"]["flat_fare"] + 150
    assert fare < national()["terminals"]["max_single_fare"]
    profile = _with("terminals", lambda terminals: terminals["bus"].update(flat_fare=fare))
    bus = make_dut("sim:terminals=bus", profile=profile).terminals["bus"]
    decision = bus.present(CardOS(personas.image("normal", as_of=AS_OF, profile=profile))).decision
    assert decision["accepted"], decision["reason"]
    assert (decision["fare"], decision["amount"], decision["debited"]) == (fare, fare, fare)


def test_a_profiles_blacklist_refresh_interval_reaches_the_card_status_check():
    seconds = national()["platform"]["blacklist"]["refresh_interval_seconds"] + 45
    profile = _with("platform", lambda platform: platform["blacklist"].update(refresh_interval_seconds=seconds))
    for kind, terminal in make_dut("sim", profile=profile).terminals.items():
        assert terminal.terminal.status.refresh_interval == timedelta(seconds=seconds), kind
