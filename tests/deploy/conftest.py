"""The deployment files (docker/, k8s/) and the offline tools that check them: hadolint, the
Compose specification's JSON schema, kustomize (inside kubectl) and the Kubernetes schemas of
kubernetes-validate, all from PyPI packages of the dev extra (nothing is fetched at test time)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vaxcert.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
K8S = ROOT / "k8s"
DOCKERFILE = DOCKER / "Dockerfile"


def tool(name: str) -> str:
    """The executable ``name`` a dev-extra package installed beside this interpreter."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: pip install -e '.[dev]' installs it")
    return found


# Names the containers read that are not settings of vaxcert/config.py.
NOT_SETTINGS = frozenset({"VAXCERT_CONFIG", "VAXCERT_HEALTH_CLIENT", "VAXCERT_HEALTH_SERVER_NAME"})


def unknown_settings(names: list[str]) -> list[str]:
    """The ``VAXCERT_*`` names among ``names`` that name no setting.

    pydantic-settings ignores an unknown top-level ``VAXCERT_*`` variable, so a misspelt one would
    silently leave its default; this walks each name through the settings models instead.
    """
    from pydantic import BaseModel

    from vaxcert.config import Settings

    unknown = []
    for name in names:
        if name in NOT_SETTINGS or name.startswith("VAXCERT_EDGE_"):
            continue
        model: type[BaseModel] | None = Settings
        for part in name.removeprefix("VAXCERT_").split("__"):
            field = model.model_fields.get(part.lower()) if model is not None else None
            if field is None:
                unknown.append(name)
                break
            annotation = field.annotation
            model = (
                annotation
                if isinstance(annotation, type) and issubclass(annotation, BaseModel)
                else None
            )
    return unknown


def stages() -> dict[str, list[str]]:
    """Instructions of each stage of docker/Dockerfile (continuation lines joined), by name."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        stripped = " ".join(line.split())
        if not stripped or stripped.startswith("#"):
            continue
        start = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", stripped, re.IGNORECASE)
        if start:
            current = found.setdefault(start.group(1), [])
        current.append(stripped)
    return found


def lineage(found: dict[str, list[str]], name: str) -> list[str]:
    """``name`` and the stages it is built FROM, nearest first."""
    chain = [name]
    while True:
        parent = found[chain[-1]][0].split()[1]
        if parent not in found:
            return chain
        chain.append(parent)


def image_environment(target: str) -> dict[str, str]:
    """The ``ENV`` of the image built for ``target``, its parent stages' included."""
    found = stages()
    environment: dict[str, str] = {}
    for stage in reversed(lineage(found, target)):
        for line in found[stage]:
            if line.startswith("ENV "):
                environment.update(re.findall(r"(\w+)=(\S+)", line[4:]))
    return environment


def assert_settings_load(
    environment: dict[str, str],
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    config_file: Path | None = None,
) -> Settings:
    """The settings a process with exactly ``environment`` would load are valid; the TOML file of
    ``VAXCERT_CONFIG`` is a secret, not here: ``config_file`` stands in for it (else none)."""
    from vaxcert.config import load_settings
    from vaxcert.errors import ConfigError

    with monkeypatch.context() as patched:
        for variable in [v for v in os.environ if v.startswith("VAXCERT_")]:
            patched.delenv(variable)
        for variable, value in environment.items():
            if variable.startswith("VAXCERT_") and variable != "VAXCERT_CONFIG":
                patched.setenv(variable, value)
        try:
            return load_settings(config_file)
        except ConfigError as error:
            pytest.fail(f"{where}: {error}")


@cache
def dev_secrets() -> ModuleType:
    """docker/dev_secrets.py (a script, not a package), loaded once."""
    spec = importlib.util.spec_from_file_location("dev_secrets", DOCKER / "dev_secrets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The random values docker/dev_secrets.py puts into its configuration files.
CONFIG_VALUES = (
    "secret_key",
    "redis_password",
    "postgres_password",
    "softhsm_user_pin",
    "center_db_owner_password",
    "center_db_app_password",
)


def secret_files(directory: Path) -> dict[str, Path]:
    """The configuration secrets docker/dev_secrets.py makes (center.toml, …), written into
    ``directory`` with placeholder values: what VAXCERT_CONFIG names in compose and k8s alike."""
    files: dict[str, str] = dev_secrets().config_files(dict.fromkeys(CONFIG_VALUES, "placeholder"))
    for name, text in files.items():
        (directory / name).write_text(text)
    return {name: directory / name for name in files}


def without_center_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make dev_secrets.py write center.toml as it was before the center had a shared database
    (no [center] database_url): the checks of the database must then fail."""
    module = dev_secrets()
    made = module.config_files

    def config_files(values: dict[str, str]) -> dict[str, str]:
        files: dict[str, str] = made(values)
        files["center.toml"] = files["center.toml"].split("[center]")[0]
        return files

    monkeypatch.setattr(module, "config_files", config_files)


def center_database(settings: Settings) -> tuple[str, str, str]:
    """(host, database, role) of the center's PostgreSQL database in ``settings``; fails when the
    center would fall back to its SQLite file (a copy per container)."""
    from sqlalchemy import make_url

    configured = settings.center.database_url
    assert configured is not None, "no center.database_url: SQLite per container"
    url = make_url(configured.get_secret_value())
    assert url.get_backend_name() == "postgresql", url.get_backend_name()
    assert url.host and url.database and url.username
    return url.host, url.database, url.username
