"""`vaxcert app …`: operator commands of the app API (docs/app-api.md)."""

from __future__ import annotations

import click


@click.group("app")
def app_group() -> None:
    """The app API (電子交付)."""


@app_group.group("instance")
def instance() -> None:
    """Registered app instances (C06)."""


# An instance id may begin with "-": it is never taken for an option.
@instance.command("revoke", context_settings={"ignore_unknown_options": True})
@click.argument("instance_id")
@click.pass_context
def revoke(ctx: click.Context, instance_id: str) -> None:
    """Revoke INSTANCE_ID for good: every replica refuses it at once (app_instance_revoked).

    The revocation list lives in the center's shared store (Redis, VAXCERT_REDIS_URL), which
    every app API worker and replica reads on each request; without Redis there is nothing
    shared to write to and the command refuses.
    """
    import re

    from cert_center.attestation import AppAttestation
    from vaxcert import kvstore
    from vaxcert.config import settings_from
    from vaxcert.contracts.app_api import INSTANCE_ID_PATTERN

    settings = settings_from(ctx)
    if not re.fullmatch(INSTANCE_ID_PATTERN, instance_id):
        raise click.BadParameter("an instance id is 43 base64url characters")
    if settings.redis_url is None:
        raise click.ClickException(
            "no VAXCERT_REDIS_URL: app API processes keep instances in their own memory; "
            "restart them to forget every instance"
        )
    store = kvstore.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}center:")
    # The attestation roots are not needed to revoke.
    known = AppAttestation(settings.center.app, [], store).revoke(instance_id)
    click.echo(f"revoked {instance_id}" + ("" if known else " (it was not registered)"))
