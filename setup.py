"""Packaging that pyproject.toml cannot say on its own: the top-level ``templates/`` folder ships
inside the wheel as the package-data folder ``vaxcert/templates/`` (``vaxcert.web`` looks there
first, then beside the checkout). Everything else is in pyproject.toml.

Namespace discovery also lists the data folders (``kiosk/static``, translations, templates) as
packages, so setuptools ships their files without warning that it might not.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

PACKAGES = find_namespace_packages(
    include=[
        "vaxcert*",
        "kiosk*",
        "cert_center*",
        "signer*",
        "vrs_stub*",
        "verifier*",
        "launch*",
        "app_client*",
    ]
)
# [tool.setuptools.package-dir] maps "vaxcert.templates" onto templates/.
# Every folder at any depth (templates/cert_center/console too), so none is left to guesswork.
_ROOT = Path(__file__).parent / "templates"
TEMPLATES = ["vaxcert.templates"] + [
    "vaxcert.templates." + ".".join(folder.relative_to(_ROOT).parts)
    for folder in sorted(_ROOT.rglob("*"))
    if folder.is_dir()
]

setup(packages=[*PACKAGES, *TEMPLATES])
