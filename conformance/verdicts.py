"""The two ways a test can end without judging the device, kept apart (DESIGN.md "Judging").

- *not applicable*: the product's capability statement (ICS) says it does not have what the test
  checks. Only a declaration decides this, never the device's answer.
- *not tested*: the test applies, but the harness could not judge it here (the card in the
  reader cannot be chosen or torn, its PIN is not known, its purse is empty...). It names what a
  lab would need. A mandatory clause left not tested makes the run *incomplete*, never certified.

Both are pytest skips (the run goes on, pytest shows SKIPPED); the plugin tells them apart by
the exception's class. Suites import this module; it imports nothing of the simulator.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

NOT_APPLICABLE, NOT_TESTED = "not applicable", "not tested"


class NotTested(pytest.skip.Exception):
    """The harness could not judge an applicable test here."""


def not_applicable(reason: str) -> NoReturn:
    """End the test as not applicable: `reason` cites the declaration that says so."""
    pytest.skip(f"{NOT_APPLICABLE}: {reason}")


def not_tested(reason: str, *, need: str) -> NoReturn:
    """End the test as not tested: why the harness could not judge it, and what a lab would need."""
    raise NotTested(f"{NOT_TESTED}: {reason}; needs {need}")


def is_not_tested(exception_type: type[BaseException] | None) -> bool:
    return exception_type is not None and issubclass(exception_type, NotTested)
