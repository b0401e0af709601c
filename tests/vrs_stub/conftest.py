"""Fixtures of the VRS stub tests: a dev PKI, a store on SQLite or PostgreSQL, a real mTLS server.

PostgreSQL is the session's own server or the one ``VAXCERT_TEST_PG_URL`` names (tests/conftest.py);
every store gets a schema of its own, dropped afterwards, because a named server may be shared.
"""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from tests.support.servers import pki_context, serving
from vaxcert import lgcode, pki, tls
from vaxcert.config import Settings, load_settings
from vrs_stub import schema, seed
from vrs_stub.app import create_app
from vrs_stub.store import Store

KAGOSHIMA, KIRISHIMA = lgcode.KAGOSHIMA_CITY, lgcode.KIRISHIMA_CITY
TERMINALS = {KAGOSHIMA: "lgwan-terminal-462012", KIRISHIMA: "lgwan-terminal-462187"}


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A development PKI with two municipal LGWAN terminal certificates."""
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"], ["127.0.0.1"])
    for name in TERMINALS.values():
        pki.issue_terminal_cert(directory, name)
    return directory


@pytest.fixture
def settings(tmp_path: Path, pki_dir: Path) -> Settings:
    """Test settings with the VRS data dir in this test's temp dir."""
    return load_settings(
        environment="test", pki_dir=pki_dir, vrs={"data_dir": str(tmp_path / "vrs")}
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    return str(request.param)


def open_store(settings: Settings, pg_url: str | None = None) -> Store:
    """A migrated store: SQLite, or with ``pg_url`` PostgreSQL in a fresh schema of its own."""
    if pg_url is None:
        store = Store.from_settings(settings)
    else:
        schema_name = f"vrs_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        store = Store.from_settings(settings, pg_url, schema_name)
    store.migrate()
    return store


@pytest.fixture
def empty_store(
    settings: Settings, backend: str, request: pytest.FixtureRequest
) -> Iterator[Store]:
    """A migrated store without records; dropped afterwards."""
    # PostgreSQL starts only when a test runs on it (pg_url is a lazy session fixture).
    pg_url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    store = open_store(settings, pg_url)
    try:
        yield store
    finally:
        store.drop_all()
        store.dispose()


@pytest.fixture
def pg_store(settings: Settings, pg_url: str) -> Iterator[Store]:
    """An empty migrated store on PostgreSQL only (its own schema, dropped afterwards)."""
    store = open_store(settings, pg_url)
    try:
        yield store
    finally:
        store.drop_all()
        store.dispose()


@pytest.fixture
def store(empty_store: Store) -> Store:
    """The edge-case residents plus 40 random residents in Kagoshima City and Kirishima."""
    seed.seed(empty_store, [KAGOSHIMA, KIRISHIMA], 40, seed_value=7)
    return empty_store


@pytest.fixture
def server(store: Store, settings: Settings, pki_dir: Path) -> Iterator[str]:
    """The VRS app behind real mTLS (LGWAN CA) on a free loopback port; yields its base URL."""
    app = create_app(settings, store=store)
    with serving(app, pki_context(pki_dir, "vrs", "lgwan-ca")) as live:
        yield live.url


def client(pki_dir: Path, name: str | None) -> requests.Session:
    """A session pinned to the LGWAN CA, presenting the PKI item ``name`` (None: no cert)."""
    ca = pki.cert_path(pki_dir, "lgwan-ca")
    if name is None:
        return tls.client_session(ca)
    return tls.client_session(ca, pki.cert_path(pki_dir, name), pki.key_path(pki_dir, name))


@pytest.fixture
def center(pki_dir: Path) -> Iterator[requests.Session]:
    """The center's LGWAN client (CN cert-center)."""
    with client(pki_dir, "center-lgwan-client") as session:
        yield session


@pytest.fixture
def terminal(pki_dir: Path) -> Iterator[Callable[[str], requests.Session]]:
    """A municipal terminal's session, by municipality code."""
    sessions: list[requests.Session] = []

    def make(code: str) -> requests.Session:
        session = client(pki_dir, TERMINALS[code])
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def token(store: Store) -> Callable[..., str]:
    """Issue a staff token: ``token(code, roles=...)``."""

    def make(code: str, roles: tuple[str, ...] = ("import", "export", "delete", "logs")) -> str:
        with store.transaction() as conn:
            return store.issue_token(conn, code, f"staff-{secrets.token_hex(2)}", roles, 1)

    return make


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Every log record of the test, message and extra fields, as one text."""
    caplog.set_level(logging.DEBUG)

    def text_of() -> str:
        return "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)

    return text_of


def dump_tables(store: Store) -> str:
    """Every row of every VRS table as text (bytes as hex and as latin-1 text)."""
    parts: list[str] = []
    with store.transaction(write=False) as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    parts.append(_render(value))
    return "\n".join(parts)


def _render(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return raw.hex() + " " + raw.decode("utf-8", "replace")
    return str(value)


def raw_database_text(store: Store) -> bytes:
    """What an attacker holding the storage sees: the SQLite files, or PostgreSQL's rows as text."""
    if store.dialect == "sqlite":
        database = store.engine.url.database
        assert database
        store.dispose()  # checkpoint the WAL into the file
        return b"".join(
            Path(database + suffix).read_bytes()
            for suffix in ("", "-wal", "-journal")
            if Path(database + suffix).exists()
        )
    # Every column's stored bytes: text as UTF-8, bytea as its raw bytes (``t::text`` would show
    # bytea as hex, where a plaintext that slipped into a ciphertext column could not be found).
    chunks = []
    with store.transaction(write=False) as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


@pytest.fixture
def make_client(pki_dir: Path) -> Callable[[str | None], requests.Session]:
    """Factory of LGWAN-pinned sessions by PKI item name (None: no client certificate)."""
    return lambda name: client(pki_dir, name)


@pytest.fixture
def dump_db() -> Callable[[Store], str]:
    """:func:`dump_tables` as a fixture."""
    return dump_tables


@pytest.fixture
def raw_db() -> Callable[[Store], bytes]:
    """:func:`raw_database_text` as a fixture."""
    return raw_database_text
