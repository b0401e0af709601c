"""The deployment files (docker/, k8s/) and the offline tools that check them: hadolint, the
Compose specification's JSON schema, kustomize (inside kubectl) and the Kubernetes schemas of
kubernetes-validate, all from PyPI packages of the dev extra (nothing is fetched at test time)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
K8S = ROOT / "k8s"


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
