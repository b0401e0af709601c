"""The app API end to end with real processes: VRS, signer, the center's app API (TLS) and Redis
started by launch/stack.py, and `vaxcert app-client` as its own process playing the app. The
certificates it writes are checked with our verifier and against the signer's golden layouts;
then nothing of the canary may be found in the app API's logs, files, Redis or memory (C08)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_client.client import (
    AppApiRefusalError,
    AppClient,
    DevPlatform,
    HttpsTransport,
    InstanceState,
)
from launch.stack import APP_PROCESSES, ISSUER, Stack, remove, start_stack
from tests.support.canary import assert_nothing_kept, canary_values
from vaxcert import passport, pki, tls
from vaxcert.card import cards
from vaxcert.card.harness import Pcscd
from vaxcert.formats import shc, vdsnc
from vaxcert.residents import CANARY, RESIDENTS
from verifier import verify, verify_all
from verifier.dev_trust import dev_trust_store

GOLDENS = Path(__file__).parents[1] / "signer" / "goldens" / "layouts.json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    started = start_stack(
        tmp_path_factory.mktemp("app-e2e"), processes=APP_PROCESSES, redis_url=redis_url
    )
    try:
        yield started
    finally:
        remove(started)


def app_client(stack: Stack, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`vaxcert app-client …` as its own process; (exit status, its one JSON line)."""
    done = subprocess.run(
        [sys.executable, "-m", "launch.cli", "app-client", "--out", str(out), *args],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return done.returncode, json.loads(lines[-1])


def _shape(value: Any) -> Any:
    """The structure of a JSON value with its leaves reduced to their types."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _goldens() -> dict[str, Any]:
    layouts: dict[str, Any] = json.loads(GOLDENS.read_text(encoding="utf-8"))
    return layouts


def test_domestic_through_the_app_verifies_and_has_the_golden_layout(
    stack: Stack, tmp_path: Path
) -> None:
    status, line = app_client(
        stack, tmp_path, "--resident", "canary", "--pin", "1234",
        "--municipality", "462012", "--kind", "domestic",
    )  # fmt: skip
    assert (status, line["outcome"], line["reason"]) == (0, "issued", None), line
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "certificate.pdf", "certificate.png", "shc.txt"
    ]  # fmt: skip
    trust = dev_trust_store(stack.pki_dir, ISSUER)
    text = (tmp_path / "shc.txt").read_text().strip()
    result = verify(text, trust)
    assert result.valid, result.reasons
    assert result.birth_date == CANARY.birth_date.isoformat()
    # The saved image carries the same code, readable by a verifier's camera.
    from_image = verify_all((tmp_path / "certificate.png").read_bytes(), trust)
    assert [r.valid for r in from_image] == [True]
    payload = shc.parse_payload(shc.inflate_raw(base64.urlsafe_b64decode(
        shc.split_jws(shc.numeric_to_jws(text)).payload_b64 + "=="
    )))  # fmt: skip
    doses = len(payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]) - 1
    golden = _goldens()[f"domestic-{doses}-doses"]["shc_payload"]
    assert _shape(payload) == _shape(golden)
    names = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"]
    assert names == golden["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"]


def test_overseas_through_the_app_verifies_in_both_formats(stack: Stack, tmp_path: Path) -> None:
    status, line = app_client(
        stack, tmp_path, "--resident", "canary", "--pin", "1234",
        "--municipality", "462012", "--kind", "overseas",
    )  # fmt: skip
    assert (status, line["outcome"]) == (0, "issued"), line
    trust = dev_trust_store(stack.pki_dir, ISSUER)
    shc_result = verify((tmp_path / "shc.txt").read_text().strip(), trust)
    document = (tmp_path / "vdsnc.json").read_text().strip()
    vdsnc_result = verify(document, trust)
    assert shc_result.valid and vdsnc_result.valid, (shc_result.reasons, vdsnc_result.reasons)
    data = json.loads(vdsnc.canonical(vdsnc.parse(document).data))
    golden = _goldens()[f"overseas-{len(data['msg']['ve'])}-doses"]["vdsnc_data"]
    assert _shape(data) == _shape(golden)
    assert data["msg"]["pid"]["n"] == golden["msg"]["pid"]["n"]  # the MRZ's roman name
    assert data["msg"]["uvci"] == line["certificate_id"]


def test_the_instance_is_registered_once_and_a_given_mrz_file_is_used(
    stack: Stack, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    mrz = tmp_path / "mrz.txt"
    mrz.write_text(passport.synthetic_td3(CANARY).replace("TZ9990001", "TZ9990009") + "\n")
    common = ["--resident", "canary", "--pin", "1234", "--municipality", "462012"]
    first = app_client(
        stack, tmp_path / "a", *common, "--kind", "domestic", "--state-dir", str(state)
    )
    instance = json.loads((state / "instance.json").read_text())["instance_id"]
    # A check digit no longer holds: the app's scan is refused, exit 1.
    second = app_client(
        stack, tmp_path / "b", *common, "--kind", "overseas", "--mrz", str(mrz),
        "--state-dir", str(state),
    )  # fmt: skip
    assert first[0] == 0 and second == (1, {**second[1], "outcome": "refused"})
    assert second[1]["reason"] == "mrz_invalid"
    assert json.loads((state / "instance.json").read_text())["instance_id"] == instance


def test_a_wrong_pin_is_refused_before_anything_is_sent(stack: Stack, tmp_path: Path) -> None:
    status, line = app_client(
        stack, tmp_path, "--resident", "elder", "--pin", "0000",
        "--municipality", "462012", "--kind", "domestic",
    )  # fmt: skip
    assert (status, line["reason"]) == (1, "pin_incorrect")
    assert not (tmp_path / "certificate.pdf").exists()


def test_c08_nothing_of_the_canary_is_kept_by_the_app_api(stack: Stack, tmp_path: Path) -> None:
    for index, kind in enumerate(["domestic", "overseas", "domestic"]):
        status, _ = app_client(
            stack, tmp_path / str(index), "--resident", "canary", "--pin", "1234",
            "--municipality", "462012", "--kind", kind,
        )  # fmt: skip
        assert status == 0
    canaries = [*canary_values(), passport.synthetic_td3(CANARY)]
    keys = assert_nothing_kept(stack, canaries)
    # The scan looked where the app API writes: instances, challenges, rate-limit counters.
    assert any(b":app:instance:" in key for key in keys)
    assert any(b"app-limits" in key for key in keys)


def _kiosk_answer(stack: Stack, body: dict[str, Any]) -> tuple[str, list[Any]]:
    session = tls.client_session(
        pki.cert_path(stack.pki_dir, "dedicated-ca"),
        pki.cert_path(stack.pki_dir, "kiosk-KIOSK-0001"),
        pki.key_path(stack.pki_dir, "kiosk-KIOSK-0001"),
    )
    with session:
        response = session.post(
            stack.settings.url("center_kiosk_api") + "/v1/kiosk/certificates",
            json={**body, "nonce": secrets.token_urlsafe(24)},
            timeout=60,
        )
    data = response.json()
    if response.status_code != 200:
        return data["error"]["code"], []
    return "issued", [(d["dose_number"], d["date"], d["lot"]) for d in data["doses"]]


def _app_answer(
    client: AppClient, state: InstanceState, body: dict[str, Any]
) -> tuple[str, list[Any]]:
    try:
        issued = client.apply(state, body)
    except AppApiRefusalError as refusal:
        return refusal.code, []
    doses = issued["certificate"]["doses"]
    return "issued", [(d["dose_number"], d["date"], d["lot"]) for d in doses]


def test_every_resident_gets_at_the_app_what_the_kiosk_gives(stack: Stack, tmp_path: Path) -> None:
    """Same pipeline, same rules, same codes: each synthetic resident (and each municipality of
    the one vaccinated in two) gets the same outcome and the same doses through both channels;
    for 海外用 the app brings the passport the kiosk needs on file."""
    settings = stack.settings
    client = AppClient(
        HttpsTransport(settings.url("center_app_api"), pki.cert_path(stack.pki_dir, "public-ca"))
    )
    state = InstanceState.load_or_create(tmp_path / "phone")
    client.register(state, DevPlatform(stack.pki_dir, settings.center.app.app_id))
    issuer = cards.CardIssuer.from_pki(stack.pki_dir)
    consent = {"terms_version": settings.center.terms_version, "accepted": True}
    compared = []
    for resident in RESIDENTS.values():
        codes = {
            resident.municipality_code,
            *(["462012"] if resident.key == "two-municipalities" else []),
        }
        for code in sorted(codes):
            body = {
                "consent": consent,
                "kind": "domestic",
                "municipality_code": code,
                "card": cards.card_files(resident.key, issuer).to_json(),
            }
            app = _app_answer(client, state, body)
            assert app == _kiosk_answer(stack, body), (resident.key, code)
            compared.append((resident.key, code, app[0], len(app[1])))
            if resident.passport is not None and app[0] == "issued":
                overseas = {**body, "kind": "overseas"}
                app_overseas = _app_answer(
                    client, state, {**overseas, "passport_mrz": passport.synthetic_td3(resident)}
                )
                assert app_overseas == _kiosk_answer(stack, overseas), (resident.key, "overseas")
    issued = {key for key, _, outcome, _ in compared if outcome == "issued"}
    assert {"canary", "elder", "kirishima", "two-municipalities", "no-passport"} <= issued
    # The resident vaccinated in two places: Kirishima's certificate (doses 3-5); in Kagoshima
    # City the record says moved out, which both channels send to the counter alike.
    two = {
        code: (outcome, doses)
        for key, code, outcome, doses in compared
        if key == "two-municipalities"
    }
    assert two == {"462187": ("issued", 3), "462012": ("counter_required", 0)}


@pytest.mark.pcsc
def test_pcsc_reader_issues_through_pcscd(stack: Stack, pcscd: Pcscd, tmp_path: Path) -> None:
    status, line = app_client(
        stack, tmp_path, "--resident", "elder", "--pin", "5678",
        "--municipality", "462012", "--kind", "domestic", "--reader", "pcsc",
    )  # fmt: skip
    assert (status, line["outcome"]) == (0, "issued"), line
    assert (tmp_path / "certificate.png").is_file()
