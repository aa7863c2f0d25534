"""Edits of JSON documents for tamper tests: every leaf path, and a document with one leaf changed."""

from __future__ import annotations

import copy


def leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path


def changed(document: dict, path: tuple) -> dict:
    """`document` with the leaf at `path` changed (a string gets one more character, a number +1, ...)."""
    doc = copy.deepcopy(document)
    owner = doc
    for step in path[:-1]:
        owner = owner[step]
    old = owner[path[-1]]
    owner[path[-1]] = (not old if isinstance(old, bool) else old + 1 if isinstance(old, int | float)
                       else old + "x" if isinstance(old, str) else "x")
    return doc
