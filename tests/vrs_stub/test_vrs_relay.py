"""The relay API the center calls, over real mTLS on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import requests

from vaxcert import residents
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vaxcert.lgcode import KIRISHIMA_CITY as KIRISHIMA
from vaxcert.residents import SyntheticResident
from vrs_stub import schema
from vrs_stub.store import Store


def ask(
    session: requests.Session,
    base: str,
    resident: SyntheticResident,
    code: str | None = None,
    kind: str = "domestic",
    **changes: Any,
) -> requests.Response:
    body = {
        "municipality_code": code or resident.municipality_code,
        "my_number": resident.my_number,
        "name": resident.name_kanji,
        "birth_date": resident.birth_date.isoformat(),
        "certificate_kind": kind,
        "channel": "kiosk",
    }
    body.update(changes)
    return session.post(f"{base}/v1/records/query", json=body, timeout=10)


def test_query_returns_canary_doses_and_flags(server: str, center: requests.Session) -> None:
    reply = ask(center, server, residents.CANARY)
    assert reply.status_code == 200
    body = reply.json()
    assert body["result"] == "match"
    assert [d["dose_number"] for d in body["doses"]] == [1, 2, 3]
    first = body["doses"][0]
    assert first["product_key"] == "pfizer-comirnaty-original"
    assert first["cvx"] == "208" and first["vaccine_type"] == "XM0GQ8"
    assert first["product_name"] == "コミナティ" and first["maker"] == "ファイザー社"
    assert body["flags"] == {
        "support_measure": False,
        "alias_notation": False,
        "moved_out": False,
        "deceased": False,
        "passport_on_file": True,
    }
    # C20: passport data only when a 海外用 certificate is asked for.
    assert body["passport"] is None
    # C22: the reply never carries the My Number back.
    assert residents.CANARY.my_number not in reply.text


def test_c20_overseas_query_returns_passport_data(server: str, center: requests.Session) -> None:
    body = ask(center, server, residents.CANARY, kind="overseas").json()
    assert body["passport"] == {
        "family_roman": "SHIKEN",
        "given_roman": "HANAKO",
        "nationality": "JPN",
        "number": "TZ9990001",
    }


def test_c12_c14_wrong_municipality_is_no_match_and_leaves_no_trace(
    server: str,
    center: requests.Session,
    store: Store,
    all_logs: Callable[[], str],
    dump_db: Callable[[Store], str],
) -> None:
    canary = residents.CANARY
    before = dump_db(store)
    reply = ask(center, server, canary, code=KIRISHIMA)
    assert reply.status_code == 200
    assert reply.json() == {"result": "no_match"}
    after = dump_db(store)
    new_text = after.replace(before, "") if after.startswith(before) else after
    with store.transaction(write=False) as conn:
        kirishima_keys = store.partition(conn, KIRISHIMA)
        assert kirishima_keys is not None
        other_bidx = kirishima_keys.keys.blind_index(canary.my_number)
    traces = [
        canary.my_number,
        hashlib.sha256(canary.my_number.encode()).hexdigest(),
        other_bidx.hex(),
    ]
    for trace in traces:
        assert trace not in new_text
        assert trace not in all_logs()
    # The miss is in the operation log, without anything derived from the number (C14, C15).
    with store.transaction(write=False) as conn:
        rows = conn.execute(schema.operation.select()).all()
        provisions = conn.execute(schema.provision.select()).all()
    misses = [r for r in rows if r.outcome == "no_match"]
    assert len(misses) == 1 and misses[0].municipality_code == KIRISHIMA
    assert misses[0].detail == ""
    assert provisions == []


def test_c12_unknown_municipality_partition_is_no_match(
    server: str, center: requests.Session
) -> None:
    # 131016 (Chiyoda) is a valid code with no partition in this VRS.
    assert ask(center, server, residents.CANARY, code="131016").json() == {"result": "no_match"}


def test_card_name_or_birth_date_mismatch_provides_nothing(
    server: str, center: requests.Session, store: Store
) -> None:
    canary = residents.CANARY
    wrong_name = ask(center, server, canary, name="試験\u3000太郎").json()
    wrong_birth = ask(center, server, canary, birth_date="1980-02-18").json()
    assert wrong_name == wrong_birth == {"result": "identity_mismatch"}
    # Full-width/half-width and spacing differences are not a mismatch.
    assert ask(center, server, canary, name="試験 花子").json()["result"] == "match"
    with store.transaction(write=False) as conn:
        assert len(conn.execute(schema.provision.select()).all()) == 1


@pytest.mark.parametrize(
    ("key", "flag"),
    [
        ("support-measure", "support_measure"),
        ("old-surname", "alias_notation"),
        ("moved-out", "moved_out"),
        ("deceased", "deceased"),
    ],
)
def test_edge_case_flags(server: str, center: requests.Session, key: str, flag: str) -> None:
    body = ask(center, server, residents.get(key), code=KAGOSHIMA).json()
    assert body["result"] == "match"
    assert [
        name for name, value in body["flags"].items() if value and name != "passport_on_file"
    ] == [flag]


def test_no_records_and_no_passport(server: str, center: requests.Session) -> None:
    no_records = ask(center, server, residents.get("no-records")).json()
    assert no_records["result"] == "match" and no_records["doses"] == []
    no_passport = ask(center, server, residents.get("no-passport"), kind="overseas").json()
    assert no_passport["flags"]["passport_on_file"] is False
    assert no_passport["passport"] is None and len(no_passport["doses"]) == 4


def test_two_municipalities_each_partition_has_its_own_doses(
    server: str, center: requests.Session
) -> None:
    resident = residents.get("two-municipalities")
    kagoshima = ask(center, server, resident, code=KAGOSHIMA).json()
    kirishima = ask(center, server, resident, code=KIRISHIMA).json()
    assert [d["dose_number"] for d in kagoshima["doses"]] == [1, 2]
    assert kagoshima["flags"]["moved_out"] is True
    assert [d["dose_number"] for d in kirishima["doses"]] == [3, 4, 5]
    assert kirishima["record_id"] != kagoshima["record_id"]


def test_c16_each_match_leaves_a_provision_record_without_pii(
    server: str, center: requests.Session, store: Store
) -> None:
    body = ask(center, server, residents.CANARY, kind="overseas").json()
    with store.transaction(write=False) as conn:
        rows = conn.execute(schema.provision.select()).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.id == body["provision_id"] and row.record_id == body["record_id"]
    assert row.recipient == "cert-center" and row.municipality_code == KAGOSHIMA
    assert row.items.endswith(",27")  # passport data was provided
    text = " ".join(str(v) for v in row)
    for value in residents.CANARY.canary_values:
        assert value not in text


def test_c20_issuance_is_recorded_once_and_idempotent(
    server: str, center: requests.Session, store: Store
) -> None:
    record_id = ask(center, server, residents.get("elder")).json()["record_id"]
    issuance = {
        "municipality_code": KAGOSHIMA,
        "record_id": record_id,
        "certificate_id": "JP0000000042",
        "issued_on": "2024-01-05",
        "certificate_kind": "domestic",
        "channel": "kiosk",
    }
    first = center.post(f"{server}/v1/issuances", json=issuance, timeout=10)
    again = center.post(f"{server}/v1/issuances", json=issuance, timeout=10)
    assert first.status_code == 201 and first.json()["result"] == "recorded"
    assert again.status_code == 200 and again.json()["result"] == "already_recorded"
    changed = center.post(
        f"{server}/v1/issuances", json={**issuance, "issued_on": "2024-01-06"}, timeout=10
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "vrs_issuance_conflict"
    # A certificate id of another partition is a conflict too, without saying where.
    other = ask(center, server, residents.get("kirishima")).json()["record_id"]
    clash = center.post(
        f"{server}/v1/issuances",
        json={**issuance, "municipality_code": KIRISHIMA, "record_id": other},
        timeout=10,
    )
    assert clash.status_code == 409
    with store.transaction(write=False) as conn:
        rows = conn.execute(
            schema.issuance.select().where(schema.issuance.c.certificate_id == "JP0000000042")
        ).all()
    assert len(rows) == 1
    row = rows[0]._mapping
    # C20: exactly certificate id, issue date, kind and channel for that record.
    assert {k: str(v) for k, v in row.items() if k != "recorded_at"} == {
        "certificate_id": "JP0000000042",
        "municipality_code": KAGOSHIMA,
        "record_id": record_id,
        "issued_on": "2024-01-05",
        "kind": "domestic",
        "channel": "kiosk",
    }


def test_c12_issuance_for_a_record_of_another_partition_is_not_found(
    server: str, center: requests.Session, store: Store
) -> None:
    record_id = ask(center, server, residents.CANARY).json()["record_id"]
    reply = center.post(
        f"{server}/v1/issuances",
        json={
            "municipality_code": KIRISHIMA,
            "record_id": record_id,
            "certificate_id": "JP0000000043",
            "issued_on": "2024-01-05",
            "certificate_kind": "domestic",
            "channel": "app",
        },
        timeout=10,
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "vrs_record_not_found"
    # The refusal is in the operation log even though its transaction rolled back (C15).
    with store.transaction(write=False) as conn:
        rows = conn.execute(
            schema.operation.select().where(schema.operation.c.action == "issuance")
        ).all()
    assert [(r.municipality_code, r.outcome) for r in rows] == [(KIRISHIMA, "vrs_record_not_found")]


def test_passport_from_the_app_is_on_file_for_the_kiosk(
    server: str, center: requests.Session
) -> None:
    resident = residents.get("no-passport")
    record_id = ask(center, server, resident).json()["record_id"]
    reply = center.post(
        f"{server}/v1/passports",
        json={
            "municipality_code": KAGOSHIMA,
            "record_id": record_id,
            "passport": {
                "family_roman": "KOKUNAI",
                "given_roman": "AI",
                "nationality": "JPN",
                "number": "TZ9990010",
            },
        },
        timeout=10,
    )
    assert reply.status_code == 201 and reply.json() == {"result": "stored"}
    body = ask(center, server, resident, kind="overseas").json()
    assert body["flags"]["passport_on_file"] is True
    assert body["passport"]["number"] == "TZ9990010"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"extra": "x"}, "unknown_field"),
        ({"my_number": None}, "invalid_field"),
        ({"my_number": "123456789019"}, "invalid_field"),  # wrong check digit
        ({"municipality_code": "462013"}, "invalid_field"),  # wrong check digit
        ({"certificate_kind": "both"}, "invalid_field"),
        ({"birth_date": "1980-13-01"}, "invalid_field"),
    ],
)
def test_c04_bad_fields_are_4xx_with_reason_code(
    server: str, center: requests.Session, change: dict[str, Any], code: str
) -> None:
    reply = ask(center, server, residents.CANARY, **change)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == code
    # The refusal names fields but never echoes a value.
    assert "123456789019" not in reply.text and residents.CANARY.my_number not in reply.text


def test_missing_field_and_non_json(server: str, center: requests.Session) -> None:
    missing = center.post(
        f"{server}/v1/records/query", json={"municipality_code": KAGOSHIMA}, timeout=10
    )
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "missing_field"
    assert "my_number" in missing.json()["error"]["fields"]
    not_json = center.post(f"{server}/v1/records/query", data="x=1", timeout=10)
    assert not_json.status_code == 415
    assert not_json.json()["error"]["code"] == "unsupported_media_type"
    broken = center.post(
        f"{server}/v1/records/query",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_request"


def test_c09_without_client_certificate_is_refused(
    server: str, make_client: Callable[[str | None], requests.Session]
) -> None:
    with make_client(None) as anonymous, pytest.raises(requests.exceptions.RequestException):
        ask(anonymous, server, residents.CANARY)


def test_c09_client_of_another_ca_is_refused(
    server: str, make_client: Callable[[str | None], requests.Session]
) -> None:
    # A kiosk certificate chains to the dedicated-line CA, not to the LGWAN CA.
    with (
        make_client("kiosk-KIOSK-0001") as kiosk,
        pytest.raises(requests.exceptions.RequestException),
    ):
        ask(kiosk, server, residents.CANARY)


def test_c09_lgwan_client_that_is_not_the_center_is_refused(
    server: str, terminal: Callable[[str], requests.Session]
) -> None:
    reply = ask(terminal(KAGOSHIMA), server, residents.CANARY)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "vrs_peer_not_allowed"


def test_c15_refused_relay_calls_leave_an_operation_log_without_values(
    server: str,
    center: requests.Session,
    terminal: Callable[[str], requests.Session],
    store: Store,
    dump_db: Callable[[Store], str],
) -> None:
    number = residents.CANARY.my_number
    assert ask(terminal(KAGOSHIMA), server, residents.CANARY).status_code == 403
    unknown = ask(center, server, residents.CANARY, **{number: "x", "surname": "x"})
    assert unknown.status_code == 422
    bad = ask(center, server, residents.CANARY, birth_date="not a date")
    assert bad.status_code == 422
    with store.transaction(write=False) as conn:
        rows = conn.execute(
            schema.operation.select().where(schema.operation.c.action == "query")
        ).all()
    refused = [(r.actor, r.outcome, r.detail) for r in rows if r.outcome != "no_match"]
    assert ("lgwan-terminal-462012", "vrs_peer_not_allowed", "") in refused
    assert ("cert-center", "unknown_field", "fields=surname") in refused
    assert ("cert-center", "invalid_field", "fields=birth_date") in refused
    assert number not in dump_db(store)
