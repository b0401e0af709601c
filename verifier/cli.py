"""`vaxcert verify` and `vaxcert trust …`: verify certificates offline and manage the trust store.

Exit codes of `vaxcert verify`: 0 every certificate valid with its revocation checked, 1 any
invalid, 2 usage or trust store errors, 3 every certificate valid but the revocation of at least
one not checked (never a plain valid: docs/verifier.md).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Literal

import click

from vaxcert.config import Settings, settings_from
from verifier import _x509, texts
from verifier.models import Result, Verdict
from verifier.services import verify_all
from verifier.sheet import judge
from verifier.trust import TrustStore, TrustStoreError, load_trust_store, parse_shc_crl

Language = Literal["ja", "en"]
_FORMAT_NAMES = {"shc": "SMART Health Card", "vdsnc": "ICAO VDS-NC", "unknown": "unknown"}
EXIT_UNCHECKED = 3
_COLOURS: dict[Verdict, str] = {
    "valid": "green",
    "valid_revocation_unchecked": "yellow",
    "invalid": "red",
}


def _usage(message: str) -> click.UsageError:
    return click.UsageError(message)


def _parse_at(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _usage(f"--at {value!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def build_trust(
    settings: Settings,
    trust: str | None,
    cscas: tuple[str, ...],
    crls: tuple[str, ...],
    jwks: tuple[str, ...],
) -> TrustStore:
    """The trust store of one invocation: ``--trust`` (or the configured/dev store when no anchor
    is given at all) plus the one-off anchors ``--csca``, ``--crl`` and ``--jwks``."""
    if trust is not None:
        store = load_trust_store(Path(trust))
    elif cscas or crls or jwks:
        store = TrustStore()
    else:
        store = default_store(settings)
    for file in cscas:
        store.add_csca(_read(file, "--csca"))
    for spec in jwks:
        iss, sep, file = spec.partition("=")
        if not sep or not iss.startswith("https://") or iss.endswith("/"):
            raise _usage(f"--jwks {spec!r}: expected ISS=FILE with an https ISS, no trailing /")
        try:
            body = json.loads(_read(file, "--jwks"))
        except ValueError:
            raise _usage(f"--jwks {file}: not JSON") from None
        # A JWKS given by hand counts as fetched when its file was last written.
        store.add_shc_issuer(iss, None, body, updated_at=_written_at(file))
    for file in crls:
        _add_crl(store, file)
    if store.empty:
        raise _usage("no trust anchors: give --trust, --csca or --jwks")
    from verifier.dev_trust import check_development_trust

    check_development_trust(store, settings)  # refused in production, a warning elsewhere
    return store


def default_store(settings: Settings) -> TrustStore:
    """The configured trust store, or outside production the dev store from the dev PKI."""
    if settings.verifier.trust is not None:
        return load_trust_store(settings.verifier.trust)
    if settings.environment == "production":
        raise TrustStoreError(
            "no trust store configured (VAXCERT_VERIFIER__TRUST; `vaxcert --dev` trusts the "
            "development PKI)"
        )
    from verifier.dev_trust import dev_trust_store

    # Live: the demo's store fetches the signer's published keys and revocation lists.
    return dev_trust_store(settings.pki_dir, settings.issuer_url, live=True)


def _written_at(file: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(Path(file).stat().st_mtime, dt.UTC)


def _add_crl(store: TrustStore, file: str) -> None:
    data = _read(file, "--crl")
    if data.lstrip().startswith(b"{"):
        try:
            body = json.loads(data)
        except ValueError:
            raise _usage(f"--crl {file}: not JSON") from None
        for issuer in store.shc.values():
            revocations = parse_shc_crl(body, issuer.iss)
            if revocations.kid in issuer.keys:
                issuer.crls[revocations.kid] = revocations
                return
        raise _usage(f"--crl {file}: no trusted SHC key has kid {body.get('kid')!r}")
    if not store.add_crl(data, Path(file).name):
        raise _usage(f"--crl {file}: no trusted CSCA issued it")


def _read(file: str, option: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise _usage(f"{option} {file}: {exc.strerror}") from None


def _input_data(value: str) -> tuple[str | bytes, str]:
    if value == "-":
        return sys.stdin.buffer.read(), "stdin"
    if value.startswith(("shc:/", "{")):
        return value, "argument"
    path = Path(value)
    if not path.is_file():
        raise _usage(f"{value}: no such file (give a file, '-' for stdin, or shc:/ text)")
    try:
        return path.read_bytes(), value
    except OSError as exc:
        raise _usage(f"{value}: {exc.strerror}") from None


def _human(result: Result, lang: Language) -> list[str]:
    gettext = texts.translations(lang).gettext
    message = texts.VERDICTS[result.verdict]
    # Both languages, as on a gate's screen: the Japanese and the English msgid.
    words = f"{texts.translations('ja').gettext(message)} {message}"
    if result.verdict == "valid_revocation_unchecked":
        words = words.upper()
    verdict = click.style(words, fg=_COLOURS[result.verdict], bold=result.verdict != "valid")
    lines = [f"{result.source}: {verdict}  {_FORMAT_NAMES[result.format]}"]
    if result.format == "vdsnc":
        if result.signer:
            lines.append(f"  document signer: {result.signer}")
        if result.issuer_id:
            lines.append(f"  issuing country: {result.issuer_id}")
        if result.trust_anchor:
            lines.append(f"  trusted through (CSCA): {result.trust_anchor}")
    elif result.issuer or result.issuer_id:
        lines.append(f"  issuer: {result.issuer or '-'} ({result.issuer_id or '-'})")
    if result.valid:
        for name in result.names:
            lines.append(f"  holder: {name}")
        if result.birth_date:
            lines.append(f"  birth date: {result.birth_date}")
        if result.nationality:
            lines.append(f"  nationality: {result.nationality}")
        if result.passport_number:
            lines.append(f"  passport number: {result.passport_number}")
        if result.certificate_id:
            lines.append(f"  certificate id: {result.certificate_id}")
        for dose in result.doses:
            vaccine = (dose.vaccine_ja if lang == "ja" else None) or dose.vaccine or "-"
            # Only the number the certificate states; without one, none (never a count).
            number = f"#{dose.number} " if dose.number is not None else ""
            code = dose.vaccine_code or "-"
            lines.append(
                f"  dose {number}{dose.date or '-'} {vaccine} [{code}] lot {dose.lot or '-'}"
            )
        if result.doses and all(dose.number is None for dose in result.doses):
            lines.append(f"  ({gettext(texts.NO_DOSE_NUMBERS)})")
        for line in texts.revocation_lines(result, gettext):
            lines.append(f"  revocation: {line}")
        problem = result.revocation.problem if result.revocation else None
        if problem is not None and problem.code not in result.warning_codes:
            detail = f" ({problem.detail})" if problem.detail else ""
            lines.append(f"  warning {problem.code}: {problem.reason.message(lang)}{detail}")
    for finding in result.reasons:
        detail = f" ({finding.detail})" if finding.detail else ""
        lines.append(f"  reason {finding.code}: {finding.reason.message(lang)}{detail}")
    for finding in result.warnings:
        detail = f" ({finding.detail})" if finding.detail else ""
        lines.append(f"  warning {finding.code}: {finding.reason.message(lang)}{detail}")
    if result.trust_age_seconds is not None:
        lines.append(f"  trust data age: {result.trust_age_seconds / 86400:.1f} days")
    return lines


@click.command("verify")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--trust", type=click.Path(exists=True), help="Trust store directory or trust.toml.")
@click.option("--csca", multiple=True, help="Trust this CSCA certificate (DER or PEM).")
@click.option("--crl", multiple=True, help="A CSCA CRL (DER/PEM) or an SHC rid CRL (JSON).")
@click.option("--jwks", multiple=True, help="Trust SHC issuer ISS with the keys in FILE: ISS=FILE.")
@click.option("--at", "at_text", help="Verify as of this ISO 8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per certificate.")
@click.option("--lang", type=click.Choice(["ja", "en"]), default="en", show_default=True)
@click.pass_context
def verify_command(
    ctx: click.Context,
    inputs: tuple[str, ...],
    trust: str | None,
    csca: tuple[str, ...],
    crl: tuple[str, ...],
    jwks: tuple[str, ...],
    at_text: str | None,
    as_json: bool,
    lang: Language,
) -> None:
    """Verify certificates offline: INPUT is a file (QR text, JWS, .smart-health-card, image,
    PDF), '-' for stdin, or shc:/ text. Exit 0 when all are valid, 1 when any is not."""
    settings = settings_from(ctx)
    at = _parse_at(at_text)
    try:
        store = build_trust(settings, trust, csca, crl, jwks)
    except TrustStoreError as exc:
        raise _usage(f"trust store: {exc.detail}") from None
    except _x509.X509Error as exc:
        raise _usage(f"trust anchor: {exc}") from None
    skew = dt.timedelta(seconds=settings.verifier.clock_skew_seconds)
    verdicts: set[Verdict] = set()
    try:
        for value in inputs:
            data, label = _input_data(value)
            results = verify_all(data, store, at, clock_skew=skew, source=label)
            for result in results:
                verdicts.add(result.verdict)
                if as_json:
                    body: dict[str, Any] = {"input": value, **result.to_json()}
                    click.echo(json.dumps(body, ensure_ascii=False))
                else:
                    click.echo("\n".join(_human(result, lang)))
            sheet = judge(results)
            if len(results) > 1 and sheet.headline is not None:
                # One input is one sheet: codes of different people or certificates on it make
                # it not valid even when each code is (docs/verifier.md).
                verdicts.add("invalid")
                if not as_json:
                    reason = sheet.headline.reason
                    click.echo(f"{value}: sheet 無効 NOT VALID: {reason.ja} / {reason.en}")
    finally:
        if store.live is not None:
            store.live.close()
    if "invalid" in verdicts:
        ctx.exit(1)
    ctx.exit(EXIT_UNCHECKED if "valid_revocation_unchecked" in verdicts else 0)


@click.group("trust")
def trust_group() -> None:
    """The verifier's trust store (trusted SHC issuers and VDS-NC CSCAs)."""


@trust_group.command("refresh")
@click.option("--trust", type=click.Path(exists=True), help="Trust store (default: configured).")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False), help="Pin this TLS CA.")
@click.option("--timeout", type=float, default=10.0, show_default=True)
@click.pass_context
def trust_refresh(ctx: click.Context, trust: str | None, ca: str | None, timeout: float) -> None:
    """Fetch the JWKS and CRLs of every trusted issuer and record when; exit 1 if any failed."""
    from verifier.clients import TrustFetcher
    from verifier.refresh import refresh

    settings = settings_from(ctx)
    path = Path(trust) if trust else settings.verifier.trust
    if path is None:
        raise _usage("no trust store: give --trust or set VAXCERT_VERIFIER__TRUST")
    try:
        store = load_trust_store(path)
    except TrustStoreError as exc:
        raise _usage(f"trust store: {exc.detail}") from None
    fetcher = TrustFetcher(Path(ca) if ca else store.tls_ca, timeout)
    try:
        report = refresh(path, fetcher)
    except TrustStoreError as exc:
        raise _usage(f"trust store: {exc.detail}") from None
    finally:
        fetcher.close()
    for name in report.updated:
        click.echo(f"updated  {name}  at {report.at.isoformat(timespec='seconds')}")
    for problem in report.failed:
        click.echo(f"FAILED   {problem}", err=True)
    ctx.exit(1 if report.failed else 0)


@trust_group.command("init-dev")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Target directory.")
@click.pass_context
def trust_init_dev(ctx: click.Context, out: str | None) -> None:
    """Write a trust store that trusts the dev issuer and dev CSCA (from the dev PKI)."""
    from verifier.dev_trust import write_dev_trust_store

    settings = settings_from(ctx)
    if settings.environment == "production":
        raise click.ClickException(
            "a development trust store is not written in production: `vaxcert --dev trust init-dev`"
        )
    target = Path(out) if out else settings.pki_dir / "verifier-trust"
    try:
        index = write_dev_trust_store(settings.pki_dir, settings.issuer_url, target)
    except TrustStoreError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"wrote {index}")


@trust_group.command("show")
@click.option("--trust", type=click.Path(exists=True), help="Trust store (default: configured).")
@click.pass_context
def trust_show(ctx: click.Context, trust: str | None) -> None:
    """List trusted issuers and CSCAs with key ids, CRL windows and data age."""
    settings = settings_from(ctx)
    try:
        store = load_trust_store(Path(trust)) if trust else default_store(settings)
    except TrustStoreError as exc:
        raise _usage(f"trust store: {exc.detail}") from None
    now = dt.datetime.now(dt.UTC)

    def age(when: dt.datetime | None) -> str:
        return f"{(now - when).total_seconds() / 86400:.1f} days old" if when else "age unknown"

    for issuer in store.shc.values():
        click.echo(f"SHC  {issuer.iss}  {issuer.name}  ({age(issuer.updated_at)})")
        for kid, key in issuer.keys.items():
            crl = issuer.crls.get(kid)
            revocation = f"crlVersion {key.crl_version}" if key.crl_version is not None else ""
            if crl is not None:
                revocation += f", CRL ctr {crl.ctr} ({len(crl.rids)} rids)"
            click.echo(f"     kid {kid} {revocation}".rstrip())
    for csca in store.cscas:
        cert = csca.cert
        click.echo(
            f"CSCA {csca.name} [{csca.country or '-'}] serial {cert.serial:x} "
            f"valid {cert.not_before:%Y-%m-%d}..{cert.not_after:%Y-%m-%d} ({age(csca.updated_at)})"
        )
        for x509_crl in csca.crls:
            next_update = f"{x509_crl.next_update:%Y-%m-%d}" if x509_crl.next_update else "-"
            click.echo(
                f"     CRL {x509_crl.this_update:%Y-%m-%d}..{next_update}, "
                f"{len(x509_crl.revoked)} revoked"
            )
        if csca.bad_crls:
            click.echo(f"     {len(csca.bad_crls)} CRL(s) with an INVALID signature")
    for warning in store.load_warnings:
        click.echo(f"warning: {warning}", err=True)
