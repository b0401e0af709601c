"""`vaxcert card`: serve a virtual card to vpcd, list PC/SC readers, read a card (no PII shown)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import IO

import click

from vaxcert.card import cards
from vaxcert.card.errors import CardDataError, CardError
from vaxcert.card.models import FILE_NAMES
from vaxcert.card.virtual import CardLogEntry
from vaxcert.card.vpcd import VPCD_DEFAULT_PORT, VpcdCardClient, is_loopback
from vaxcert.config import settings_from


@click.group("card")
def group() -> None:
    """My Number cards: virtual cards on vpcd, PC/SC readers."""


def _four_digits(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (len(value) != 4 or not all("0" <= c <= "9" for c in value)):
        raise click.BadParameter("the PIN is exactly 4 ASCII digits")
    return value


@group.command("serve")
@click.option(
    "--resident",
    "card_key",
    required=True,
    type=click.Choice(cards.card_keys()),
    help="Synthetic resident or card edge case whose card to serve.",
)
@click.option("--pin", default=None, callback=_four_digits, help="PIN (default: the resident's).")
@click.option("--locked", is_flag=True, help="Start with the PIN already blocked.")
@click.option("--host", default="127.0.0.1", show_default=True, help="vpcd host (loopback only).")
@click.option("--port", default=VPCD_DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the card log as JSON lines: command headers, data lengths, status words only.",
)
@click.option(
    "--remove-after",
    type=click.IntRange(0),
    default=None,
    help="Test hook: after answering N APDUs, leave the reader at the next one and exit.",
)
@click.option(
    "--pki-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Dev PKI with the J-LIS test CA (default: the configured pki_dir).",
)
@click.option("--no-quickack", is_flag=True, hidden=True, help="Benchmark: show the ~40 ms stall.")
@click.pass_context
def serve(
    ctx: click.Context,
    card_key: str,
    pin: str | None,
    locked: bool,
    host: str,
    port: int,
    log_file: Path | None,
    remove_after: int | None,
    pki_dir: Path | None,
    no_quickack: bool,
) -> None:
    """Serve a virtual My Number card to vsmartcard vpcd until SIGTERM/Ctrl-C."""
    if not is_loopback(host):
        raise click.BadParameter(
            "a virtual card connects to vpcd on loopback only", param_hint="--host"
        )
    directory = pki_dir.resolve() if pki_dir else settings_from(ctx).pki_dir
    try:
        issuer = cards.CardIssuer.from_pki(directory)
    except (OSError, ValueError, KeyError):
        raise click.ClickException(
            f"no dev J-LIS CA in {directory}: run `vaxcert certs init` first"
        ) from None
    card = cards.make_card(card_key, issuer, pin=pin, locked=locked)
    log: IO[str] | None = log_file.open("a", buffering=1, encoding="utf-8") if log_file else None

    def journal(entry: CardLogEntry) -> None:
        if log is not None:
            log.write(json.dumps(entry.to_json()) + "\n")

    client = VpcdCardClient(
        card, host, port, remove_after=remove_after, journal=journal, quickack=not no_quickack
    )

    def stop(_signum: int, _frame: FrameType | None) -> None:
        client.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"virtual card {card_key!r} for vpcd {host}:{port} (Ctrl-C stops)", err=True)
    try:
        client.run()
    finally:
        if log is not None:
            log.close()


@group.command("readers")
def readers() -> None:
    """List the PC/SC readers pcscd offers."""
    from vaxcert.card.pcsc import PcscCardReader

    try:
        names = PcscCardReader().readers()
    except CardError as exc:
        raise click.ClickException(exc.detail or exc.code) from None
    for name in names:
        click.echo(name)


@group.command("check")
@click.option("--reader", default=None, help="Reader name or prefix (default: the configured one).")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 120))
@click.pass_context
def check(ctx: click.Context, reader: str | None, timeout: float) -> None:
    """Ask for the PIN, read the card, verify it as the center does (C03); never shows card data."""
    from vaxcert.card import ca_key_table, verify_card_files
    from vaxcert.card.pcsc import PcscCardReader

    settings = settings_from(ctx)
    ca_keys = ca_key_table(settings)
    card_reader = PcscCardReader(reader or settings.card.pcsc_reader, timeout=timeout)
    try:
        tries = card_reader.pin_tries_left()
        click.echo(f"PIN tries left: {'not reported' if tries is None else tries}")
        if tries == 0:
            raise click.ClickException("the PIN is locked; it is not tried (C01)")
        pin = click.prompt("PIN", hide_input=True)
        result = verify_card_files(card_reader.read_files(pin), ca_keys)
    except (CardError, CardDataError) as exc:
        click.echo(f"{exc.code}: {exc.detail}", err=True)
        sys.exit(1)
    sizes = ", ".join(f"{name.upper()} {len(getattr(result.files, name))} B" for name in FILE_NAMES)
    click.echo(f"verified by CA {result.verified_by}; {sizes}")
