"""A person's flags and moves at rest (C13): sealed, of one length, and migrated from plaintext.

支援措置 (DV protection), moved out, deceased, alias notation and 分類区分 must not be readable by
anyone holding the database without the master key. The raw checks read the database the way such
a person would: SQLite through the stdlib driver and as file bytes, PostgreSQL through psycopg
with no vaxcert types, every table the catalog lists (not only those the code knows).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import NoResultFound

from launch.cli import main
from vaxcert import residents
from vaxcert.config import Settings
from vaxcert.contracts.vrs_relay import QueryMatch, QueryRequest
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vaxcert.lgcode import KIRISHIMA_CITY as KIRISHIMA
from vrs_stub import csvio, schema, seed
from vrs_stub.models import CLASSIFICATIONS, MOVE_REASONS, RESIDENCIES, Move, PersonRecord
from vrs_stub.services import Caller, RelayService
from vrs_stub.store import RowBuilder, Store, migrations, utcnow
from vrs_stub.store.records import STATUS_BLOCK, PersonStatus

# The edge-case residents whose record says something a DV abuser or a curious reader may want.
FLAGGED = ("support-measure", "moved-out", "deceased", "old-surname", "elder", "two-municipalities")
EXPECTED_FLAGS = {
    "support-measure": {"support_measure"},
    "moved-out": {"moved_out"},
    "deceased": {"deceased"},
    "old-surname": {"alias_notation", "passport_on_file"},
    "elder": set(),
    "canary": {"passport_on_file"},
}
# Values of these fields as they would appear in plain text (UTF-8) anywhere in the storage.
# 小児 is left out: it is part of a product name (スパイクバックス XBB.1.5 小児用).
TELLTALES = [
    *(v for v in (*RESIDENCIES, *MOVE_REASONS) if v != "resident"),
    *(c for c in CLASSIFICATIONS if c != "小児"),
]

# What may be stored in the clear about a person (docs/vrs.md, "Encryption at rest"): ids, the
# municipality, key versions, timestamps and the dose and ticket facts. Every other value of a row
# that belongs to a person must be ciphertext (bytes).
PLAINTEXT_COLUMNS = {
    "vrs_person": {
        "record_id",
        "municipality_code",
        "key_version",
        "address_number",
        "created_at",
        "updated_at",
    },
    "vrs_ticket": {"record_id", "dose_number", "municipality_code", "issued_on", "reissued_on"},
    "vrs_vaccination": {
        "record_id",
        "dose_number",
        "municipality_code",
        "status",
        "vaccinated_on",
        "product_key",
        "vaccine_type",
        "product_name",
        "maker",
        "cvx",
        "lot_number",
        "place",
        "adverse_reaction_reported",
    },
    "vrs_passport": {"record_id", "municipality_code", "key_version", "source", "updated_at"},
    "vrs_issuance": {
        "certificate_id",
        "municipality_code",
        "record_id",
        "issued_on",
        "kind",
        "channel",
        "recorded_at",
    },
    "vrs_provision": {
        "id",
        "at",
        "municipality_code",
        "recipient",
        "record_id",
        "certificate_kind",
        "channel",
        "items",
        "request_id",
    },
}


# --- reading the database without vaxcert and without a key ----------------------------------


def _psycopg_url(store: Store) -> str:
    return store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def raw_tables(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the database's own catalog lists, as the driver returns it."""
    tables: dict[str, list[dict[str, Any]]] = {}
    if store.dialect == "sqlite":
        database = store.engine.url.database
        assert database
        with sqlite3.connect(database) as conn:
            names = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for name in names:
                cursor = conn.execute(f'SELECT * FROM "{name}"')
                columns = [d[0] for d in cursor.description]
                tables[name] = [dict(zip(columns, row, strict=True)) for row in cursor]
        return tables
    with psycopg.connect(_psycopg_url(store)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (store.db_schema,),
            )
        ]
        for name in names:
            cursor = conn.execute(f'SELECT * FROM "{store.db_schema}"."{name}"')
            assert cursor.description is not None
            columns = [d.name for d in cursor.description]
            tables[name] = [dict(zip(columns, row, strict=True)) for row in cursor]
    return tables


def plaintext_about(store: Store, record_ids: dict[str, str]) -> list[str]:
    """Every value stored in the clear about these records beyond the documented plaintext."""
    found = []
    for table, rows in raw_tables(store).items():
        allowed = PLAINTEXT_COLUMNS.get(table, set())
        for row in rows:
            for key, record_id in record_ids.items():
                if row.get("record_id") != record_id:
                    continue
                for column, value in row.items():
                    if value is None or isinstance(value, bytes) or column in allowed:
                        continue
                    found.append(f"{key}: {table}.{column} = {value!r}")
    return found


def raw_bytes(store: Store, raw_db: Callable[[Store], bytes]) -> bytes:
    """SQLite: the database files; PostgreSQL: every value of every table the catalog lists."""
    if store.dialect == "sqlite":
        return raw_db(store)
    chunks = []
    for rows in raw_tables(store).values():
        for row in rows:
            for value in row.values():
                if isinstance(value, bytes):
                    chunks.append(value)
                elif value is not None:
                    chunks.append(str(value).encode())
    return b"\n".join(chunks)


def telltales_in(raw: bytes) -> list[str]:
    """The flag and classification values found as plain text in raw storage bytes."""
    return [value for value in TELLTALES if value.encode() in raw]


def _edge_ids() -> dict[tuple[str, str], str]:
    """(resident key, municipality code) -> record id of the seeded edge-case records."""
    by_number = {r.my_number: key for key, r in residents.RESIDENTS.items()}
    return {
        (by_number[r.identity.my_number], r.municipality_code): r.record_id
        for r in seed.edge_case_records()
    }


def _flagged_ids() -> dict[str, str]:
    ids = _edge_ids()
    return {f"{key}@{code}": rid for (key, code), rid in ids.items() if key in FLAGGED}


def _query(store: Store, key: str, code: str = KAGOSHIMA) -> QueryMatch:
    resident = residents.get(key)
    reply = RelayService(store).query(
        QueryRequest(
            municipality_code=code,
            my_number=resident.my_number,
            name=resident.name_kanji,
            birth_date=resident.birth_date,
            certificate_kind="domestic",
            channel="kiosk",
        ),
        Caller("cert-center", "test-flags"),
    )
    assert isinstance(reply, QueryMatch), (key, reply)
    return reply


def _flags_of(store: Store, key: str) -> set[str]:
    return {name for name, on in _query(store, key).flags.model_dump().items() if on}


# --- the database as the current code writes it ----------------------------------------------


def test_c13_flags_are_not_readable_without_the_key(
    store: Store, raw_db: Callable[[Store], bytes]
) -> None:
    flagged = _flagged_ids()
    assert plaintext_about(store, flagged) == []
    # Nor does a ciphertext's length tell them apart: every status document has one size.
    people = raw_tables(store)["vrs_person"]
    assert len(people) == 51
    assert {len(row["status_ct"]) for row in people} == {12 + STATUS_BLOCK + 16}
    # The values themselves appear nowhere in the storage (SQLite file and WAL, PostgreSQL rows).
    raw = raw_bytes(store, raw_db)
    assert len(raw) > 10_000
    assert telltales_in(raw) == []


def test_c13_status_document_has_one_size_up_to_four_moves() -> None:
    longest = max(MOVE_REASONS, key=len)
    sizes = {
        len(PersonStatus(support, alias, residency, classification, moves).document())
        for support, alias, residency, classification in itertools.product(
            (True, False), (True, False), RESIDENCIES, CLASSIFICATIONS
        )
        for moves in (
            tuple(Move(dt.date(2022, 12, 31), longest) for _ in range(n)) for n in range(5)
        )
    }
    assert sizes == {STATUS_BLOCK}


def test_c13_status_of_another_row_does_not_open(store: Store) -> None:
    from vrs_stub.crypto import DecryptionError

    ids = _edge_ids()
    support, canary = ids[("support-measure", KAGOSHIMA)], ids[("canary", KAGOSHIMA)]
    with store.transaction(write=False) as conn:
        partition = store.partition(conn, KAGOSHIMA)
        assert partition is not None
        blob = conn.execute(
            text("SELECT status_ct FROM vrs_person WHERE record_id = :rid"), {"rid": support}
        ).scalar_one()
    assert PersonStatus.open(partition.keys, bytes(blob), support).support_measure is True
    # Copied onto another person's row, a support measure does not follow (AAD binds the row).
    with pytest.raises(DecryptionError):
        PersonStatus.open(partition.keys, bytes(blob), canary)


def test_flags_survive_key_rotation_and_master_rewrap(store: Store) -> None:
    before = {key: _flags_of(store, key) for key in EXPECTED_FLAGS}
    assert before == EXPECTED_FLAGS
    store.rotate_partition_keys(KAGOSHIMA)
    assert {key: _flags_of(store, key) for key in EXPECTED_FLAGS} == EXPECTED_FLAGS
    store.rewrap_master(bytes(range(32)))
    store.keyring.forget()
    assert {key: _flags_of(store, key) for key in EXPECTED_FLAGS} == EXPECTED_FLAGS
    with store.transaction(write=False) as conn:
        partition = store.partition(conn, KAGOSHIMA)
        assert partition is not None and partition.keys.version == 2
        moved = next(
            r for r in partition.iter_records() if r.identity.my_number == _number("moved-out")
        )
    assert moved.moves == [Move(dt.date(2022, 4, 1), "moved_out")]


def _number(key: str) -> str:
    return residents.get(key).my_number


def test_export_import_round_trip_keeps_flags_and_moves(
    server: str,
    terminal: Callable[[str], requests.Session],
    token: Callable[..., str],
    store: Store,
    center: requests.Session,
) -> None:
    session = terminal(KAGOSHIMA)
    headers = {"Authorization": f"Bearer {token(KAGOSHIMA)}"}
    base = f"{server}/v1/staff/municipalities/{KAGOSHIMA}/records"
    exported = session.get(f"{base}/export", headers=headers, timeout=30)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    by_record = {v: k for (k, code), v in _edge_ids().items() if code == KAGOSHIMA}
    chosen = [r for r in rows if by_record.get(r["record_id"]) in EXPECTED_FLAGS]
    assert {by_record[r["record_id"]] for r in chosen} == set(EXPECTED_FLAGS)
    support = next(r for r in chosen if by_record[r["record_id"]] == "support-measure")
    moved = next(r for r in chosen if by_record[r["record_id"]] == "moved-out")
    elder = next(r for r in chosen if by_record[r["record_id"]] == "elder")
    assert support["support_measure"] == "1" and moved["moves"] == "2022-04-01:moved_out"
    assert elder["classification"] == "高齢者"
    for row in chosen:
        row["my_number"] = _number(by_record[row.pop("record_id")])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csvio.IMPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(chosen)
    reply = session.post(
        f"{base}/import",
        data=out.getvalue().encode(),
        headers={**headers, "Content-Type": "text/csv"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"result": "imported", "created": 0, "replaced": len(EXPECTED_FLAGS)}
    assert {key: _flags_of(store, key) for key in EXPECTED_FLAGS} == EXPECTED_FLAGS
    again = session.get(f"{base}/export", headers=headers, timeout=30).text
    assert again == exported.text


# --- a database written by version 1 (plaintext flags, vrs_move) -----------------------------


def _v1_rows(store: Store, records: list[PersonRecord]) -> None:
    """Write ``records`` as version 1 did: flags in plaintext columns, moves in vrs_move."""
    by_code: dict[str, list[PersonRecord]] = {}
    for record in records:
        by_code.setdefault(record.municipality_code, []).append(record)
    with store.transaction() as conn:
        for code in by_code:
            store.ensure_municipality(conn, code)
    with store.transaction() as conn:
        for code, group in by_code.items():
            partition = store.partition(conn, code)
            assert partition is not None
            rows = RowBuilder(partition.keys).rows_for(group, utcnow())
            moves = []
            for row, record in zip(rows["vrs_person"], group, strict=True):
                del row["status_ct"]
                row["support_measure"] = record.support_measure
                row["alias_notation"] = bool(record.identity.alias_name)
                row["residency"] = record.residency
                row["classification"] = record.classification
                moves += [
                    {
                        "record_id": record.record_id,
                        "seq": seq,
                        "municipality_code": code,
                        "moved_on": move.moved_on,
                        "reason": move.reason,
                    }
                    for seq, move in enumerate(record.moves, start=1)
                ]
            conn.execute(migrations.V1_PERSON.insert(), rows["vrs_person"])
            if moves:
                conn.execute(migrations.V1_MOVE.insert(), moves)
            for table in (schema.ticket, schema.vaccination, schema.passport, schema.issuance):
                if rows[table.name]:
                    conn.execute(table.insert(), rows[table.name])


def _records() -> list[PersonRecord]:
    """The edge cases and enough random residents for more than one page of the migration."""
    population = seed.Population.of([KAGOSHIMA, KIRISHIMA])
    return seed.edge_case_records() + [
        seed.synthetic_person(i, 11, population) for i in range(1100)
    ]


@pytest.fixture
def v1_store(empty_store: Store) -> Iterator[Store]:
    """A store whose database was made and filled by schema version 1."""
    empty_store.drop_all()
    assert empty_store.migrate(target=1) == [1]
    _v1_rows(empty_store, _records())
    yield empty_store


def _canonical(record: PersonRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["issuances"].sort(key=lambda i: (i["issued_on"], i["certificate_id"]))
    return data


def _cli_migrate(store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """``vaxcert vrs migrate`` on the store's database, with the same (dev) master key."""
    monkeypatch.setenv("VAXCERT_VRS__DATA_DIR", str(settings.vrs.data_dir))
    args = ["vrs", "migrate", "--db", store.engine.url.render_as_string(hide_password=False)]
    if store.db_schema:
        args += ["--schema", store.db_schema]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_c13_migration_seals_plaintext_flags_of_a_version_1_database(
    v1_store: Store,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    raw_db: Callable[[Store], bytes],
) -> None:
    store, flagged = v1_store, _flagged_ids()
    # The old database really does say it to anyone: this is what the migration must remove.
    leaked = plaintext_about(store, flagged)
    assert any("vrs_person.support_measure = " in leak for leak in leaked)
    assert any("vrs_move.reason = 'moved_out'" in leak for leak in leaked)
    assert telltales_in(raw_bytes(store, raw_db))

    output = _cli_migrate(store, settings, monkeypatch)
    assert "applied schema versions 2" in output
    assert store.migrate() == []  # idempotent: nothing left to apply
    assert "applied" not in _cli_migrate(store, settings, monkeypatch)

    assert plaintext_about(store, flagged) == []
    tables = raw_tables(store)
    assert "vrs_move" not in tables
    assert {len(row["status_ct"]) for row in tables["vrs_person"]} == {12 + STATUS_BLOCK + 16}
    assert telltales_in(raw_bytes(store, raw_db)) == []
    # Every record reads back as it was written, flags and moves included, and the relay answers.
    expected = {r.record_id: _canonical(r) for r in _records()}
    with store.transaction(write=False) as conn:
        read = {}
        for code in (KAGOSHIMA, KIRISHIMA):
            partition = store.partition(conn, code)
            assert partition is not None
            read.update({r.record_id: _canonical(r) for r in partition.iter_records(page=300)})
    assert read == expected
    assert {key: _flags_of(store, key) for key in EXPECTED_FLAGS} == EXPECTED_FLAGS
    two = _query(store, "two-municipalities", KIRISHIMA)
    assert not two.flags.moved_out and [d.dose_number for d in two.doses] == [3, 4, 5]


def test_migration_is_all_or_nothing(v1_store: Store) -> None:
    store = v1_store
    before = raw_tables(store)
    # A person row whose key version has no key: the step fails after sealing every other row.
    with store.transaction() as conn:
        conn.execute(
            migrations.V1_PERSON.insert().values(
                record_id="f" * 16,
                municipality_code=KAGOSHIMA,
                key_version=9,
                address_number="9999999999",
                my_number_bidx=b"\0" * 32,
                identity_ct=b"\0" * 40,
                support_measure=True,
                alias_notation=False,
                residency="resident",
                classification="一般",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    with pytest.raises(NoResultFound):
        store.migrate()
    after = raw_tables(store)
    assert after["vrs_schema_version"] == before["vrs_schema_version"]
    assert after["vrs_move"] == before["vrs_move"]
    assert [r for r in after["vrs_person"] if r["record_id"] != "f" * 16] == before["vrs_person"]
    assert "status_ct" not in after["vrs_person"][0]
    if store.dialect == "sqlite":  # the migration's connection went back with enforcement on
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # Without the broken row it goes through.
    with store.transaction() as conn:
        conn.execute(text("DELETE FROM vrs_person WHERE record_id = :rid"), {"rid": "f" * 16})
    assert store.migrate() == [2]
    assert _flags_of(store, "support-measure") == {"support_measure"}


def test_c13_migration_leaves_no_flag_in_postgresql_data_files(pg_store: Store) -> None:
    """PostgreSQL keeps a dropped column's values in its tuples until the table is re-written."""
    store = pg_store
    store.drop_all()
    store.migrate(target=1)
    _v1_rows(store, seed.edge_case_records())

    def data_files() -> bytes:
        with psycopg.connect(_psycopg_url(store), autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # the pages on disk, not only in shared buffers
            root = Path(str(conn.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
            paths = [
                root / row[0]
                for row in conn.execute(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
                    (store.db_schema,),
                )
                if row[0]
            ]
        if not all(path.parent.is_dir() for path in paths):
            pytest.skip("PostgreSQL's data directory is not readable from this process")
        return b"".join(path.read_bytes() for path in paths if path.exists())

    assert "moved_out" in telltales_in(data_files())
    assert store.migrate() == [2]
    assert telltales_in(data_files()) == []
