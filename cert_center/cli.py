"""`vaxcert ops …`: console users, the audit trail, kiosk states and the database setup.

Each change is written to the audit trail as done by ``cli`` from ``cli`` (C15).
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from cert_center.console import kiosk_states
from cert_center.console.audit import AuditTrail, Head
from cert_center.console.db import CenterDb, grant_app_role
from cert_center.console.users import ROLES, Role, UserError, UserStore
from vaxcert import kvstore
from vaxcert.config import Settings, settings_from
from vaxcert.errors import ConfigError, VaxcertError

ACTOR = SOURCE = "cli"


def _db(settings: Settings) -> CenterDb:
    try:
        database = CenterDb.from_settings(settings)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc.detail}") from None
    if database.dialect == "sqlite":
        database.migrate()
    return database


def _opened(ctx: click.Context) -> tuple[Settings, CenterDb, AuditTrail]:
    settings = settings_from(ctx)
    database = _db(settings)
    return settings, database, AuditTrail(database)


@click.group()
def group() -> None:
    """The operator console: users, audit trail, kiosk states (C15, C17)."""


@group.group()
def user() -> None:
    """Console users (viewer, admin, auditor)."""


@user.command("add")
@click.argument("user_id")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 12 characters (prompted when not given).",
)
@click.pass_context
def user_add(ctx: click.Context, user_id: str, role: Role, password: str) -> None:
    """Add a user and print their otpauth URI once (scan it into an authenticator app)."""
    _settings, database, trail = _opened(ctx)
    try:
        made = UserStore(database).add(user_id, role, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    trail.record("user_added", ACTOR, {"user": user_id, "role": role}, SOURCE)
    click.echo(f"added {user_id} ({role}); the TOTP secret is shown only now:")
    click.echo(made.otpauth_uri)


def _change_user(ctx: click.Context, user_id: str, event: str, change: str, **detail: str) -> None:
    """Apply one change of ``UserStore`` to ``user_id`` and audit it as ``event``."""
    _settings, database, trail = _opened(ctx)
    users = UserStore(database)
    try:
        getattr(users, change)(user_id, *detail.values())
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    trail.record(event, ACTOR, {"user": user_id, **detail}, SOURCE)


@user.command("disable")
@click.argument("user_id")
@click.pass_context
def user_disable(ctx: click.Context, user_id: str) -> None:
    """Disable a user: every session of theirs ends at its next request."""
    _change_user(ctx, user_id, "user_disabled", "disable")
    click.echo(f"disabled {user_id}")


@user.command("enable")
@click.argument("user_id")
@click.pass_context
def user_enable(ctx: click.Context, user_id: str) -> None:
    """Enable a disabled or locked user again."""
    _change_user(ctx, user_id, "user_enabled", "enable")
    click.echo(f"enabled {user_id}")


@user.command("set-role")
@click.argument("user_id")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def user_set_role(ctx: click.Context, user_id: str, role: Role) -> None:
    """Change a user's role (their sessions end)."""
    _change_user(ctx, user_id, "role_changed", "set_role", role=role)
    click.echo(f"{user_id} is now {role}")


@user.command("reset-totp")
@click.argument("user_id")
@click.pass_context
def user_reset_totp(ctx: click.Context, user_id: str) -> None:
    """A new TOTP secret (printed once as an otpauth URI); the old one and all sessions end."""
    _settings, database, trail = _opened(ctx)
    try:
        made = UserStore(database).reset_totp(user_id)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    trail.record("totp_reset", ACTOR, {"user": user_id}, SOURCE)
    click.echo(made.otpauth_uri)


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """Users, roles and whether they are enabled."""
    _settings, database, _trail = _opened(ctx)
    for item in UserStore(database).all():
        click.echo(f"{item.user_id:24} {item.role:8} {'enabled' if item.enabled else 'disabled'}")


@group.group()
def audit() -> None:
    """The audit trail (C15)."""


def _head(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Head | None:
    if value is None:
        return None
    try:
        return Head.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@audit.command("head")
@click.pass_context
def audit_head(ctx: click.Context) -> None:
    """Print the newest entry as SEQ:HASH, to keep outside the database (C15)."""
    _settings, _database, trail = _opened(ctx)
    head = trail.head()
    click.echo(str(head) if head is not None else "empty")


@audit.command("verify")
@click.option(
    "--expect-head",
    callback=_head,
    metavar="SEQ:HASH",
    help="A head kept outside the database (audit log, `ops audit head`): catches removed "
    "newest entries, which the chain alone cannot show.",
)
@click.pass_context
def audit_verify(ctx: click.Context, expect_head: Head | None) -> None:
    """Check the hash chain; exit 1 naming each changed or removed entry."""
    _settings, _database, trail = _opened(ctx)
    problems = trail.verify(expect_head)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    checked = f", head {expect_head.seq} present" if expect_head is not None else ""
    click.echo(f"audit trail intact: {trail.count()} entries{checked}")


@group.group()
def kiosk() -> None:
    """Kiosk states: a disabled kiosk is refused by the kiosk API (kiosk_disabled)."""


def _set_kiosk(ctx: click.Context, kiosk_id: str, enabled: bool) -> None:
    settings, _database, trail = _opened(ctx)
    store = kvstore.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}center:")
    try:
        kiosk_states(settings, store).set_enabled(kiosk_id, enabled, ACTOR)
    except VaxcertError as exc:
        raise click.ClickException(f"{exc.code}: {kiosk_id}") from None
    event = "kiosk_enabled" if enabled else "kiosk_disabled"
    trail.record(event, ACTOR, {"kiosk": kiosk_id}, SOURCE)
    click.echo(f"{kiosk_id}: {'enabled' if enabled else 'disabled'}")


@kiosk.command("disable")
@click.argument("kiosk_id")
@click.pass_context
def kiosk_disable(ctx: click.Context, kiosk_id: str) -> None:
    """Disable a kiosk (refused at once where Redis is shared)."""
    _set_kiosk(ctx, kiosk_id, False)


@kiosk.command("enable")
@click.argument("kiosk_id")
@click.pass_context
def kiosk_enable(ctx: click.Context, kiosk_id: str) -> None:
    """Enable a kiosk again."""
    _set_kiosk(ctx, kiosk_id, True)


@group.group()
def db() -> None:
    """The center database."""


@db.command("setup")
@click.option("--app-role", default=None, help="PostgreSQL: the role the center connects as.")
@click.pass_context
def db_setup(ctx: click.Context, app_role: str | None) -> None:
    """Create the tables (as their owner); with --app-role grant it INSERT/SELECT on the trail."""
    settings = settings_from(ctx)
    database = CenterDb.from_settings(settings)
    try:
        database.migrate()
    except SQLAlchemyError as exc:
        # E.g. the services' role before the owner made the tables (the k8s center pods' wait):
        # one clear line, no traceback (nor the statement) in the container's log.
        raise click.ClickException(
            f"center database not ready ({type(exc).__name__}): the tables' owner runs "
            "`vaxcert ops db setup --app-role ROLE` first"
        ) from None
    if app_role is not None:
        try:
            grant_app_role(database, app_role)
        except ConfigError as exc:
            raise click.ClickException(exc.detail) from None
        click.echo(f"{app_role}: SELECT, INSERT on ops_audit (no UPDATE, no DELETE)")
    click.echo(f"center database ready ({database.dialect})")
