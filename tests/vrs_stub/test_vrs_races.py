"""Racing repeats of the same call (a center retry, two staff members importing the same file):
every caller gets a clear answer, never a 500, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tests.vrs_stub.test_vrs_staff import _csv, _line
from vaxcert import residents
from vaxcert.errors import VaxcertError
from vaxcert.municipality import KAGOSHIMA_CITY as KAGOSHIMA
from vrs_stub.models import Passport, PassportRequest, QueryMatch, QueryRequest
from vrs_stub.services import Caller, RelayService, StaffService
from vrs_stub.store import StaffPrincipal, Store

T = TypeVar("T")
RACERS = 4


def _race(call: Callable[[], T]) -> list[T | str]:
    """Run ``call`` from RACERS threads released at once; refusals come back as their code."""
    start = threading.Barrier(RACERS)

    def one(_: int) -> T | str:
        start.wait()
        try:
            return call()
        except VaxcertError as refusal:
            return refusal.code

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


def test_racing_passport_calls_all_succeed(store: Store) -> None:
    service = RelayService(store)
    caller = Caller("cert-center", "race-passport")
    resident = residents.get("no-passport")
    match = service.query(
        QueryRequest(
            municipality_code=KAGOSHIMA,
            my_number=resident.my_number,
            name=resident.name_kanji,
            birth_date=resident.birth_date,
            certificate_kind="domestic",
            channel="app",
        ),
        caller,
    )
    assert isinstance(match, QueryMatch)
    request = PassportRequest(
        municipality_code=KAGOSHIMA,
        record_id=match.record_id,
        passport=Passport(
            family_roman="SHIKEN", given_roman="HANAKO", nationality="JPN", number="TZ1234567"
        ),
    )
    results = _race(lambda: service.store_passport(request, caller).result)
    assert results == ["stored"] * RACERS


def test_racing_imports_of_the_same_person_never_fail_with_a_500(store: Store) -> None:
    service = StaffService(store)
    principal = StaffPrincipal("t1", KAGOSHIMA, "staff-1", frozenset({"import"}))
    data = _csv([_line()])
    results = _race(lambda: service.import_csv(principal, KAGOSHIMA, data, Caller("t", "r")))
    # The first creates the person; each later one replaces it or, when it checked before the
    # first committed, is refused as a whole with a code of its own.
    assert {"created": 1, "replaced": 0} in results
    for result in results:
        assert result in ({"created": 1, "replaced": 0}, {"created": 0, "replaced": 1}) or (
            result == "vrs_import_conflict"
        )
