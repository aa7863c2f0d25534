"""The card's file tree as data (ISO/IEC 7816-4 §7): DFs found by FID or DF name, EFs by FID or SFI.

Only the *structure* lives here (FID, SFI, structure, sizes, access rules), built from the
profile; contents live in NVM and the selection state in the card OS (the pySim split of
filesystem / runtime / codecs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRUCTURES = ("transparent", "linear_fixed", "linear_variable", "cyclic")
#: ISO 7816-4 file descriptor byte per EF structure (FCP tag 82).
DESCRIPTOR = {"transparent": 0x01, "linear_fixed": 0x02, "linear_variable": 0x04, "cyclic": 0x06}


@dataclass(frozen=True, slots=True)
class Access:
    """Access conditions: `free`, `never`, `pin`, or `auth:<key id hex>` (see security.py)."""

    read: str = "free"
    update: str = "never"


@dataclass(frozen=True, slots=True)
class EF:
    name: str
    fid: int
    path: str
    structure: str
    access: Access
    sfi: int | None = None
    size: int = 0  # transparent: bytes
    record_size: int = 255  # linear_fixed / cyclic: exact size; linear_variable: maximum
    max_records: int = 254

    @property
    def is_record(self) -> bool:
        return self.structure != "transparent"


@dataclass(frozen=True, slots=True)
class DF:
    name: str
    fid: int
    path: str
    aid: bytes | None = None
    children: tuple[DF | EF, ...] = ()
    #: extra FCI proprietary data (inside A5), e.g. the SSSE algorithm indicator 9F0C.
    fci_proprietary: bytes = b""
    _by_fid: dict = field(default_factory=dict, compare=False, repr=False)
    _by_sfi: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for child in self.children:
            if child.fid in self._by_fid:
                raise ValueError(f"{self.path}: FID {child.fid:04X} used twice")
            self._by_fid[child.fid] = child
            if isinstance(child, EF) and child.sfi is not None:
                if child.sfi in self._by_sfi:
                    raise ValueError(f"{self.path}: SFI {child.sfi} used twice")
                self._by_sfi[child.sfi] = child

    def child(self, fid: int) -> DF | EF | None:
        return self._by_fid.get(fid)

    def ef_by_sfi(self, sfi: int) -> EF | None:
        return self._by_sfi.get(sfi)


class FileTree:
    """The whole tree under the MF, indexed for SELECT (parent links, DF names)."""

    def __init__(self, mf: DF) -> None:
        self.mf = mf
        self.parent: dict[str, DF] = {}
        self.by_aid: dict[bytes, DF] = {}
        self.nodes: dict[str, DF | EF] = {}
        self._index(mf)

    def _index(self, df: DF) -> None:
        self.nodes[df.path] = df
        if df.aid:
            self.by_aid[df.aid] = df
        for child in df.children:
            self.parent[child.path] = df
            if isinstance(child, DF):
                self._index(child)
            else:
                self.nodes[child.path] = child

    def efs(self) -> list[EF]:
        return [n for n in self.nodes.values() if isinstance(n, EF)]

    def application_of(self, node: DF | EF) -> DF | None:
        """The top-level DF (child of the MF) a node belongs to: the unit of security state."""
        path = node.path.split("/")
        return None if len(path) < 2 else self.nodes["/".join(path[:2])]  # type: ignore[return-value]
