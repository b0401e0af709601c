"""Write docker/requirements.lock: the runtime dependencies of vaxcert (and its ``card`` extra)
pinned to the versions installed in the running environment, without the ``dev`` extra.

``pip freeze`` would also pin the test tools and whatever else a developer installed; this walks
the requirement graph of the installed distributions from vaxcert's own runtime requirements
instead. Run with the project's venv: ``.venv/bin/python docker/lock.py > docker/requirements.lock``.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "vaxcert"
EXTRAS = ("card",)
# Installed beside the project without its dependencies (Makefile FONT_PACKAGE): pinned, not
# followed.
ALSO = ("matplotlib-fontja",)


def _applies(requirement: Requirement, extras: tuple[str, ...]) -> bool:
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**default_environment(), "extra": extra})
        for extra in ("", *extras)
    )


def runtime_closure() -> dict[str, str]:
    """Canonical name -> installed version of every distribution vaxcert needs at run time."""
    pinned: dict[str, str] = {}
    pending: list[tuple[str, tuple[str, ...]]] = [(PROJECT, EXTRAS)]
    while pending:
        name, extras = pending.pop()
        distribution = metadata.distribution(name)
        key = canonicalize_name(distribution.metadata["Name"])
        if key != PROJECT:
            pinned[key] = distribution.version
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if not _applies(requirement, extras):
                continue
            wanted = canonicalize_name(requirement.name)
            sub_extras = tuple(sorted(requirement.extras))
            if wanted not in pinned or sub_extras:
                pending.append((requirement.name, sub_extras))
    for name in ALSO:
        pinned[canonicalize_name(name)] = metadata.version(name)
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
