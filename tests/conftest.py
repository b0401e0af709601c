"""Fixtures every test area shares: the official test material, the checkout, pcscd, and Redis
and PostgreSQL servers of the session's own (started only when a test asks for one)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DATA_DIR, services
from vaxcert.card.harness import HarnessError, Pcscd, start_pcscd

REPO_ROOT = Path(__file__).resolve().parent.parent

# The product defaults to production, which refuses the development PKI every test builds: tests
# run in the test environment (the processes they start inherit it) unless a test says otherwise.
os.environ.setdefault("VAXCERT_ENVIRONMENT", "test")
# The center database (console users, audit trail) of this run, never the user's data dir.
os.environ.setdefault("VAXCERT_CENTER__DATA_DIR", tempfile.mkdtemp(prefix="vaxcert-test-center-"))
# Kiosks that tests start (in-process or as processes) keep their receipt outbox in this run's own
# directory, never in the user's data directory that other runs and the demo share.
os.environ.setdefault(
    "VAXCERT_KIOSK__OUTBOX_PATH",
    str(Path(tempfile.mkdtemp(prefix="vaxcert-test-outbox-")) / "receipts.json"),
)

# Fixtures that tests/e2e shares with the area folders (a conftest serves only its own folder).
pytest_plugins = ("tests.support.cards", "tests.support.dev_trust")


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``tests/data``: unmodified public specification examples and samples (its README)."""
    return DATA_DIR


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


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis: the one ``VAXCERT_TEST_REDIS_URL`` names, else a private redis-server."""
    with services.service_url(services.REDIS_ENV, services.start_redis) as url:
        yield url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL (SQLAlchemy URL): the one ``VAXCERT_TEST_PG_URL`` names, else a private
    cluster of this session."""
    with services.service_url(services.PG_ENV, services.start_postgres) as url:
        yield url
