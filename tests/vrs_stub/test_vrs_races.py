"""Racing repeats of the same call (a center retry, two staff members importing the same file):
every caller gets a clear answer, never a 500, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tests.support.vrs_csv import csv_file, csv_line
from vaxcert import residents
from vaxcert.contracts.vrs_relay import (
    IssuanceRequest,
    Passport,
    PassportRequest,
    QueryMatch,
    QueryRequest,
)
from vaxcert.errors import VaxcertError
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vrs_stub import schema
from vrs_stub.services import Caller, RelayService, StaffService
from vrs_stub.store import StaffPrincipal, Store

T = TypeVar("T")
RACERS = 4


def _race(call: Callable[[], T], racers: int = RACERS) -> list[T | str]:
    """Run ``call`` from ``racers`` threads released at once; refusals come back as their code."""
    start = threading.Barrier(racers)

    def one(_: int) -> T | str:
        start.wait()
        try:
            return call()
        except VaxcertError as refusal:
            return refusal.code

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(one, range(racers)))


def _record_id(service: RelayService, resident: residents.SyntheticResident, caller: Caller) -> str:
    match = service.query(
        QueryRequest(
            municipality_code=KAGOSHIMA,
            my_number=resident.my_number,
            name=resident.name_kanji,
            birth_date=resident.birth_date,
            certificate_kind="domestic",
            channel="kiosk",
        ),
        caller,
    )
    assert isinstance(match, QueryMatch)
    return match.record_id


def test_c20_concurrent_repeats_of_one_issuance_record_it_once(store: Store) -> None:
    """The center retries a timed-out issuance call: racing repeats all succeed, one row."""
    service = RelayService(store)
    caller = Caller("cert-center", "race")
    request = IssuanceRequest(
        municipality_code=KAGOSHIMA,
        record_id=_record_id(service, residents.CANARY, caller),
        certificate_id="JPRACE000001",
        issued_on=dt.date(2024, 1, 5),
        certificate_kind="domestic",
        channel="kiosk",
    )
    results = _race(lambda: service.record_issuance(request, caller).result, racers=8)
    assert sorted(results) == ["already_recorded"] * 7 + ["recorded"]
    with store.transaction(write=False) as conn:
        rows = conn.execute(
            schema.issuance.select().where(schema.issuance.c.certificate_id == "JPRACE000001")
        ).all()
        logged = conn.execute(
            schema.operation.select().where(
                schema.operation.c.action == "issuance",
                schema.operation.c.request_id == "race",
            )
        ).all()
    assert len(rows) == 1 and len(logged) == 1


def test_racing_passport_calls_all_succeed(store: Store) -> None:
    service = RelayService(store)
    caller = Caller("cert-center", "race-passport")
    request = PassportRequest(
        municipality_code=KAGOSHIMA,
        record_id=_record_id(service, residents.get("no-passport"), caller),
        passport=Passport(
            family_roman="SHIKEN", given_roman="HANAKO", nationality="JPN", number="TZ1234567"
        ),
    )
    results = _race(lambda: service.store_passport(request, caller).result)
    assert results == ["stored"] * RACERS


def test_racing_imports_of_the_same_person_never_fail_with_a_500(store: Store) -> None:
    service = StaffService(store)
    principal = StaffPrincipal("t1", KAGOSHIMA, "staff-1", frozenset({"import"}))
    data = csv_file([csv_line()])
    results = _race(lambda: service.import_csv(principal, KAGOSHIMA, data, Caller("t", "r")))
    # The first creates the person; each later one replaces it or, when it checked before the
    # first committed, is refused as a whole with a code of its own.
    assert {"created": 1, "replaced": 0} in results
    for result in results:
        assert result in ({"created": 1, "replaced": 0}, {"created": 0, "replaced": 1}) or (
            result == "vrs_import_conflict"
        )
