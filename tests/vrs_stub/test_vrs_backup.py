"""VRS backup and restore on PostgreSQL (docs/operations.md, "VRS backup and restore"): a
``pg_dump`` of the VRS schema, the schema dropped, ``pg_restore``; every record, issuance record
(C20), provision log (C16) and operation log (C15) comes back, and the restored VRS answers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import func, select, text

from launch.services import pg_bin
from tests.support.servers import pki_context, serving
from tests.vrs_stub.conftest import client, dump_tables, open_store
from tests.vrs_stub.test_vrs_relay import ask
from vaxcert import residents
from vaxcert.config import Settings
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vaxcert.lgcode import KIRISHIMA_CITY as KIRISHIMA
from vrs_stub import schema, seed
from vrs_stub.app import create_app
from vrs_stub.store import Store


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` as pg_dump and pg_restore take it."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def counts(store: Store) -> dict[str, int]:
    with store.transaction(write=False) as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (schema.person, schema.issuance, schema.provision, schema.operation)
        }


def test_backup_drop_restore_keeps_records_issuances_and_logs(
    settings: Settings, pg_url: str, pki_dir: Path, tmp_path: Path
) -> None:
    store = open_store(settings, pg_url)
    name = store.db_schema
    assert name
    seed.seed(store, [KAGOSHIMA, KIRISHIMA], 20, seed_value=11)
    elder = residents.get("elder")
    with (
        serving(create_app(settings, store=store), pki_context(pki_dir, "vrs", "lgwan-ca")) as live,
        client(pki_dir, "center-lgwan-client") as center,
    ):
        record_id = ask(center, live.url, elder).json()["record_id"]
        issuance = {
            "municipality_code": KAGOSHIMA,
            "record_id": record_id,
            "certificate_id": "JPBACKUP0001",
            "issued_on": "2024-01-05",
            "certificate_kind": "domestic",
            "channel": "kiosk",
        }
        assert center.post(f"{live.url}/v1/issuances", json=issuance, timeout=10).ok
    before, rows_before = dump_tables(store), counts(store)
    assert all(rows_before.values())

    backup = tmp_path / "vrs.dump"
    url = libpq_url(pg_url)
    subprocess.run(
        [str(pg_bin() / "pg_dump"), "--format=custom", f"--schema={name}", f"--file={backup}", url],
        check=True,
        capture_output=True,
    )
    store.drop_all()
    store.dispose()
    with open_store(settings, pg_url).engine.connect() as conn:
        gone = conn.execute(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :n"),
            {"n": name},
        ).scalar_one()
    assert gone == 0

    subprocess.run(
        [
            str(pg_bin() / "pg_restore"),
            "--exit-on-error",
            "--no-owner",
            f"--dbname={url}",
            str(backup),
        ],
        check=True,
        capture_output=True,
    )
    restored = Store.from_settings(settings, pg_url, name)
    try:
        assert counts(restored) == rows_before
        assert dump_tables(restored) == before
        # The restored VRS answers (its partition keys unwrap with the same master key) and
        # still knows the issuance: recording it again is a repeat.
        with (
            serving(
                create_app(settings, store=restored), pki_context(pki_dir, "vrs", "lgwan-ca")
            ) as live,
            client(pki_dir, "center-lgwan-client") as center,
        ):
            assert ask(center, live.url, elder).json()["record_id"] == record_id
            again = center.post(f"{live.url}/v1/issuances", json=issuance, timeout=10)
            assert again.json()["result"] == "already_recorded"
    finally:
        restored.drop_all()
        restored.dispose()
