"""Fixtures every test area shares: where the official test material lives."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaxcert.card.harness import HarnessError, Pcscd, start_pcscd

REPO_ROOT = Path(__file__).resolve().parent.parent

# The product defaults to production, which refuses the development PKI every test builds: tests
# run in the test environment (the processes they start inherit it) unless a test says otherwise.
os.environ.setdefault("VAXCERT_ENVIRONMENT", "test")


def _testdata_dir() -> Path:
    # The official material is read in place, beside the checkout (shared/testdata/README.md).
    for candidate in (REPO_ROOT.parent / "shared" / "testdata", Path("/work/shared/testdata")):
        if (candidate / "MANIFEST.tsv").is_file():
            return candidate
    raise FileNotFoundError("shared/testdata not found beside the checkout")


TESTDATA = _testdata_dir()


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The root of shared/testdata (external, unmodified test material)."""
    return TESTDATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The project's checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    """pcscd with a vpcd slot, one per session (one per machine): started here or reused."""
    try:
        handle = start_pcscd(tmp_path_factory.mktemp("pcscd"))
    except HarnessError as exc:
        pytest.fail(f"PC/SC test stack unavailable: {exc}")
    yield handle
    handle.stop()
