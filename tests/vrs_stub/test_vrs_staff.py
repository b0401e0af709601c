"""The municipal staff API: import, export, delete and logs, each scoped to one municipality."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
import requests

from tests.support.vrs_csv import csv_file, csv_line, my_number
from vaxcert import mynumber, residents
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vaxcert.lgcode import KIRISHIMA_CITY as KIRISHIMA
from vrs_stub import schema
from vrs_stub.store import Store

Token = Callable[..., str]
Terminal = Callable[[str], requests.Session]


def _base(server: str, code: str) -> str:
    return f"{server}/v1/staff/municipalities/{code}"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _count(store: Store, code: str) -> int:
    with store.transaction(write=False) as conn:
        partition = store.partition(conn, code)
        assert partition is not None
        return partition.count()


def _import(
    session: requests.Session, server: str, token: str, data: bytes, code: str = KAGOSHIMA
) -> requests.Response:
    return session.post(
        f"{_base(server, code)}/records/import",
        data=data,
        headers={**_auth(token), "Content-Type": "text/csv"},
        timeout=30,
    )


def test_import_commits_all_lines(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    before = _count(store, KAGOSHIMA)
    lines = [
        csv_line(),
        csv_line(
            dose_number="2",
            vaccinated_on="2021-06-22",
            ticket_number="1234567891",
            ticket_issued_on="2021-05-01",
        ),
        csv_line(
            address_number="5000000002",
            my_number=my_number("30000000002"),
            given_kanji="二子",
            given_kana="フタコ",
            dose_number="",
            ticket_number="",
            ticket_issued_on="",
            status="",
            vaccinated_on="",
            product_key="",
            lot_number="",
            place="",
            doctor="",
            adverse_reaction_reported="",
        ),
    ]
    reply = _import(terminal(KAGOSHIMA), server, token(KAGOSHIMA), csv_file(lines))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"result": "imported", "created": 2, "replaced": 0}
    assert _count(store, KAGOSHIMA) == before + 2
    # Importing the same person again replaces, never duplicates.
    again = _import(terminal(KAGOSHIMA), server, token(KAGOSHIMA), csv_file(lines[:1]))
    assert again.json() == {"result": "imported", "created": 0, "replaced": 1}
    assert _count(store, KAGOSHIMA) == before + 2


def test_import_reports_malformed_lines_and_imports_nothing(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    before = _count(store, KAGOSHIMA)
    lines = [
        csv_line(),  # line 2: fine
        csv_line(address_number="5000000003", my_number="300000000031"),  # 3: check digit
        csv_line(
            address_number="5000000004",
            my_number=my_number("30000000004"),
            birth_date="1970-02-30",
            product_key="sputnik",
        ),  # 4: date and product
        csv_line(dose_number="2", family_kanji="別人"),  # 5: differs from line 2
        csv_line(),  # 6: dose 1 again
    ]
    reply = _import(terminal(KAGOSHIMA), server, token(KAGOSHIMA), csv_file(lines))
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "vrs_import_invalid"
    found = {(e["line"], e["column"], e["problem"]) for e in error["errors"]}
    assert found == {
        (3, "my_number", "invalid_check_digit"),
        (4, "birth_date", "invalid_date"),
        (4, "product_key", "unknown_product"),
        (5, "family_kanji", "differs_from_line_2"),
        (6, "dose_number", "duplicate_of_line_2"),
    }
    assert error["error_count"] == 5
    # No value is echoed in the refusal, and nothing was half-imported.
    assert "300000000031" not in reply.text and "別人" not in reply.text
    assert _count(store, KAGOSHIMA) == before


def test_import_header_problems_are_line_1(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    data = csv_file([csv_line()]).replace(b"address_number", b"addr_no", 1)
    reply = _import(terminal(KAGOSHIMA), server, token(KAGOSHIMA), data)
    problems = {(e["line"], e["column"], e["problem"]) for e in reply.json()["error"]["errors"]}
    assert problems == {(1, "addr_no", "unknown_column"), (1, "address_number", "missing_column")}


def test_import_without_a_header_row_echoes_no_value(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    line = csv_line()
    headerless = csv_file([line]).split(b"\r\n", 1)[1]
    reply = _import(terminal(KAGOSHIMA), server, token(KAGOSHIMA), headerless)
    assert reply.status_code == 422
    for value in (line["my_number"], line["birth_date"], line["address_number"]):
        assert value not in reply.text


def test_import_of_an_address_number_used_by_another_record_is_refused(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    before = _count(store, KAGOSHIMA)
    # 9900000001 is the canary's address number; this is another person.
    reply = _import(
        terminal(KAGOSHIMA),
        server,
        token(KAGOSHIMA),
        csv_file([csv_line(address_number="9900000001")]),
    )
    assert reply.status_code == 422
    assert reply.json()["error"]["errors"] == [
        {"line": 2, "column": "address_number", "problem": "used_by_another_record"}
    ]
    assert _count(store, KAGOSHIMA) == before


def test_c18_export_has_no_my_number(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    reply = terminal(KAGOSHIMA).get(
        f"{_base(server, KAGOSHIMA)}/records/export", headers=_auth(token(KAGOSHIMA)), timeout=30
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.text)))
    header = rows[0]
    assert "my_number" not in header and not any(h == "number" for h in header)
    # No cell anywhere holds a valid My Number (C18), yet the canary's record is there.
    for row in rows[1:]:
        for cell in row:
            assert not (len(cell) == 12 and mynumber.is_valid(cell))
    assert residents.CANARY.my_number not in reply.text
    assert residents.CANARY.family_kanji in reply.text
    # Only this municipality's records (C12): the Kirishima resident is not in it.
    assert residents.get("kirishima").family_kanji not in reply.text
    assert len({row[0] for row in rows[1:]}) == _count(store, KAGOSHIMA)


def test_export_then_import_round_trips(
    server: str, terminal: Terminal, token: Token, store: Store
) -> None:
    session, key = terminal(KAGOSHIMA), token(KAGOSHIMA)
    exported = session.get(
        f"{_base(server, KAGOSHIMA)}/records/export", headers=_auth(key), timeout=30
    ).text
    canary_rows = [r for r in csv.DictReader(io.StringIO(exported)) if r["family_kanji"] == "試験"]
    assert [r["dose_number"] for r in canary_rows] == ["1", "2", "3"]
    for row in canary_rows:
        del row["record_id"]
        row["my_number"] = residents.CANARY.my_number
    reply = _import(session, server, key, csv_file(canary_rows))
    assert reply.json() == {"result": "imported", "created": 0, "replaced": 1}


def test_c19_delete_with_another_municipalitys_credentials_is_refused(
    server: str, terminal: Terminal, token: Token, store: Store, center: requests.Session
) -> None:
    canary = residents.CANARY
    query = {
        "municipality_code": KAGOSHIMA,
        "my_number": canary.my_number,
        "name": canary.name_kanji,
        "birth_date": canary.birth_date.isoformat(),
        "certificate_kind": "domestic",
        "channel": "kiosk",
    }
    record_id = center.post(f"{server}/v1/records/query", json=query, timeout=10).json()[
        "record_id"
    ]
    kirishima_token = token(KIRISHIMA)
    # Kirishima's staff aims at Kagoshima's partition: refused by scope.
    refused = terminal(KIRISHIMA).delete(
        f"{_base(server, KAGOSHIMA)}/records/{record_id}",
        headers=_auth(kirishima_token),
        timeout=10,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "vrs_staff_scope_denied"
    # ... and through its own partition the record simply does not exist.
    missing = terminal(KIRISHIMA).delete(
        f"{_base(server, KIRISHIMA)}/records/{record_id}",
        headers=_auth(kirishima_token),
        timeout=10,
    )
    assert missing.status_code == 404
    assert center.post(f"{server}/v1/records/query", json=query, timeout=10).json()["result"] == (
        "match"
    )
    # The owner may delete it, and everything under it goes.
    deleted = terminal(KAGOSHIMA).delete(
        f"{_base(server, KAGOSHIMA)}/records/{record_id}",
        headers=_auth(token(KAGOSHIMA)),
        timeout=10,
    )
    assert deleted.status_code == 200
    assert center.post(f"{server}/v1/records/query", json=query, timeout=10).json() == {
        "result": "no_match"
    }
    with store.transaction(write=False) as conn:
        for table in schema.DATA_TABLES:
            rows = conn.execute(table.select().where(table.c.record_id == record_id)).all()
            assert rows == [], table.name


def test_staff_api_refuses_the_center_missing_tokens_and_roles(
    server: str, terminal: Terminal, token: Token, store: Store, center: requests.Session
) -> None:
    url = f"{_base(server, KAGOSHIMA)}/records/export"
    # Least privilege: the center's relay certificate cannot do staff work, even with a token.
    as_center = center.get(url, headers=_auth(token(KAGOSHIMA)), timeout=10)
    assert as_center.status_code == 403
    assert as_center.json()["error"]["code"] == "vrs_peer_not_allowed"
    no_token = terminal(KAGOSHIMA).get(url, timeout=10)
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] == "vrs_staff_token_required"
    forged = terminal(KAGOSHIMA).get(url, headers=_auth("vrs1.0123456789abcdef.nope"), timeout=10)
    assert forged.status_code == 401
    import_only = token(KAGOSHIMA, roles=("import",))
    no_role = terminal(KAGOSHIMA).get(url, headers=_auth(import_only), timeout=10)
    assert no_role.status_code == 403
    revocable = token(KAGOSHIMA)
    with store.transaction() as conn:
        assert store.revoke_token(conn, revocable.split(".")[1])
    revoked = terminal(KAGOSHIMA).get(url, headers=_auth(revocable), timeout=10)
    assert revoked.status_code == 401


def test_c15_c16_operation_log_and_provisions_without_pii(
    server: str, terminal: Terminal, token: Token, store: Store, center: requests.Session
) -> None:
    session, key = terminal(KAGOSHIMA), token(KAGOSHIMA)
    session.get(f"{_base(server, KAGOSHIMA)}/records/export", headers=_auth(key), timeout=30)
    for resident in (residents.CANARY, residents.get("elder")):
        center.post(
            f"{server}/v1/records/query",
            json={
                "municipality_code": KAGOSHIMA,
                "my_number": resident.my_number,
                "name": resident.name_kanji,
                "birth_date": resident.birth_date.isoformat(),
                "certificate_kind": "overseas",
                "channel": "app",
            },
            timeout=10,
        )
    terminal(KIRISHIMA).get(
        f"{_base(server, KAGOSHIMA)}/records/export", headers=_auth(token(KIRISHIMA)), timeout=10
    )
    operations = session.get(
        f"{_base(server, KAGOSHIMA)}/operations", headers=_auth(key), timeout=10
    ).json()["operations"]
    provisions = session.get(
        f"{_base(server, KAGOSHIMA)}/provisions", headers=_auth(key), timeout=10
    ).json()["provisions"]
    actions = [(o["actor_kind"], o["action"], o["outcome"]) for o in operations]
    assert ("staff", "export", "ok") in actions
    assert ("staff", "export", "denied") in actions  # Kirishima's attempt, logged (C15)
    # A center match is logged by its provision record, not by a second operation row.
    assert ("center", "query", "match") not in actions
    assert all(o["at"] and o["actor"] for o in operations)
    assert len(provisions) == 2 and {p["recipient"] for p in provisions} == {"cert-center"}
    everything = str(operations) + str(provisions)
    for resident in (residents.CANARY, residents.get("elder")):
        for value in resident.canary_values:
            assert value not in everything


@pytest.mark.parametrize("code", ["46201", "462013", "abcdef"])
def test_staff_api_invalid_municipality_code(
    server: str, terminal: Terminal, token: Token, code: str
) -> None:
    reply = terminal(KAGOSHIMA).get(
        f"{_base(server, code)}/records/export", headers=_auth(token(KAGOSHIMA)), timeout=10
    )
    assert reply.status_code == 422
