"""Store-level guarantees: encryption at rest, partitions, key management, schema versions."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from vaxcert import residents
from vaxcert.config import Settings, load_settings
from vaxcert.errors import ConfigError
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vaxcert.lgcode import KIRISHIMA_CITY as KIRISHIMA
from vaxcert.vaccines import MAX_DOSES
from vrs_stub import crypto, schema
from vrs_stub.crypto import DecryptionError
from vrs_stub.models import Ticket, Vaccination
from vrs_stub.store import Store, migrations, utcnow


def _plaintexts(resident: residents.SyntheticResident) -> list[str]:
    values = list(resident.canary_values)
    values += [resident.family_kanji, resident.given_kanji, resident.family_kana, resident.address]
    values.append(hashlib.sha256(resident.my_number.encode()).hexdigest())
    return values


def test_c13_raw_database_holds_no_plaintext_canary(
    store: Store, raw_db: Callable[[Store], bytes]
) -> None:
    raw = raw_db(store)
    assert len(raw) > 10_000
    for resident in (residents.CANARY, residents.get("kirishima")):
        for value in _plaintexts(resident):
            assert value.encode() not in raw, value
    # Neither is a plain (unkeyed) hash of the number there, in any encoding.
    digest = hashlib.sha256(residents.CANARY.my_number.encode()).digest()
    assert digest not in raw and digest.hex().encode() not in raw


def test_c13_blind_index_is_keyed_per_municipality(store: Store) -> None:
    number = residents.CANARY.my_number
    with store.transaction(write=False) as conn:
        kagoshima = store.partition(conn, KAGOSHIMA)
        kirishima = store.partition(conn, KIRISHIMA)
        assert kagoshima is not None and kirishima is not None
        assert kagoshima.keys.blind_index(number) != kirishima.keys.blind_index(number)
        bidx = conn.execute(
            select(schema.person.c.my_number_bidx).where(
                schema.person.c.record_id == kagoshima.lookup(number, False).record_id  # type: ignore[union-attr]
            )
        ).scalar_one()
    assert bytes(bidx) == kagoshima.keys.blind_index(number)


def test_c12_ciphertext_moved_to_another_partition_does_not_open(store: Store) -> None:
    with store.transaction(write=False) as conn:
        kagoshima = store.partition(conn, KAGOSHIMA)
        kirishima = store.partition(conn, KIRISHIMA)
        assert kagoshima is not None and kirishima is not None
        found = kagoshima.lookup(residents.CANARY.my_number, False)
        assert found is not None
        blob = conn.execute(
            select(schema.person.c.identity_ct).where(schema.person.c.record_id == found.record_id)
        ).scalar_one()
    kagoshima.keys.open(bytes(blob), "person.identity", found.record_id)
    with pytest.raises(DecryptionError):
        kirishima.keys.open(bytes(blob), "person.identity", found.record_id)
    with pytest.raises(DecryptionError):  # nor in another row of the same partition
        kagoshima.keys.open(bytes(blob), "person.identity", "0" * 16)


def test_c12_partition_refuses_records_of_another_municipality(store: Store) -> None:
    from vrs_stub.seed import edge_case_records

    kirishima_record = next(r for r in edge_case_records() if r.municipality_code == KIRISHIMA)
    with store.transaction() as conn:
        kagoshima = store.partition(conn, KAGOSHIMA)
        assert kagoshima is not None
        with pytest.raises(ValueError, match="another partition"):
            kagoshima.insert([kirishima_record])


def test_key_rotation_reencrypts_and_lookups_still_work(store: Store) -> None:
    canary = residents.CANARY
    with store.transaction(write=False) as conn:
        old = store.partition(conn, KAGOSHIMA)
        assert old is not None
        old_version, old_bidx = old.keys.version, old.keys.blind_index(canary.my_number)
        count = old.count()
    assert store.rotate_partition_keys(KAGOSHIMA) == count
    with store.transaction(write=False) as conn:
        new = store.partition(conn, KAGOSHIMA)
        assert new is not None
        assert new.keys.version == old_version + 1
        found = new.lookup(canary.my_number, True)
        assert found is not None and found.identity.given_kanji == canary.given_kanji
        assert found.passport is not None and found.passport.number == "TZ9990001"
        assert len(found.doses) == 3
        versions = {
            row[0]
            for row in conn.execute(
                select(schema.person.c.key_version).where(
                    schema.person.c.municipality_code == KAGOSHIMA
                )
            )
        }
        stale = conn.execute(
            select(schema.person.c.record_id).where(schema.person.c.my_number_bidx == old_bidx)
        ).all()
        exported = list(new.iter_records())
    assert versions == {old_version + 1} and stale == []
    assert len(exported) == count
    # Kirishima's partition is untouched.
    with store.transaction(write=False) as conn:
        kirishima = store.partition(conn, KIRISHIMA)
        assert kirishima is not None and kirishima.keys.version == 1


def test_master_key_rewrap(store: Store, settings: Settings, tmp_path: Path) -> None:
    new_master = os.urandom(32)
    assert store.rewrap_master(new_master) == 2
    store.keyring.forget()
    with store.transaction(write=False) as conn:
        partition = store.partition(conn, KAGOSHIMA)
        assert partition is not None
        assert partition.lookup(residents.CANARY.my_number, False) is not None
    # Opening with the old master key is now refused, naming the setting.
    stale = Store(store.engine, crypto.load_master_key(settings), store.db_schema)
    with pytest.raises(ConfigError) as refused:
        stale.migrate()
    assert refused.value.setting == "VAXCERT_VRS__MASTER_KEY"


def test_migrate_is_idempotent_and_refuses_newer_schema(store: Store) -> None:
    assert store.migrate() == []
    with store.transaction() as conn:
        conn.execute(
            schema.schema_version.insert().values(
                version=migrations.LATEST + 1, description="future", applied_at=utcnow()
            )
        )
    with pytest.raises(migrations.SchemaTooNewError):
        store.migrate()


def test_production_needs_a_master_key(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(ConfigError) as refused:
        crypto.load_master_key(production)
    assert refused.value.setting == "VAXCERT_VRS__MASTER_KEY"


def test_dev_master_key_is_generated_with_mode_0600(settings: Settings) -> None:
    key = crypto.load_master_key(settings)
    path = crypto.data_dir(settings) / crypto.DEV_MASTER_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert crypto.load_master_key(settings) == key and len(key) == 32


def test_master_key_from_setting_and_file(settings: Settings, tmp_path: Path) -> None:
    text = crypto.new_master_key_text()

    def with_vrs(environment: str = "test", **vrs: object) -> Settings:
        return load_settings(
            environment=environment,
            pki_dir=settings.pki_dir,
            vrs={"data_dir": str(tmp_path / "keys"), **vrs},
        )

    assert crypto.load_master_key(with_vrs(master_key=text)) == base64.b64decode(text)
    key_file = tmp_path / "master.key"
    key_file.write_text(text)
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        crypto.load_master_key(with_vrs("production", master_key_file=str(key_file)))
    key_file.chmod(0o600)
    production = with_vrs("production", master_key_file=str(key_file))
    assert crypto.load_master_key(production) == base64.b64decode(text)
    with pytest.raises(ConfigError, match="32 bytes"):
        crypto.load_master_key(with_vrs(master_key="c2hvcnQ="))


def test_a_dose_beyond_the_programme_maximum_is_refused_before_it_is_stored() -> None:
    # An 8th dose stored would make every later relay answer for the record fail (the wire
    # contract stops at MAX_DOSES): refuse it when the record is built.
    with pytest.raises(ValueError, match="dose number"):
        Ticket(MAX_DOSES + 1, "1234567890", dt.date(2023, 10, 1))
    with pytest.raises(ValueError, match="dose number"):
        Vaccination(MAX_DOSES + 1, "done", dt.date(2023, 10, 1), *[None] * 7)
    assert Vaccination(MAX_DOSES, "not_done", None, *[None] * 7).dose_number == MAX_DOSES
