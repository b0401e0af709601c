"""`vaxcert kiosk-sim`: the kiosk flow without a browser; prints one JSON object."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vaxcert.card import cards
from vaxcert.errors import VaxcertError


@click.command("kiosk-sim")
@click.option("--resident", required=True, type=click.Choice(cards.card_keys()), help="Card.")
@click.option("--pin", required=True, help="The PIN typed on the pad (4 digits).")
@click.option("--municipality", required=True, help="Municipality code (6 digits).")
@click.option("--kind", required=True, type=click.Choice(["domestic", "overseas"]))
@click.option("--copies", default=1, show_default=True, type=click.IntRange(1, 20))
@click.option(
    "--reader", default="memory", show_default=True, type=click.Choice(["memory", "pcsc"])
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write certificate.pdf here (only then is anything written).",
)
@click.pass_context
def sim_command(
    ctx: click.Context,
    resident: str,
    pin: str,
    municipality: str,
    kind: str,
    copies: int,
    reader: str,
    out: Path | None,
) -> None:
    """Run one application through the kiosk flow against the configured center.

    Prints {"outcome": "issued"|"refused"|"error", "reason": CODE|null, "certificate_id":
    ID|null}; exit status 0 issued, 1 refused, 2 error. The PIN is the resident's to give: the
    virtual cards' PINs are listed by `vaxcert demo`.
    """
    from kiosk.sim import SimResult, simulate
    from vaxcert.config import settings_from

    settings = settings_from(ctx)
    try:
        result = simulate(
            settings,
            resident=resident,
            pin=pin,
            municipality=municipality,
            kind=kind,
            copies=copies,
            reader="pcsc" if reader == "pcsc" else "memory",
        )
    except VaxcertError as exc:
        result = SimResult("error", exc.code)
    except Exception as exc:  # still one JSON line for scripts; the type goes to stderr
        click.echo(f"kiosk-sim: {type(exc).__name__}", err=True)
        result = SimResult("error", "internal_error")
    if out is not None and result.pdf is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "certificate.pdf").write_bytes(result.pdf)
    click.echo(json.dumps(result.to_json()))
    sys.exit({"issued": 0, "refused": 1, "error": 2}[result.outcome])


@click.group("kiosk-prompts")
def prompts_group() -> None:
    """The kiosk's recorded prompts (C11): built from the screen and reason catalogues."""


@prompts_group.command("build")
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 16))
def prompts_build(jobs: int) -> None:
    """Record what is missing or stale with espeak-ng (kiosk/static/audio, manifest.json)."""
    from kiosk import prompts

    lacking = prompts.missing_tools()
    if lacking:
        raise click.ClickException(f"install the Debian packages: {' '.join(lacking)}")
    rendered, kept = prompts.build(jobs=jobs)
    click.echo(f"prompts: {rendered} recorded, {kept} current")


@prompts_group.command("check")
def prompts_check() -> None:
    """Exit 1 when a recording is missing or was made for another text."""
    from kiosk import prompts

    result = prompts.check()
    for file in result.missing:
        click.echo(f"missing {file}")
    for file in result.stale:
        click.echo(f"stale {file}")
    if not result.ok:
        sys.exit(1)
    click.echo("prompts: every recording is current")
