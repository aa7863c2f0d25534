"""A personalised card as data: file tree, initial NVM contents, keys, PIN policy, ATR.

Data flows profile -> persona -> card image -> card OS: the image is what a personalisation
bureau would write, and a `CardOS` boots from it. NVM key names are defined here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.card.filesystem import DF, FileTree


def record_key(path: str, slot: int) -> str:
    """NVM key of a record slot (1-based)."""
    return f"{path}#{slot}"


def count_key(path: str) -> str:
    """NVM key of a record EF's number of records (1 byte)."""
    return f"{path}#count"


def head_key(path: str) -> str:
    """NVM key of a cyclic EF's slot holding record 1, the most recent (1 byte)."""
    return f"{path}#head"


def pin_key(app: str) -> str:
    return f"pin:{app}"


def pin_tries_key(app: str) -> str:
    return f"pin:{app}:tries"


def key_tries_key(app: str, kid: int) -> str:
    return f"key:{app}:{kid:02X}:tries"


def locked_key(app: str) -> str:
    return f"app:{app}:locked"


@dataclass(frozen=True, slots=True)
class KeySlot:
    """A card key: `usage` is external_auth, internal_auth, pin_reload or pin_unblock."""

    kid: int
    usage: str
    algorithm: str
    value: bytes
    tries: int | None = None


@dataclass(frozen=True, slots=True)
class Application:
    """Security objects and settings of one application DF (top level under the MF).

    `kind` selects the application's own commands (commands.APP_COMMANDS); `locked_sw` is what
    SELECT answers once the application is locked; `params` holds the application's settings
    from the profile and persona (e.g. a purse's overdraft limit).
    """

    kind: str
    path: str
    algorithm: str
    keys: dict[int, KeySlot]
    pin_tries: int | None = None  # None: the application has no PIN
    pin_digits: tuple[int, int] = (4, 16)
    locked_sw: int = 0x6283
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AppBuild:
    """What one application contributes to a card image; `ppse_entry` is its directory entry
    (61 {4F AID, 50 label, 87 priority}) when the contactless PPSE should list it."""

    df: DF
    application: Application | None
    contents: dict[str, bytes]
    ppse_entry: bytes = b""


@dataclass
class CardImage:
    atr: bytes
    tree: FileTree
    applications: dict[str, Application]
    contents: dict[str, bytes]
    page_size: int = 16
    #: what the image was built from, for reports (never personal data).
    origin: dict[str, str] = field(default_factory=dict)
