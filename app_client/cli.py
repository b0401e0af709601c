"""`vaxcert app-client`: the reference client of the app API; prints one JSON line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vaxcert.card import cards
from vaxcert.errors import VaxcertError


@click.command("app-client")
@click.option("--resident", required=True, type=click.Choice(cards.card_keys()), help="Card.")
@click.option("--pin", required=True, help="The card's 4-digit PIN (券面事項入力補助用).")
@click.option("--municipality", required=True, help="Municipality code (6 digits).")
@click.option("--kind", required=True, type=click.Choice(["domestic", "overseas"]))
@click.option(
    "--mrz",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A file with the passport's TD3 MRZ (two lines); default: the resident's synthetic one.",
)
@click.option(
    "--reader", default="memory", show_default=True, type=click.Choice(["memory", "pcsc"])
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the certificate files go (and the app instance, unless --state-dir).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the app instance's key and id are kept (default: OUT/.app-instance).",
)
@click.pass_context
def app_client_command(
    ctx: click.Context,
    resident: str,
    pin: str,
    municipality: str,
    kind: str,
    mrz: Path | None,
    reader: str,
    out: Path,
    state_dir: Path | None,
) -> None:
    """Play the smartphone app against the configured app API with a virtual card.

    Prints {"outcome": "issued"|"refused"|"error", "reason": CODE|null, "certificate_id":
    ID|null}; exit status 0 issued, 1 refused, 2 error. Writes certificate.pdf,
    certificate.png, shc.txt and (overseas) vdsnc.json into --out.
    """
    from app_client.flow import AppResult, run
    from vaxcert.config import settings_from

    settings = settings_from(ctx)
    mrz_text = mrz.read_text().strip().replace("\r\n", "\n") if mrz is not None else None
    try:
        result = run(
            settings,
            resident=resident,
            pin=pin,
            municipality=municipality,
            kind=kind,
            out=out,
            mrz=mrz_text,
            reader=reader,
            state_dir=state_dir,
        )
    except VaxcertError as exc:
        result = AppResult("error", exc.code)
    except Exception as exc:  # still one JSON line for scripts; the type goes to stderr
        click.echo(f"app-client: {type(exc).__name__}", err=True)
        result = AppResult("error", "internal_error")
    click.echo(json.dumps(result.to_json()))
    sys.exit({"issued": 0, "refused": 1, "error": 2}[result.outcome])
