"""Write docker/requirements.lock: the runtime dependencies of vaxcert (and its ``card`` extra)
pinned to the versions installed in the running environment, without the ``dev`` extra.

``pip freeze`` would also pin the test tools and whatever else a developer installed; this walks
the requirement graph of the installed distributions from the runtime requirements of this
checkout's pyproject.toml instead. Markers are evaluated for this interpreter and for the
image's (Debian 12's Python 3.11.2, docker/Dockerfile): redis, for one, needs async-timeout
below 3.11.3. The image installs the lock with ``--no-deps`` and runs ``pip check``, so a
missing entry fails the build.

Run with the project's venv: ``.venv/bin/python docker/lock.py > docker/requirements.lock``.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
EXTRAS = ("card",)
# The interpreter of the image (python3.11 of Debian 12, pinned in docker/Dockerfile).
IMAGE_PYTHON = {"python_full_version": "3.11.2", "python_version": "3.11"}


def _applies(requirement: Requirement, extras: tuple[str, ...]) -> bool:
    if requirement.marker is None:
        return True
    here = dict(default_environment())
    return any(
        requirement.marker.evaluate({**environment, "extra": extra})
        for environment in (here, {**here, **IMAGE_PYTHON})
        for extra in ("", *extras)
    )


def project_requirements() -> list[Requirement]:
    """The runtime requirements of this checkout's pyproject.toml, the ``EXTRAS`` included (not
    those of whichever vaxcert the environment has installed)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = [*project["dependencies"]]
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def runtime_closure(skip_missing: bool = False) -> dict[str, str]:
    """Canonical name -> installed version of every distribution vaxcert needs at run time.

    A needed distribution that is not installed raises :class:`metadata.PackageNotFoundError`
    (install it to lock it), or with ``skip_missing`` is left out.
    """
    pinned: dict[str, str] = {}
    pending: list[tuple[str, tuple[str, ...]]] = [
        (r.name, tuple(sorted(r.extras))) for r in project_requirements() if _applies(r, ())
    ]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        name, extras = pending.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if skip_missing:
                continue
            raise
        pinned[canonicalize_name(distribution.metadata["Name"])] = distribution.version
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if _applies(requirement, extras):
                pending.append((requirement.name, tuple(sorted(requirement.extras))))
    return pinned


def render(pinned: dict[str, str]) -> str:
    lines = [
        "# Runtime dependencies of vaxcert[card] pinned to the versions tested (docker/lock.py).",
        "# Regenerate: .venv/bin/python docker/lock.py > docker/requirements.lock",
    ]
    lines += [f"{name}=={version}" for name, version in sorted(pinned.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(runtime_closure()))
