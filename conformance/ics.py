"""A product's capability declaration (ICS, `ykt certify --ics FILE`) and what it decides.

The declaration says what kind of product the DUT is and which options it implements; checked
against the profile's `national/ics` (the capabilities a kind may declare and the ones it must),
it is the only thing that makes a test *not applicable*. Applied to the DUT, it replaces the
capabilities the device reports about itself with the declared ones; what the harness can do
with the device (choose a card's persona, tear it, move a terminal's clock: `harness_facilities`)
stays what the adapter offers, because those are facilities of the test set-up, not product
options.

Test keys and PINs in a declaration are secrets: `summary()` gives what a certificate may show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from simulator.crypto.hashes import sm3
from simulator.profile import Profile, ProfileError, national, validate

CARD, READER, DEPARTMENT = "card", "reader", "department"


class DeclarationError(ValueError):
    """The declaration is unreadable, malformed, or claims what its kind cannot (a usage error)."""


@dataclass(frozen=True)
class Declaration:
    path: Path
    kind: str
    capabilities: frozenset[str]
    product: dict
    applicant: str | None
    manufacturer: str | None
    samples: tuple[dict, ...] = ()
    #: a department's declared purpose (platform.yaml `purposes`), else None
    purpose: str | None = None
    test_keys: dict[str, str] = field(default_factory=dict, repr=False)
    capabilities_line: int = 0
    sm3: str = ""

    def cite(self) -> str:
        """Where the declaration lists the capabilities, for a not-applicable reason."""
        listed = ", ".join(sorted(self.capabilities))
        return f"ICS {self.path.name} line {self.capabilities_line} (capabilities: {listed})"

    def summary(self) -> dict:
        """What a certificate shows of the declaration: no test key, no PIN."""
        return {"file": self.path.name, "sm3": self.sm3, "kind": self.kind, "product": self.product,
                "capabilities": sorted(self.capabilities), "applicant": self.applicant,
                "manufacturer": self.manufacturer, "purpose": self.purpose,
                "samples": [{k: v for k, v in s.items() if k != "pin"} for s in self.samples],
                "test_keys": sorted(self.test_keys)}


def kinds(ics: dict) -> dict[str, list[str]]:
    """kind -> the capabilities a product of that kind may declare (the profile's ics.yaml)."""
    return {CARD: ics[CARD], READER: ics[READER], DEPARTMENT: ics[DEPARTMENT], **ics["terminal_kinds"]}


def check(declared: set[str], kind: str, *, where: str, ics: dict) -> frozenset[str]:
    """`declared` as a product of `kind` may declare it by the run's `ics` document: known kind,
    known options, none of the harness's own facilities, every mandatory capability present."""
    allowed = kinds(ics)
    if kind not in allowed:
        raise DeclarationError(f"{where}: unknown product kind {kind!r}; kinds: {', '.join(allowed)}")
    harness = declared & set(ics["harness_facilities"])
    if harness:
        raise DeclarationError(f"{where}: {', '.join(sorted(harness))} are the harness's facilities (a "
                               f"simulated device's or the lab's own equipment), not product options")
    unknown = declared - set(allowed[kind])
    if unknown:
        raise DeclarationError(f"{where}: a {kind} cannot declare {', '.join(sorted(unknown))}; "
                               f"it may declare: {', '.join(allowed[kind])}")
    missing = [c for c in ics["mandatory"].get(kind, []) if c not in declared]
    if missing:
        raise DeclarationError(f"{where}: a {kind} must declare {', '.join(missing)} (mandatory for its kind in "
                               f"the profile's ics.yaml)")
    return frozenset(declared)


def check_purpose(purpose: str | None, kind: str, *, where: str, ics: dict) -> str | None:
    """A department declares one purpose of the profile's (PIPL art. 6: what it may read follows
    from it); no other kind declares one."""
    if kind != DEPARTMENT:
        if purpose is not None:
            raise DeclarationError(f"{where}: only a department declares a purpose, not a {kind}")
        return None
    allowed = ics["department_purposes"]
    if purpose not in allowed:
        raise DeclarationError(f"{where}: a department must declare its purpose, one of {', '.join(allowed)} "
                               f"(got {purpose!r})")
    return purpose


def _capabilities_line(text: str) -> int:
    node = yaml.compose(text)
    for key, _ in getattr(node, "value", []):
        if getattr(key, "value", None) == "capabilities":
            return key.start_mark.line + 1
    return 0


def load_declaration(path: Path, profile: Profile | None = None) -> Declaration:
    """Read, schema-check and check a declaration against its kind in `profile` (the run's; the
    national one by default) (DeclarationError)."""
    path = Path(path)
    ics = (profile or national())["ics"]
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"--ics {path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise DeclarationError(f"--ics {path}: not valid YAML ({exc})") from None
    try:
        validate(document, "ics_declaration", where=f"--ics {path}")
    except ProfileError as exc:
        raise DeclarationError(str(exc)) from None
    kind = document["product"]["kind"]
    capabilities = check(set(document["capabilities"]), kind, where=f"--ics {path}", ics=ics)
    purpose = check_purpose(document["product"].get("purpose"), kind, where=f"--ics {path}", ics=ics)
    return Declaration(path=path, kind=kind, capabilities=capabilities, product=document["product"],
                       applicant=document.get("applicant"), manufacturer=document.get("manufacturer"),
                       samples=tuple(document.get("samples", ())), purpose=purpose,
                       test_keys=dict(document.get("test_keys", {})),
                       capabilities_line=_capabilities_line(text), sm3=sm3(text.encode("utf-8")).hex())


def apply(declaration: Declaration, dut, profile: Profile) -> None:
    """Give the DUT's role of the declared kind the declared capabilities (plus the harness
    facilities of `profile` its adapter offers); refuse a DUT that plays no role of that kind."""
    harness = set(profile["ics"]["harness_facilities"])
    if declaration.kind == CARD:
        roles = [dut.card] if dut.card is not None else []
    elif declaration.kind == READER:
        roles = [dut.reader] if dut.reader is not None else []
    elif declaration.kind == DEPARTMENT:
        roles = [dut.department] if dut.department is not None else []
    else:
        roles = [t for t in dut.terminals.values() if t.kind == declaration.kind]
    if len(roles) != 1:
        raise DeclarationError(f"--ics {declaration.path}: declares a {declaration.kind}, but the DUT "
                               f"({dut.name}) plays {len(roles)} role(s) of that kind")
    role = roles[0]
    if declaration.kind == DEPARTMENT and role.purpose != declaration.purpose:
        raise DeclarationError(f"--ics {declaration.path}: declares the purpose {declaration.purpose}, but the "
                               f"department ({dut.name}) says it serves {role.purpose}")
    role.capabilities = declaration.capabilities | (frozenset(role.capabilities) & harness)
