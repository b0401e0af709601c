"""The VRS stub's tables (SQLAlchemy Core), as the latest schema version has them.

Every row carries its municipality code (C12). Personal values are stored only as AES-GCM
ciphertext (``*_ct`` columns) and the My Number only as a keyed blind index (C13). The 29 record
items of 別添2 map to columns as docs/vrs.md lists; item 8 (age) is derived from the birth date.

The steps that bring an older database to these tables are :mod:`vrs_stub.store.migrations`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

_TS = DateTime(timezone=True)


def _muni() -> Column[str]:
    return Column("municipality_code", String(6), nullable=False)


schema_version = Table(
    "vrs_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", _TS, nullable=False),
)

meta = Table(
    "vrs_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

municipality = Table(
    "vrs_municipality",
    metadata,
    Column("code", String(6), primary_key=True),  # item 3
    Column("name", String(64), nullable=False),
    Column("active_key_version", Integer, nullable=False),
    Column("created_at", _TS, nullable=False),
)

data_key = Table(
    "vrs_data_key",
    metadata,
    Column(
        "municipality_code",
        String(6),
        ForeignKey("vrs_municipality.code", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("wrapped_data_key", LargeBinary, nullable=False),
    Column("wrapped_index_key", LargeBinary, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("retired_at", _TS),
)

person = Table(
    "vrs_person",
    metadata,
    Column("record_id", String(16), primary_key=True),
    Column(
        "municipality_code",
        String(6),
        ForeignKey("vrs_municipality.code"),
        nullable=False,
    ),
    Column("key_version", Integer, nullable=False),
    Column("address_number", String(20), nullable=False),  # item 2 宛名番号
    Column("my_number_bidx", LargeBinary(32), nullable=False),  # item 1, blind index only (C13)
    # items 1, 5, 6, 7, 9, 10 and the 旧姓・別姓・別名 of item 27, one AES-GCM document (C13)
    Column("identity_ct", LargeBinary, nullable=False),
    # items 11-14 and the 旧姓・別姓・別名 flag of item 27: moves, residency (moved out,
    # deceased), 支援措置, 分類区分; one AES-GCM document padded to a fixed size, so neither its
    # value nor its length tells a DV-protected or moved-out person from anyone else (C13)
    Column("status_ct", LargeBinary, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("updated_at", _TS, nullable=False),
    UniqueConstraint("municipality_code", "my_number_bidx", name="uq_vrs_person_bidx"),
    UniqueConstraint("municipality_code", "address_number", name="uq_vrs_person_address_no"),
)


def _child(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        Column(
            "record_id",
            String(16),
            ForeignKey("vrs_person.record_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        *columns,
    )


ticket = _child(
    "vrs_ticket",
    Column("dose_number", Integer, primary_key=True, autoincrement=False),
    _muni(),
    Column("ticket_ct", LargeBinary, nullable=False),  # item 4 接種券番号 (C13)
    Column("issued_on", Date, nullable=False),  # item 16 接種券発行日
    Column("reissued_on", Date),
)

vaccination = _child(
    "vrs_vaccination",
    Column("dose_number", Integer, primary_key=True, autoincrement=False),  # item 17 接種回
    _muni(),
    Column("status", String(8), nullable=False),  # item 15 接種状況: done | not_done
    Column("vaccinated_on", Date),  # item 18 接種日
    Column("product_key", String(48)),  # vaxcert product key (vaccines.md)
    Column("vaccine_type", String(16)),  # items 19/25 ワクチンの種類 (ICD-11)
    Column("product_name", String(64)),  # item 26 製品名
    Column("maker", String(32)),  # メーカー
    Column("cvx", String(4)),
    Column("lot_number", String(20)),  # item 22
    Column("place", String(100)),  # item 20 接種場所
    Column("private_ct", LargeBinary),  # items 21 医師名 and 24 備考 (C13)
    Column("adverse_reaction_reported", Boolean, nullable=False),  # item 23
)

passport = _child(
    "vrs_passport",
    _muni(),
    Column("key_version", Integer, nullable=False),
    # item 27: romanised name, nationality, passport number (C13, C20)
    Column("passport_ct", LargeBinary, nullable=False),
    Column("source", String(16), nullable=False),  # counter | app | import
    Column("updated_at", _TS, nullable=False),
)

issuance = Table(
    "vrs_issuance",
    metadata,
    Column("certificate_id", String(32), primary_key=True),  # item 28 (C20)
    _muni(),
    Column("record_id", String(16), nullable=False),
    Column("issued_on", Date, nullable=False),  # item 29 (C20)
    Column("kind", String(16), nullable=False),  # domestic | overseas
    Column("channel", String(16), nullable=False),  # kiosk | app | counter
    Column("recorded_at", _TS, nullable=False),
    ForeignKeyConstraint(["record_id"], ["vrs_person.record_id"], ondelete="CASCADE"),
    Index("ix_vrs_issuance_record", "municipality_code", "record_id"),
)

provision = Table(
    "vrs_provision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", _TS, nullable=False),
    _muni(),
    Column("recipient", String(64), nullable=False),  # C16: to whom (client certificate CN)
    Column("record_id", String(16), nullable=False),  # C16: which internal record (pseudonymous)
    Column("certificate_kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("items", String(64), nullable=False),  # 別添2 item numbers provided
    Column("request_id", String(64), nullable=False),
    Index("ix_vrs_provision_muni_at", "municipality_code", "at"),
)

operation = Table(
    "vrs_operation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", _TS, nullable=False),  # C15: when
    Column("actor_kind", String(16), nullable=False),  # center | staff | cli
    Column("actor", String(96), nullable=False),  # C15: who (CN, staff id) - never a resident
    Column("municipality_code", String(6)),
    Column("action", String(32), nullable=False),  # C15: what
    Column("outcome", String(32), nullable=False),
    Column("detail", String(200), nullable=False),  # counts and codes only, no PII
    Column("request_id", String(64), nullable=False),
    Index("ix_vrs_operation_muni_at", "municipality_code", "at"),
)

staff_token = Table(
    "vrs_staff_token",
    metadata,
    Column("token_id", String(16), primary_key=True),
    Column("secret_sha256", LargeBinary(32), nullable=False),
    Column(
        "municipality_code",
        String(6),
        ForeignKey("vrs_municipality.code", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("staff_id", String(64), nullable=False),
    Column("roles", String(64), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=False),
    Column("revoked_at", _TS),
)

# Tables that hold personal data, children before parents (delete and drop order).
DATA_TABLES = (issuance, passport, vaccination, ticket, person)
