"""`vaxcert signer ...`: key state, scripted issuance, rotation, revocation, compromise, and the
barcode signer certificate from a CSCA held elsewhere (a CSR out, a certificate in)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from signer.samples import example_content
from signer.services import SignerService
from signer.shc_issue import IssuedShc
from signer.vdsnc_issue import IssuedVdsnc
from vaxcert import residents
from vaxcert.certificate import qr
from vaxcert.config import settings_from
from vaxcert.errors import VaxcertError


def _service(ctx: click.Context) -> SignerService:
    obj = ctx.ensure_object(dict)
    if "signer_service" not in obj:
        obj["signer_service"] = SignerService(settings_from(ctx))
    service: SignerService = obj["signer_service"]
    return service


def _fail(error: VaxcertError) -> click.ClickException:
    return click.ClickException(f"{error.code}: {error.detail or error.reason.en}")


@click.group()
def group() -> None:
    """The signer: SMART Health Card and ICAO VDS-NC keys and issuance."""


@group.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the key state: adopt the dev PKI keys (file) or generate them on the token."""
    service = _service(ctx)
    try:
        made = service.init()
    except VaxcertError as exc:
        raise _fail(exc) from None
    click.echo(f"{service.store.directory}: " + ("initialised" if made else "already initialised"))


@group.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Print the active keys, retired keys and CRL counters as JSON."""
    try:
        click.echo(json.dumps(_service(ctx).status(), indent=2))
    except VaxcertError as exc:
        raise _fail(exc) from None


@group.command()
@click.option(
    "--input",
    "input_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Certificate content (JSON, see docs/signer.md).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for card.jws, card.qr.txt, card.qr.png, card.smart-health-card "
    "(and vdsnc.json, vdsnc.qr.png for overseas).",
)
@click.pass_context
def issue(ctx: click.Context, input_file: Path, out_dir: Path) -> None:
    """Sign one certificate with the local keys and write its files (scripted use and tests)."""
    from vaxcert.contracts.signing import CertificateContent

    service = _service(ctx)
    try:
        content = CertificateContent.model_validate_json(input_file.read_bytes())
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise click.ClickException(f"invalid content: {', '.join(fields)}") from None
    try:
        service.init()
        issued = service.issue(content)
        files = _files(issued.shc, issued.vdsnc)
    except VaxcertError as exc:
        raise _fail(exc) from None
    # Everything is built before the first byte is written: a refusal leaves nothing behind.
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        fd = os.open(out_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    click.echo(f"{out_dir}: {', '.join(files)} (kid {issued.shc.kid})")


def _files(card: IssuedShc, document: IssuedVdsnc | None) -> dict[str, bytes]:
    files = {
        "card.jws": card.jws.encode("ascii"),
        "card.qr.txt": card.numeric.encode("ascii"),
        "card.qr.png": qr.png(qr.shc_qr(card.numeric)),
        "card.smart-health-card": card.file_content.encode("utf-8"),
    }
    if document is not None:
        files["vdsnc.json"] = document.document.encode("utf-8")
        files["vdsnc.qr.png"] = qr.png(qr.vdsnc_qr(document.document))
    return files


@group.command()
@click.option(
    "--format",
    "which",
    type=click.Choice(["shc", "vdsnc", "both"]),
    default="shc",
    show_default=True,
    help="Which key to rotate.",
)
@click.pass_context
def rotate(ctx: click.Context, which: str) -> None:
    """Make a new key active; the old SHC public key stays in the JWKS (retired)."""
    service = _service(ctx)
    try:
        service.init()
        if which in ("shc", "both"):
            click.echo(f"SHC: new active kid {service.rotate_shc()}")
        if which in ("vdsnc", "both"):
            click.echo(f"VDS-NC: new active BSC serial {service.rotate_bsc()}")
    except VaxcertError as exc:
        raise _fail(exc) from None


@group.command()
@click.option("--certificate-id", required=True, help="The certificate ID (VDS-NC uvci).")
@click.option("--kid", default=None, help="Only under this SHC key (default: every published key).")
@click.pass_context
def revoke(ctx: click.Context, certificate_id: str, kid: str | None) -> None:
    """Revoke the SHC cards of a certificate ID issued until now (rid CRL, crlVersion bumped).

    A VDS-NC has no per-document revocation: after a key compromise use `compromise --bsc`.
    """
    try:
        revoked = _service(ctx).revoke(certificate_id, kid)
    except VaxcertError as exc:
        raise _fail(exc) from None
    for key_id, rid in revoked:
        click.echo(f"kid {key_id}: rid {rid} listed")
    if not revoked:
        click.echo("already revoked")


@group.command()
@click.option("--kid", default=None, help="An SHC key to withdraw from the JWKS at once.")
@click.option("--bsc", is_flag=True, help="Revoke a BSC in the CSCA's CRL.")
@click.option("--serial", default=None, help="With --bsc: the BSC serial (hex; default active).")
@click.pass_context
def compromise(ctx: click.Context, kid: str | None, bsc: bool, serial: str | None) -> None:
    """Handle a compromised key: the SHC key leaves the JWKS, the BSC enters the CSCA's CRL.

    An active key is replaced by a new one in the same step.
    """
    if (kid is None) == (not bsc):
        raise click.UsageError("give exactly one of --kid or --bsc")
    service = _service(ctx)
    try:
        if kid is not None:
            replacement = service.compromise_shc(kid)
            click.echo(
                f"SHC key {kid} withdrawn" + (f"; new kid {replacement}" if replacement else "")
            )
        elif service.holds_csca_key():
            replacement = service.compromise_bsc(serial)
            click.echo(
                "BSC revoked in the CSCA CRL" + (f"; new BSC {replacement}" if replacement else "")
            )
        else:
            service.compromise_bsc(serial)
            click.echo(
                "BSC withdrawn: ask the CSCA holder to revoke it; make a new key with "
                "`vaxcert signer csr` and import its certificate"
            )
    except VaxcertError as exc:
        raise _fail(exc) from None


@group.command()
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the PKCS#10 request (PEM) for the CSCA.",
)
@click.pass_context
def csr(ctx: click.Context, out_file: Path) -> None:
    """Make a new VDS-NC barcode signer key and a certificate request for the CSCA.

    For a CSCA held by another ministry: send the request, then activate the certificate it
    returns with `import-certificate`. The key signs nothing before that.
    """
    service = _service(ctx)
    try:
        service.init()
        kid, request = service.request_bsc()
    except VaxcertError as exc:
        raise _fail(exc) from None
    out_file.write_bytes(request)
    click.echo(f"{out_file}: certificate request for barcode signer key {kid}")


@group.command("import-certificate")
@click.option(
    "--certificate",
    "certificate_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The barcode signer certificate the CSCA returned (DER or PEM).",
)
@click.pass_context
def import_certificate(ctx: click.Context, certificate_file: Path) -> None:
    """Check the CSCA's certificate for a key from `csr` and make it the active barcode signer.

    Refused, changing nothing, unless it certifies a pending key and chains to the configured
    CSCA (<pki_dir>/vdsnc-csca.der) with the barcode signer profile.
    """
    service = _service(ctx)
    try:
        serial = service.import_bsc(certificate_file.read_bytes())
    except VaxcertError as exc:
        raise _fail(exc) from None
    click.echo(f"VDS-NC: new active BSC serial {serial}")


@group.command("example-content")
@click.option("--resident", default="canary", show_default=True, help="A synthetic resident key.")
@click.option("--kind", type=click.Choice(["domestic", "overseas"]), default="domestic")
@click.option("--doses", type=click.IntRange(1, 7), default=3, show_default=True)
@click.option("--certificate-id", default="9SAMPLE00001", show_default=True)
def example(resident: str, kind: str, doses: int, certificate_id: str) -> None:
    """Print a valid content JSON for a synthetic resident (for `issue --input`)."""
    try:
        person = residents.get(resident)
        content = example_content(
            person,
            "overseas" if kind == "overseas" else "domestic",
            doses,
            certificate_id=certificate_id,
        )
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    sys.stdout.write(content.model_dump_json(indent=2, exclude_none=True) + "\n")
