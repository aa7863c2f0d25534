"""`ykt certificate verify FILE [--public-key PEM]`: check a certificate offline.

It holds when (1) its SM2 signature verifies (against the lab's public key when given, else the
key the certificate names, which proves integrity only), and (2) every evidence file it lists
beside it has the SM3 digest it records, and no file was added to the run folder since. Any byte
changed in the certificate or in a listed file makes it fail. Exit status 0 valid, 1 not valid,
64 usage (no such file, not a certificate, a bad key file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from conformance import report, signing
from conformance.certify import CERTIFICATE_SELF
from simulator.crypto import sm2

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Check certificates written by ykt certify.")


def evidence_problems(certificate: dict, folder: Path) -> list[str]:
    """Why the evidence beside the certificate is not what it vouches for (empty: it is)."""
    listed = certificate.get("evidence", {}).get("files")
    if not isinstance(listed, dict) or not listed:
        return ["the certificate lists no evidence files"]
    problems = []
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"evidence file missing: {name}")
        elif report.file_sm3(path) != digest:
            problems.append(f"evidence file changed: {name}")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and p.name not in CERTIFICATE_SELF}
    problems += [f"file not vouched for by the certificate: {name}" for name in sorted(present - set(listed))]
    return problems


def problems_of(path: Path, public_key: bytes | None) -> list[str]:
    """Everything wrong with the certificate at `path` (empty: it verifies)."""
    certificate = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(certificate, dict) or certificate.get("format") != report.CERTIFICATE_FORMAT:
        raise ValueError(f"{path}: not a {report.CERTIFICATE_FORMAT} certificate")
    return signing.signature_problems(certificate, public_key) + evidence_problems(certificate, path.parent)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="certificate.json of a run")],
    public_key: Annotated[Path | None, typer.Option(help="the lab's public key (PEM); without it the key the "
                                                         "certificate names is used")] = None,
) -> None:
    """Verify a certificate's SM2 signature and every evidence digest."""
    try:
        key = sm2.load_public_key_pem(public_key.read_text(encoding="ascii")) if public_key else None
        problems = problems_of(file, key)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        typer.echo(f"ykt certificate verify: {exc}", err=True)
        raise typer.Exit(report.EXIT_USAGE) from None
    if problems:
        typer.echo(f"NOT VALID: {file}")
        for problem in problems:
            typer.echo(f"  - {problem}")
        raise typer.Exit(1)
    whose = "the given lab key" if key else "the key it names (pass --public-key to check who signed)"
    typer.echo(f"VALID: {file}: signature by {whose}; every evidence file matches its SM3 digest")
