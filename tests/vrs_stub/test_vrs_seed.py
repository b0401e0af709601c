"""Synthetic data, municipality codes and the `vaxcert vrs` commands."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from launch.cli import main
from vaxcert import lgcode, mynumber, residents, vaccines
from vaxcert.config import Settings
from vrs_stub import seed
from vrs_stub.store import Store


@pytest.mark.parametrize("code", ["462012", "462187", "131016", "401307", "011002"])
def test_known_municipality_codes_are_valid(code: str) -> None:
    assert lgcode.is_valid(code)


@pytest.mark.parametrize("code", ["462013", "46201", "4620120", "４６２０１２", "002011", "992012"])
def test_bad_municipality_codes_are_invalid(code: str) -> None:
    assert not lgcode.is_valid(code)


def test_every_kagoshima_code_has_a_valid_check_digit() -> None:
    assert len(lgcode.KAGOSHIMA) == 43
    assert all(lgcode.is_valid(code) for code in lgcode.KAGOSHIMA)


def test_synthetic_residents_are_deterministic_and_plausible() -> None:
    population = seed.Population.of(list(lgcode.KAGOSHIMA))
    first = [seed.synthetic_person(i, 1, population) for i in range(300)]
    again = [seed.synthetic_person(i, 1, population) for i in range(300)]
    other = [seed.synthetic_person(i, 2, population) for i in range(300)]
    assert [dataclasses.asdict(p) for p in first] == [dataclasses.asdict(p) for p in again]
    assert [p.identity for p in first] != [p.identity for p in other]
    numbers = {p.identity.my_number for p in first}
    assert len(numbers) == 300 and all(mynumber.is_valid(n) for n in numbers)
    edge_numbers = {r.my_number for r in residents.RESIDENTS.values()}
    assert not numbers & edge_numbers
    for person in first:
        doses = person.vaccinations
        assert [d.dose_number for d in doses] == list(range(1, len(doses) + 1))
        assert len(doses) <= 7
        days = [d.vaccinated_on for d in doses]
        assert days == sorted(days)
        for dose in doses:
            assert dose.vaccinated_on is not None and dose.product_key is not None
            product = vaccines.VRS_PRODUCTS[dose.product_key]
            assert product.first_used <= dose.vaccinated_on <= product.last_used
            assert dt.date(2021, 2, 17) <= dose.vaccinated_on <= dt.date(2024, 3, 31)
            assert dose.lot_number and len(dose.lot_number) <= 20
        assert person.identity.family_kana and person.identity.address.startswith("鹿児島県")
    # Kagoshima City is the biggest partition.
    codes = [p.municipality_code for p in first]
    assert max(set(codes), key=codes.count) == lgcode.KAGOSHIMA_CITY


def test_edge_cases_match_the_cards() -> None:
    records = seed.edge_case_records()
    keys = {r.key for r in residents.RESIDENTS.values()}
    numbers = {r.identity.my_number for r in records}
    assert numbers == {residents.get(k).my_number for k in keys}
    two = [
        r for r in records if r.identity.my_number == residents.get("two-municipalities").my_number
    ]
    assert {r.municipality_code for r in two} == {lgcode.KAGOSHIMA_CITY, lgcode.KIRISHIMA_CITY}


def test_cli_lists_the_vrs_group() -> None:
    result = CliRunner().invoke(main, ["vrs", "--help"])
    assert result.exit_code == 0
    for command in ("seed", "migrate", "keys", "staff"):
        assert command in result.output


def test_cli_seed_into_sqlite_then_refuse_a_second_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAXCERT_VRS__DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'seeded.sqlite3'}"
    runner = CliRunner()
    args = ["vrs", "seed", "--municipalities", "462012,462187", "--residents", "120", "--db", url]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "seeded 120 residents and 11 edge-case records in 2 municipalities" in first.output
    second = runner.invoke(main, args)
    assert second.exit_code != 0 and "--reset" in second.output
    third = runner.invoke(main, [*args, "--reset"])
    assert third.exit_code == 0, third.output
    bad = runner.invoke(main, ["vrs", "seed", "--municipalities", "462013"])
    assert bad.exit_code != 0 and "check digit" in bad.output


def test_cli_seed_into_postgresql(
    pg_store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_store = pg_store
    monkeypatch.setenv("VAXCERT_VRS__DATA_DIR", str(settings.vrs.data_dir))
    url = empty_store.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        ["vrs", "seed", "--residents", "50", "--db", url, "--schema", str(empty_store.db_schema)],
    )
    assert result.exit_code == 0, result.output
    with empty_store.transaction(write=False) as conn:
        assert len(empty_store.municipality_codes(conn)) == 43
        partition = empty_store.partition(conn, lgcode.KAGOSHIMA_CITY)
        assert partition is not None and partition.lookup(residents.CANARY.my_number, True)


def test_cli_staff_token_and_key_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_VRS__DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    seeded = runner.invoke(main, ["vrs", "seed", "--municipalities", "462012", "--residents", "10"])
    assert seeded.exit_code == 0, seeded.output
    issued = runner.invoke(
        main, ["vrs", "staff", "issue-token", "--municipality", "462012", "--staff-id", "s1"]
    )
    assert issued.exit_code == 0 and issued.output.startswith("vrs1.")
    token_id = issued.output.split(".")[1]
    assert runner.invoke(main, ["vrs", "staff", "revoke-token", token_id]).exit_code == 0
    rotated = runner.invoke(main, ["vrs", "keys", "rotate", "--municipality", "462012"])
    assert rotated.exit_code == 0 and "re-encrypted 19 records" in rotated.output
    new_key = tmp_path / "new.key"
    assert runner.invoke(main, ["vrs", "keys", "new-master", str(new_key)]).exit_code == 0
    rewrap = runner.invoke(main, ["vrs", "keys", "rewrap", "--new-master-key-file", str(new_key)])
    assert rewrap.exit_code == 0, rewrap.output
    stale = runner.invoke(main, ["vrs", "migrate"])
    assert stale.exit_code != 0 and "VAXCERT_VRS__MASTER_KEY" in stale.output
    monkeypatch.setenv("VAXCERT_VRS__MASTER_KEY_FILE", str(new_key))
    assert runner.invoke(main, ["vrs", "migrate"]).exit_code == 0


def test_parallel_seed_equals_in_process_seed(settings: Settings, tmp_path: Path) -> None:
    stores = []
    for name, workers in (("serial", 0), ("parallel", 2)):
        store = Store.from_settings(settings, f"sqlite:///{tmp_path / name}.sqlite3")
        store.migrate()
        seed.seed(store, ["462012", "462187"], 60, 5, False, chunk=20, workers=workers)
        stores.append(store)
    contents = []
    for store in stores:
        with store.transaction(write=False) as conn:
            records = []
            for code in ("462012", "462187"):
                partition = store.partition(conn, code)
                assert partition is not None
                records += [dataclasses.asdict(r) for r in partition.iter_records()]
        contents.append(records)
        store.dispose()
    assert len(contents[0]) == 60 and contents[0] == contents[1]


def test_cli_terminal_cert_refuses_the_relay_clients_name(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["vrs", "staff", "terminal-cert", "--dir", str(tmp_path)]
    refused = runner.invoke(main, [*args, "cert-center"])
    assert refused.exit_code != 0 and "relay client" in refused.output
    assert not list(tmp_path.iterdir())
