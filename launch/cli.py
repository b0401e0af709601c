"""The `vaxcert` command: certificates, configuration, serving and the demo.

Each service package may contribute a command group (``PACKAGE_GROUPS``); they are imported only
when used, so `vaxcert --help` stays fast.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from vaxcert import pki
from vaxcert.config import Settings, masked, settings_from
from vaxcert.errors import ConfigError

# name -> "module:attribute" of a click command or group contributed by a package.
PACKAGE_GROUPS: dict[str, str] = {
    "app": "cert_center.app_cli:app_group",
    "app-client": "app_client.cli:app_client_command",
    "card": "vaxcert.card.cli:group",
    "kiosk-sim": "kiosk.cli:sim_command",
    "kiosk-prompts": "kiosk.cli:prompts_group",
    "ops": "cert_center.cli:group",
    "signer": "signer.cli:group",
    # The roof's own: the production topology on loopback (launch/topology.py).
    "stack": "launch.topology:stack_group",
    "trust": "verifier.cli:trust_group",
    "verify": "verifier.cli:verify_command",
    "vrs": "vrs_stub.cli:group",
}


class _Cli(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *PACKAGE_GROUPS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in PACKAGE_GROUPS:
            module_name, _, attr = PACKAGE_GROUPS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Cli)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (default: $VAXCERT_CONFIG).",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Development mode (VAXCERT_ENVIRONMENT=development): trust the development PKI, "
    "with a warning at every use. Without it, vaxcert runs as in production.",
)
@click.pass_context
def main(ctx: click.Context, config_file: str | None, dev: bool) -> None:
    """vaxcert: Japan's COVID-19 vaccination certificate, issued at kiosks and by app."""
    obj = ctx.ensure_object(dict)
    obj["config_file"] = config_file
    if dev:
        obj.setdefault("overrides", {})["environment"] = "development"


@main.group()
def certs() -> None:
    """The development PKI (certs_dev/README.md lists its files)."""


@certs.command("init")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write (default: the configured pki_dir, ~/.local/share/vaxcert/pki).",
)
@click.pass_context
def certs_init(ctx: click.Context, directory: str | None) -> None:
    """Create the development PKI; existing valid material is kept (idempotent)."""
    settings = settings_from(ctx)
    if settings.environment == "production":
        raise click.ClickException(
            "the development PKI is not made in production: use `vaxcert --dev certs init`"
        )
    target = Path(directory).resolve() if directory else settings.pki_dir
    made = pki.init(target, settings.issuer_url, settings.demo_kiosks, _hosts(settings))
    click.echo(f"{target}: " + (f"created {', '.join(made)}" if made else "up to date"))


@certs.command("check")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None)
@click.pass_context
def certs_check(ctx: click.Context, directory: str | None) -> None:
    """Report expiry, key/certificate mismatches and wrong issuers; exit 1 on any error."""
    settings = settings_from(ctx)
    target = Path(directory).resolve() if directory else settings.pki_dir
    findings = pki.check(target, settings.issuer_url, settings.demo_kiosks, _hosts(settings))
    for finding in findings:
        click.echo(f"{finding.level.upper():8} {finding.name:28} {finding.text}")
    if any(f.level == "error" for f in findings):
        sys.exit(1)


def _hosts(settings: Settings) -> list[str]:
    return sorted({listener.host for _, listener in settings.listeners})


@main.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective configuration as JSON, secrets masked."""
    click.echo(json.dumps(masked(settings_from(ctx)), indent=2, ensure_ascii=False))


@main.command()
@click.argument("name")
@click.pass_context
def serve(ctx: click.Context, name: str) -> None:
    """Serve one surface (see `vaxcert demo --help` for the list) under gunicorn."""
    from launch import serve as serving
    from launch.surfaces import SERVICES

    if name not in SERVICES:
        raise click.BadParameter(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    try:
        serving.run(SERVICES[name], settings_from(ctx))
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc.detail}") from None


@main.command()
@click.argument("name")
@click.option(
    "--client",
    envvar="VAXCERT_HEALTH_CLIENT",
    default=None,
    help="mTLS: the PKI item (in pki_dir) of the probe's client certificate "
    "(default: the surface's development probe client).",
)
@click.option(
    "--server-name",
    envvar="VAXCERT_HEALTH_SERVER_NAME",
    default=None,
    help="The name the server certificate must carry (default: the listener's host, or "
    "localhost when it binds every address).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where to connect.")
@click.option("--timeout", type=float, default=3.0, show_default=True)
@click.pass_context
def health(
    ctx: click.Context,
    name: str,
    client: str | None,
    server_name: str | None,
    host: str,
    timeout: float,
) -> None:
    """GET /healthz of one surface over its real channel; exit 0 when healthy, else 1.

    For container healthchecks and Kubernetes exec probes: it runs beside the surface and
    connects to its port on loopback.
    """
    from launch import health as probing
    from launch.surfaces import SERVICES

    if name not in SERVICES:
        raise click.BadParameter(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    try:
        probe = probing.plan(
            SERVICES[name], settings_from(ctx), host=host, server_name=server_name, client=client
        )
        body = probing.check(probe, timeout)
    except probing.HealthError as exc:
        click.echo(f"{name}: unhealthy: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(body, ensure_ascii=False))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
@click.option(
    "--checkout",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The checkout whose tests to read (default: the one this vaxcert runs from).",
)
@click.option(
    "--last-run",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="pytest JUnit XML of the run to report (default: CHECKOUT/.vaxcert/last-test-run.xml, "
    "which `make test` writes).",
)
def controls(as_json: bool, checkout: Path | None, last_run: Path | None) -> None:
    """The privacy controls C01…C22, the tests that prove each and whether they passed.

    Exit 0: every control has tests and all passed in the last recorded run. Exit 1: a control
    has no test, or one of its tests failed (or a test names an unknown control). Exit 3: nothing
    failed, but not every control is proven (tests not run or skipped, no run recorded, or no test
    suite to read, as from an installed wheel).
    """
    from launch import controls as matrix_of

    found = matrix_of.find_checkout(checkout.resolve() if checkout else None)
    if checkout is not None and found is None:
        raise click.BadParameter(
            f"{checkout} holds no pyproject.toml and tests/", param_hint="--checkout"
        )
    try:
        matrix = matrix_of.build(found, last_run)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(matrix_of.to_json(matrix), indent=2, ensure_ascii=False))
    else:
        click.echo(matrix_of.render(matrix))
    sys.exit(matrix.exit_code)


@main.command()
@click.option("--only", multiple=True, help="Start only these services (repeatable).")
@click.pass_context
def demo(ctx: click.Context, only: tuple[str, ...]) -> None:
    """Start every service on loopback with mTLS and print where to go; Ctrl-C stops all.

    Services: vrs, signer-api, signer-public, center-kiosk-api, center-app-api, center-ops, kiosk,
    verifier. The demo runs on the development PKI, so it is always in development mode (or in
    the test environment when that is set) and refuses VAXCERT_ENVIRONMENT=production.
    """
    from launch import demo as demo_runner

    settings = settings_from(ctx)
    if "environment" not in settings.model_fields_set:
        settings = settings.model_copy(update={"environment": "development"})
    elif settings.environment == "production":
        raise click.ClickException(
            "vaxcert demo runs on the development PKI and is refused in production: "
            "unset VAXCERT_ENVIRONMENT"
        )
    sys.exit(demo_runner.run(settings, only))


if __name__ == "__main__":
    main()
