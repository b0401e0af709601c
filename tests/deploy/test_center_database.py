"""The center database as compose and k8s set it up, on a real PostgreSQL: the server's first-start
script (postgres-init-center.sql), then `vaxcert ops db setup --app-role` as the owner
(center-db-setup), then what the center surfaces and an operator do as the restricted role
(center.toml): the files exactly as docker/dev_secrets.py writes them, only the host and the
role names changed (roles are per cluster, and the test cluster is shared)."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from cert_center.console.db import CenterDb
from launch.cli import main
from tests.deploy.conftest import CONFIG_VALUES, dev_secrets

PASSWORD = "correct horse battery staple"


def _files(pg_url: str, directory: Path) -> dict[str, Path]:
    module = dev_secrets()
    values = {name: secrets.token_urlsafe(16) for name in CONFIG_VALUES}
    url = make_url(pg_url)
    suffix = secrets.token_hex(4)
    renamed = {
        module.CENTER_OWNER_ROLE: f"{module.CENTER_OWNER_ROLE}_{suffix}",
        module.CENTER_APP_ROLE: f"{module.CENTER_APP_ROLE}_{suffix}",
        f'/{module.CENTER_DATABASE}"': f'/{module.CENTER_DATABASE}_{suffix}"',
        f"DATABASE {module.CENTER_DATABASE} ": f"DATABASE {module.CENTER_DATABASE}_{suffix} ",
        f"DATABASE {module.CENTER_DATABASE};": f"DATABASE {module.CENTER_DATABASE}_{suffix};",
        "@postgres:5432/": f"@{url.host}:{url.port}/",
    }
    paths = {}
    for name, content in module.config_files(values).items():
        for old, new in renamed.items():
            content = content.replace(old, new)
        paths[name] = directory / name
        paths[name].write_text(content)
    return paths


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ops", *args], env={"VAXCERT_CONFIG": str(config)})
    return result.exit_code, result.output


def test_the_center_database_is_set_up_as_the_deployment_does(pg_url: str, tmp_path: Path) -> None:
    files = _files(pg_url, tmp_path)
    url = make_url(pg_url)
    # As the image's entrypoint runs it (psql, one statement at a time, autocommit).
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as admin:
        for statement in files["postgres-init-center.sql"].read_text().split(";\n"):
            if statement.strip():
                admin.execute(statement)  # type: ignore[arg-type]  # our file, no parameters
    role = make_url(
        files["center.toml"].read_text().split('database_url = "')[1].split('"')[0]
    ).username
    assert role is not None
    # The k8s center pods' wait (initContainer): as the services' role it fails until the owner
    # has made the tables, then succeeds without changing anything.
    code, output = _cli(files["center.toml"], "db", "setup")
    assert code == 1 and "center database not ready (ProgrammingError)" in output, output
    code, output = _cli(files["center-db-setup.toml"], "db", "setup", "--app-role", role)
    assert code == 0, output
    code, output = _cli(files["center.toml"], "db", "setup")
    assert code == 0, output
    # The first operator, as docker/README.md adds them (center-ops, its center.toml).
    code, output = _cli(
        files["center.toml"],
        "user",
        "add",
        "first-admin",
        "--role",
        "admin",
        "--password",
        PASSWORD,
    )
    assert code == 0, output
    assert "otpauth://" in output
    assert _cli(files["center.toml"], "audit", "verify") == (
        0,
        "audit trail intact: 1 entries\n",
    )
    # The services' role appends to the trail but cannot change it (C15).
    app_url = files["center.toml"].read_text().split('database_url = "')[1].split('"')[0]
    app = CenterDb(app_url)
    try:
        for statement in ("UPDATE ops_audit SET actor = 'x'", "DELETE FROM ops_audit"):
            with pytest.raises(DBAPIError, match="permission denied"), app.begin() as conn:
                conn.execute(text(statement))
    finally:
        app.dispose()
