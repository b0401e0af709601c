"""Packaging that pyproject.toml cannot say on its own: the top-level ``templates/`` folder ships
inside the wheel as the package-data folder ``vaxcert/templates/`` (``vaxcert.web`` looks there
first, then beside the checkout). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

PACKAGES = find_packages(
    include=["vaxcert*", "kiosk*", "cert_center*", "signer*", "vrs_stub*", "verifier*", "launch*"]
)

# "vaxcert.templates" is mapped onto templates/ by [tool.setuptools.package-dir].
setup(packages=[*PACKAGES, "vaxcert.templates"])
