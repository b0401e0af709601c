"""`vaxcert vrs …`: schema, synthetic data, keys and staff credentials of the VRS stub."""

from __future__ import annotations

import time
from pathlib import Path

import click

from vaxcert import lgcode, pki
from vaxcert.config import Settings, settings_from
from vaxcert.errors import ConfigError
from vrs_stub import crypto, seed
from vrs_stub.models import STAFF_ROLES
from vrs_stub.store import Store, normalise_url
from vrs_stub.store.migrations import LATEST


def _open(ctx: click.Context, db: str | None, db_schema: str | None = None) -> Store:
    return _open_migrated(ctx, db, db_schema)[0]


def _open_migrated(
    ctx: click.Context, db: str | None, db_schema: str | None
) -> tuple[Store, list[int]]:
    settings = settings_from(ctx)
    try:
        store = Store.from_settings(settings, normalise_url(db) if db else None, db_schema)
        applied = store.migrate()
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc.detail}") from None
    return store, applied


def _codes(value: str | None) -> list[str]:
    if not value:
        return list(lgcode.KAGOSHIMA)
    codes = [c.strip() for c in value.split(",") if c.strip()]
    bad = [c for c in codes if not lgcode.is_valid(c)]
    if bad:
        raise click.BadParameter(f"not a municipality code (6 digits, check digit): {bad[0]}")
    return codes


_DB = click.option(
    "--db", default=None, help="SQLAlchemy URL (default: configured VRS database, SQLite file)."
)
_SCHEMA = click.option("--schema", "db_schema", default=None, help="PostgreSQL schema to use.")


@click.group("vrs")
def group() -> None:
    """The VRS stub: vaccination records per municipality, encrypted at rest."""


@group.command("migrate")
@_DB
@_SCHEMA
@click.pass_context
def migrate(ctx: click.Context, db: str | None, db_schema: str | None) -> None:
    """Create or upgrade the schema (explicit, versioned steps, all or nothing)."""
    store, applied = _open_migrated(ctx, db, db_schema)
    store.dispose()
    if applied:
        click.echo(f"applied schema versions {', '.join(map(str, applied))}")
    click.echo(f"schema up to date (version {LATEST})")


@group.command("seed")
@click.option(
    "--municipalities",
    default=None,
    help="Comma-separated municipality codes (default: all of Kagoshima prefecture).",
)
@click.option("--residents", "count", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--seed", "seed_value", type=int, default=seed.DEFAULT_SEED, show_default=True)
@click.option("--no-edge-cases", is_flag=True, help="Leave out the fixed edge-case residents.")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    help="Build rows in this many processes (worth it only with idle cores).",
)
@click.option("--reset", is_flag=True, help="Drop every VRS table first.")
@_DB
@_SCHEMA
@click.pass_context
def seed_command(
    ctx: click.Context,
    municipalities: str | None,
    count: int,
    seed_value: int,
    no_edge_cases: bool,
    workers: int,
    reset: bool,
    db: str | None,
    db_schema: str | None,
) -> None:
    """Create synthetic residents (deterministic) plus the edge-case residents."""
    codes = _codes(municipalities)
    store = _open(ctx, db, db_schema)
    if reset:
        store.drop_all()
        store.migrate()
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % 100_000 == 0 or done == count:
            click.echo(f"  {done} residents ({time.perf_counter() - started:.1f} s)")

    try:
        report = seed.seed(
            store, codes, count, seed_value, not no_edge_cases, progress, workers=workers
        )
    except Exception as exc:
        if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
            raise click.ClickException(
                "the database already holds these residents; use --reset"
            ) from None
        raise
    finally:
        store.dispose()
    click.echo(
        f"seeded {report.residents} residents and {report.edge_cases} edge-case records in "
        f"{report.municipalities} municipalities in {time.perf_counter() - started:.1f} s"
    )


@group.group("keys")
def keys() -> None:
    """Key management (C13)."""


@keys.command("rotate")
@click.option("--municipality", "code", required=True)
@_DB
@_SCHEMA
@click.pass_context
def keys_rotate(ctx: click.Context, code: str, db: str | None, db_schema: str | None) -> None:
    """New data and blind-index keys for one municipality; re-encrypts its rows in one go."""
    [code] = _codes(code)
    store = _open(ctx, db, db_schema)
    try:
        count = store.rotate_partition_keys(code)
    except KeyError:
        raise click.ClickException(f"no partition for municipality {code}") from None
    finally:
        store.dispose()
    store.log_operation_alone("cli", "keys rotate", code, "key_rotation", "ok", f"records={count}")
    click.echo(f"{code}: re-encrypted {count} records under a new key version")


@keys.command("rewrap")
@click.option(
    "--new-master-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File with the new base64 master key (mode 0600); configure it afterwards.",
)
@_DB
@_SCHEMA
@click.pass_context
def keys_rewrap(
    ctx: click.Context, new_master_key_file: Path, db: str | None, db_schema: str | None
) -> None:
    """Re-wrap every municipality key under a new master key (master key rotation)."""
    try:
        new_master = crypto.read_key_file(new_master_key_file)
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from None
    store = _open(ctx, db, db_schema)
    try:
        count = store.rewrap_master(new_master)
        store.log_operation_alone(
            "cli", "keys rewrap", None, "master_rewrap", "ok", f"keys={count}"
        )
    finally:
        store.dispose()
    click.echo(f"re-wrapped {count} key versions; now set VAXCERT_VRS__MASTER_KEY_FILE to the file")


@keys.command("new-master")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def keys_new_master(path: Path) -> None:
    """Write a fresh random master key to PATH (mode 0600)."""
    if path.exists():
        raise click.ClickException(f"{path} exists; refusing to overwrite a key")
    pki.write_private(path, (crypto.new_master_key_text() + "\n").encode())
    click.echo(f"wrote {path}")


@group.group("staff")
def staff() -> None:
    """Credentials of municipal staff for the staff API (C15, C19)."""


@staff.command("issue-token")
@click.option("--municipality", "code", required=True)
@click.option("--staff-id", required=True, help="Who the token is for (appears in the op log).")
@click.option(
    "--roles",
    default=",".join(STAFF_ROLES),
    show_default=True,
    help=f"Comma-separated subset of {', '.join(STAFF_ROLES)}.",
)
@click.option("--days", type=click.IntRange(1, 400), default=None)
@_DB
@_SCHEMA
@click.pass_context
def issue_token(
    ctx: click.Context,
    code: str,
    staff_id: str,
    roles: str,
    days: int | None,
    db: str | None,
    db_schema: str | None,
) -> None:
    """Print a new bearer token scoped to one municipality (shown once; only its hash is kept)."""
    [code] = _codes(code)
    wanted = [r.strip() for r in roles.split(",") if r.strip()]
    unknown = [r for r in wanted if r not in STAFF_ROLES]
    if unknown or not wanted:
        raise click.BadParameter(f"roles must be a subset of {', '.join(STAFF_ROLES)}")
    settings: Settings = settings_from(ctx)
    store = _open(ctx, db, db_schema)
    try:
        with store.transaction() as conn:
            store.ensure_municipality(conn, code)
            token = store.issue_token(
                conn, code, staff_id, wanted, days or settings.vrs.staff_token_days
            )
            store.log_operation(
                conn, "cli", "staff issue-token", code, "token_issued", "ok", f"staff={staff_id}"
            )
    finally:
        store.dispose()
    click.echo(token)


@staff.command("revoke-token")
@click.argument("token_id")
@_DB
@_SCHEMA
@click.pass_context
def revoke_token(ctx: click.Context, token_id: str, db: str | None, db_schema: str | None) -> None:
    """Revoke a staff token by its id (the part after ``vrs1.``)."""
    store = _open(ctx, db, db_schema)
    try:
        with store.transaction() as conn:
            found = store.revoke_token(conn, token_id)
            store.log_operation(
                conn, "cli", "staff revoke-token", None, "token_revoked", str(found).lower()
            )
    finally:
        store.dispose()
    if not found:
        raise click.ClickException("no such active token")
    click.echo("revoked")


@staff.command("terminal-cert")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.pass_context
def terminal_cert(ctx: click.Context, name: str, directory: Path | None) -> None:
    """Development only: issue an LGWAN-CA client certificate NAME for a municipal terminal."""
    settings = settings_from(ctx)
    if settings.environment == "production":
        raise click.ClickException(
            "terminal certificates come from the real LGWAN CA in production"
        )
    target = directory.resolve() if directory else settings.pki_dir
    if not name.replace("-", "").isalnum():
        raise click.BadParameter("use letters, digits and '-' only")
    if name in settings.vrs.relay_client_cns:
        # C09: the relay admits its clients by name; a terminal must never carry one.
        raise click.BadParameter(f"{name} is a relay client name (the center's)")
    pki.issue_terminal_cert(target, name)
    click.echo(f"wrote {pki.cert_path(target, name)} and {pki.key_path(target, name)}")
