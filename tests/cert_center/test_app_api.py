"""The app API (電子交付) in process over a real VRS, signer and Redis: issuance, C06 refusals,
C02/C04/C07 at the API, MRZ checks, limits (docs/app-api.md)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app_client.client import AppApiRefusalError, DevPlatform, InstanceState
from cert_center.app import create_app
from launch.cli import main
from tests.support.app import AppRig, app_rig
from tests.support.center import PATIENCE
from vaxcert import attestation, passport, residents
from vaxcert.residents import CANARY, Passport
from vrs_stub import seed

CERTIFICATES = "/api/v1/app/certificates"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[AppRig]:
    limits = {"per_instance_limit": "1000/minute"}  # one instance makes most applications here
    with app_rig(tmp_path_factory.mktemp("app-api"), redis_url, app=limits) as rig:
        yield rig


def _code(excinfo: pytest.ExceptionInfo[AppApiRefusalError]) -> str:
    return excinfo.value.code


def _signed_post(
    rig: AppRig, state: InstanceState, body: bytes, *, challenge: str | None = None, **headers: str
) -> Any:
    assert state.instance_id is not None
    challenge = challenge or rig.client.challenge("apply", state.instance_id)
    signature = attestation.sign_request(state.key, "POST", CERTIFICATES, challenge, body)
    sent = {
        attestation.INSTANCE_HEADER: state.instance_id,
        attestation.CHALLENGE_HEADER: challenge,
        attestation.SIGNATURE_HEADER: signature,
        **headers,
    }
    return rig.rig.client.post(
        CERTIFICATES, data=body, headers=sent, content_type="application/json"
    )


# -- issuance ----------------------------------------------------------------------------------


def test_c22_domestic_issuance_returns_everything_the_app_keeps_and_never_the_my_number(
    rig: AppRig,
) -> None:
    issued = rig.client.apply(rig.instance(), rig.body())
    certificate = issued["certificate"]
    assert certificate["kind"] == "domestic"
    assert certificate["shc_qr_text"].startswith("shc:/")
    assert certificate["vdsnc"] is None
    assert issued["shc_jws"].count(".") == 2
    assert base64.b64decode(issued["pdf"]).startswith(b"%PDF-")
    assert base64.b64decode(issued["image_png"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert CANARY.my_number not in json.dumps(issued)  # C22


def test_overseas_with_the_passport_read_by_the_app(rig: AppRig) -> None:
    body = rig.body(kind="overseas", passport_mrz=passport.synthetic_td3(CANARY))
    certificate = rig.client.apply(rig.instance(), body)["certificate"]
    assert certificate["holder"]["name_roman"] == "SHIKEN HANAKO"
    assert certificate["holder"]["passport_number"] == "TZ9990001"
    assert json.loads(certificate["vdsnc"])["data"]["msg"]["uvci"] == certificate["certificate_id"]


def test_overseas_by_app_puts_the_passport_on_file_for_a_later_kiosk_application(
    rig: AppRig,
) -> None:
    person = residents.get("no-passport")
    fields = {name: getattr(person, name) for name in person.__dataclass_fields__}
    with_passport = residents.SyntheticResident(**{**fields, "passport": Passport("TZ9990066")})
    kiosk = create_app(rig.rig.settings, surface="kiosk_api").test_client()

    def at_kiosk() -> Any:
        body = {
            **rig.body("no-passport", kind="overseas"),
            "nonce": attestation.new_challenge(),
        }
        return kiosk.post(
            "/v1/kiosk/certificates",
            json=body,
            environ_base={"SSL_CLIENT_CERT": rig.rig.kiosk_pem},
        )

    assert at_kiosk().get_json()["error"]["code"] == "passport_not_on_file"
    body = rig.body(
        "no-passport", kind="overseas", passport_mrz=passport.synthetic_td3(with_passport)
    )
    issued = rig.client.apply(rig.instance(), body)["certificate"]
    assert issued["holder"]["passport_number"] == "TZ9990066"
    later = at_kiosk()
    assert later.status_code == 200, later.get_json()
    assert later.get_json()["holder"]["passport_number"] == "TZ9990066"


def test_same_refusals_as_the_kiosk_support_measure_is_counter_required(rig: AppRig) -> None:
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client.apply(rig.instance(), rig.body("support-measure"))
    assert _code(refused) == "counter_required"


def test_c07_no_consent_is_refused(rig: AppRig) -> None:
    body = rig.body(consent={"terms_version": "2022-07-26", "accepted": False})
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client.apply(rig.instance(), body)
    assert _code(refused) == "consent_required"


@pytest.mark.parametrize("field", ["my_number", "name", "free_text"])
def test_c02_c04_a_typed_my_number_or_any_unknown_field_is_refused(rig: AppRig, field: str) -> None:
    body = rig.body(**{field: CANARY.my_number})
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client.apply(rig.instance(), body)
    assert _code(refused) == "unknown_field"


def test_c03_a_tampered_card_is_refused(rig: AppRig) -> None:
    body = rig.body()
    raw = bytearray(base64.b64decode(body["card"]["ef0001"]))
    raw[5] ^= 0x01
    body["card"]["ef0001"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client.apply(rig.instance(), body)
    assert _code(refused).startswith("card_")


# -- MRZ ---------------------------------------------------------------------------------------


def _mrz_for(**changes: Any) -> str:
    fields = {name: getattr(CANARY, name) for name in CANARY.__dataclass_fields__}
    expiry = changes.pop("expiry", passport.SYNTHETIC_EXPIRY)
    return passport.synthetic_td3(residents.SyntheticResident(**{**fields, **changes}), expiry)


@pytest.mark.parametrize(
    ("mrz", "code"),
    [
        (passport.synthetic_td3(CANARY).replace("TZ9990001", "TZ9990002"), "mrz_invalid"),
        (_mrz_for(expiry=dt.date(2020, 1, 1)), "passport_expired"),
        (_mrz_for(given_roman="HANAE"), "passport_mismatch"),
        (_mrz_for(birth_date=dt.date(1980, 2, 18)), "passport_mismatch"),
    ],
    ids=["check-digit", "expired", "name", "birth-date"],
)
def test_mrz_is_checked(rig: AppRig, mrz: str, code: str) -> None:
    body = rig.body(kind="overseas", passport_mrz=mrz)
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client.apply(rig.instance(), body)
    assert _code(refused) == code


# -- C06: the genuine app only -----------------------------------------------------------------


def test_c06_no_attestation_is_401(rig: AppRig) -> None:
    response = rig.rig.client.post(CERTIFICATES, json=rig.body())
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "app_attestation_missing"


def _register_with(rig: AppRig, chain: list[str], challenge: str) -> str:
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client._call(
            "POST", "/api/v1/app/instances", {"challenge": challenge, "attestation": chain}
        )
    return _code(refused)


def test_c06_wrong_app_id_is_refused(rig: AppRig) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = rig.client.challenge("register")
    forged = DevPlatform(rig.rig.settings.pki_dir, "com.example.repackaged")
    assert _register_with(rig, forged(key.public_key(), challenge), challenge) == "app_id_mismatch"


def test_c06_attestation_from_another_ca_is_refused(rig: AppRig) -> None:
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vaxcert dev app attestation CA")])
    now = dt.datetime.now(dt.UTC)
    rogue = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rogue_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(rogue_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = rig.client.challenge("register")
    chain = attestation.dev_attestation(
        rogue, rogue_key, key.public_key(), rig.rig.settings.center.app.app_id, challenge
    )
    assert _register_with(rig, chain, challenge) == "app_attestation_invalid"


def test_c06_stale_attestation_is_refused(rig: AppRig) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = rig.client.challenge("register")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=8)  # within validity, past max age
    chain = attestation.dev_attestation(
        rig.platform.cert, rig.platform.key, key.public_key(), rig.platform.app_id, challenge, old
    )
    assert _register_with(rig, chain, challenge) == "app_attestation_stale"


def test_c06_attestation_for_another_challenge_is_refused(rig: AppRig) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = rig.client.challenge("register")
    other = rig.client.challenge("register")
    chain = rig.platform(key.public_key(), other)
    assert _register_with(rig, chain, challenge) == "app_attestation_invalid"


def test_c06_unknown_instance_is_refused(rig: AppRig, tmp_path: Path) -> None:
    state = InstanceState.load_or_create(tmp_path / "never-registered")
    state.instance_id = attestation.instance_id(state.key.public_key())
    with pytest.raises(AppApiRefusalError) as refused:
        rig.client.challenge("apply", state.instance_id)
    assert _code(refused) == "app_instance_unknown"
    # Nor can it sign with a challenge issued to someone else.
    other = rig.instance("other-phone")
    assert other.instance_id is not None
    challenge = rig.client.challenge("apply", other.instance_id)
    response = _signed_post(rig, state, json.dumps(rig.body()).encode(), challenge=challenge)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "app_instance_unknown"


def test_c06_revoked_instance_is_refused_on_every_replica(rig: AppRig, redis_url: str) -> None:
    state = rig.instance("to-revoke")
    assert state.instance_id is not None
    settings = rig.rig.settings
    env = {"VAXCERT_REDIS_URL": redis_url, "VAXCERT_REDIS_PREFIX": settings.redis_prefix}
    result = CliRunner().invoke(main, ["app", "instance", "revoke", state.instance_id], env=env)
    assert result.exit_code == 0, result.output
    # Another replica: a second app over the same Redis.
    replica = create_app(settings, surface="app_api").test_client()
    for client in (rig.rig.client, replica):
        response = client.post(
            "/api/v1/app/challenges", json={"purpose": "apply", "instance_id": state.instance_id}
        )
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "app_instance_revoked"
    # Registering the same key again does not bring it back.
    challenge = rig.client.challenge("register")
    chain = rig.platform(state.key.public_key(), challenge)
    assert _register_with(rig, chain, challenge) == "app_instance_revoked"


def test_c06_reused_challenge_is_refused(rig: AppRig) -> None:
    state = rig.instance()
    assert state.instance_id is not None
    body = json.dumps(rig.body()).encode()
    challenge = rig.client.challenge("apply", state.instance_id)
    assert _signed_post(rig, state, body, challenge=challenge).status_code == 200
    again = _signed_post(rig, state, body, challenge=challenge)
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "app_challenge_reused"


def test_c06_expired_or_unknown_challenge_is_refused(rig: AppRig, redis_url: str) -> None:
    state = rig.instance()
    assert state.instance_id is not None
    challenge = rig.client.challenge("apply", state.instance_id)
    # Expiry is Redis's TTL; evicting the key is the same state without waiting for it.
    client = redis.Redis.from_url(redis_url)
    digest = attestation.challenge_digest(challenge).hex()
    assert client.delete(f"{rig.rig.settings.redis_prefix}center:app:challenge:{digest}") == 1
    response = _signed_post(rig, state, json.dumps(rig.body()).encode(), challenge=challenge)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "app_challenge_invalid"
    made_up = attestation.new_challenge()
    response = _signed_post(rig, state, json.dumps(rig.body()).encode(), challenge=made_up)
    assert response.get_json()["error"]["code"] == "app_challenge_invalid"


def test_c06_challenge_of_another_instance_is_refused(rig: AppRig) -> None:
    mine, theirs = rig.instance(), rig.instance("other-phone")
    assert theirs.instance_id is not None
    challenge = rig.client.challenge("apply", theirs.instance_id)
    response = _signed_post(rig, mine, json.dumps(rig.body()).encode(), challenge=challenge)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "app_challenge_invalid"


def test_c06_a_changed_body_is_refused_and_does_not_burn_the_challenge(rig: AppRig) -> None:
    state = rig.instance()
    assert state.instance_id is not None
    signed = json.dumps(rig.body()).encode()
    sent = json.dumps(rig.body(municipality_code="462187")).encode()
    challenge = rig.client.challenge("apply", state.instance_id)
    signature = attestation.sign_request(state.key, "POST", CERTIFICATES, challenge, signed)
    headers = {
        attestation.INSTANCE_HEADER: state.instance_id,
        attestation.CHALLENGE_HEADER: challenge,
        attestation.SIGNATURE_HEADER: signature,
    }
    response = rig.rig.client.post(
        CERTIFICATES, data=sent, headers=headers, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "app_signature_invalid"
    assert _signed_post(rig, state, signed, challenge=challenge).status_code == 200


def test_c06_a_signature_by_another_key_is_refused(rig: AppRig) -> None:
    state = rig.instance()
    impostor = InstanceState(state.directory, ec.generate_private_key(ec.SECP256R1()))
    impostor.instance_id = state.instance_id
    response = _signed_post(rig, impostor, json.dumps(rig.body()).encode())
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "app_signature_invalid"


# -- limits ------------------------------------------------------------------------------------


def test_rate_limit_per_instance_answers_429_with_retry_after(
    tmp_path: Path, redis_url: str
) -> None:
    with app_rig(tmp_path, redis_url, app={"per_instance_limit": "3/minute"}) as rig:
        state = rig.instance()
        assert state.instance_id is not None
        statuses = []
        for _ in range(4):
            response = rig.rig.client.post(
                "/api/v1/app/challenges",
                json={"purpose": "apply", "instance_id": state.instance_id},
                headers={attestation.INSTANCE_HEADER: state.instance_id},
            )
            statuses.append(response.status_code)
        assert statuses == [201, 201, 201, 429]
        assert response.get_json()["error"]["code"] == "rate_limited"
        # The rest of the breached minute, read from the shared counter.
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        # No X-RateLimit-* headers: they cost two Redis round trips per request (limits.py).
        assert not [name for name, _ in response.headers if name.startswith("X-RateLimit")]


# -- overload ----------------------------------------------------------------------------------


def test_under_overload_an_application_gets_its_record_or_a_fast_503_never_an_empty_one(
    tmp_path: Path, redis_url: str
) -> None:
    admission = {"concurrency": 1, "queue": 0, "retry_after_seconds": 3, "deadline_seconds": 50}
    with app_rig(
        tmp_path,
        redis_url,
        relay_timeout_seconds=40.0,
        app={"admission": admission, "per_instance_limit": "1000/minute"},
    ) as rig:
        state, other = rig.instance(), rig.instance("other-phone")
        rig.rig.signer.mode = "stalled"
        answers: list[Any] = []
        admitted = threading.Thread(
            target=lambda: answers.append(
                _signed_post(rig, state, json.dumps(rig.body()).encode())
            ),
            daemon=True,
        )
        admitted.start()
        try:
            assert rig.rig.signer.entered.wait(PATIENCE), (
                "the admitted one never reached the signer"
            )
            vrs_calls = rig.rig.vrs.calls
            assert other.instance_id is not None
            challenge = rig.client.challenge("apply", other.instance_id)
            refused = _signed_post(rig, other, json.dumps(rig.body()).encode(), challenge=challenge)
            assert admitted.is_alive()  # answered while the admitted one is still held
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "3"
            assert refused.get_json()["error"]["code"] == "overloaded"
            assert rig.rig.vrs.calls == vrs_calls  # nothing of it ran...
        finally:
            rig.rig.signer.released.set()
        admitted.join(PATIENCE)
        (answer,) = answers
        assert answer.status_code == 200
        assert answer.get_json()["certificate"]["doses"]
        # ...not even its challenge: the app retries with the same one.
        rig.rig.signer.mode = "up"
        retried = _signed_post(rig, other, json.dumps(rig.body()).encode(), challenge=challenge)
        assert retried.status_code == 200


def test_c06_garbage_and_foreign_keys_are_invalid_statements(rig: AppRig) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    challenge = rig.client.challenge("register")
    assert (
        _register_with(rig, rig.platform(p384.public_key(), challenge), challenge)
        == "app_attestation_invalid"
    )
    for chain in (["bm90IGEgY2VydGlmaWNhdGU="], ["%%%"], [base64.b64encode(b"0" * 300).decode()]):
        challenge = rig.client.challenge("register")
        assert _register_with(rig, chain, challenge) == "app_attestation_invalid"


def test_after_a_new_dose_the_app_applies_again_and_gets_a_new_certificate_with_it(
    tmp_path: Path, redis_url: str
) -> None:
    """Nothing server-side to update or list: the resident applies again (the real app's 再発行)."""
    with app_rig(tmp_path, redis_url) as rig:
        state = rig.instance()
        before = rig.client.apply(state, rig.body("no-passport"))["certificate"]
        record = next(
            r
            for r in seed.edge_case_records()
            if r.identity.my_number == residents.get("no-passport").my_number
            and r.municipality_code == "462012"
        )
        last = max(
            (v for v in record.vaccinations if v.vaccinated_on is not None),
            key=lambda v: v.dose_number,
        )
        assert last.vaccinated_on is not None
        new_dose = dataclasses.replace(
            last,
            dose_number=last.dose_number + 1,
            vaccinated_on=last.vaccinated_on + dt.timedelta(days=200),
            lot_number="NEW0001",
        )
        updated = dataclasses.replace(record, vaccinations=[*record.vaccinations, new_dose])
        with rig.rig.store.transaction() as conn:
            partition = rig.rig.store.partition(conn, "462012")
            assert partition is not None
            partition.replace(updated)
        after = rig.client.apply(state, rig.body("no-passport"))["certificate"]
        assert after["certificate_id"] != before["certificate_id"]
        assert len(after["doses"]) == len(before["doses"]) + 1
        assert after["doses"][-1]["lot"] == "NEW0001"


def test_rate_limit_per_source_address_behind_a_trusted_edge(
    tmp_path: Path, redis_url: str
) -> None:
    """Behind nginx every request comes from the edge: the limit counts the address it forwards,
    and only a trusted edge is believed."""
    with app_rig(tmp_path, redis_url, app={"per_address_limit": "2/minute"}) as rig:
        client = rig.rig.client
        settings = rig.rig.settings
        trusted = create_app(
            settings.model_copy(
                update={"tls": settings.tls.model_copy(update={"trusted_proxies": ["10.0.0.1/32"]})}
            ),
            surface="app_api",
        ).test_client()

        def challenge(via: Any, edge: str, source: str) -> int:
            response = via.post(
                "/api/v1/app/challenges",
                json={"purpose": "register"},
                headers={"X-Forwarded-For": source},
                environ_base={"REMOTE_ADDR": edge},
            )
            return int(response.status_code)

        # Through the trusted edge: each resident's address has its own two a minute.
        assert [challenge(trusted, "10.0.0.1", "198.51.100.7") for _ in range(3)] == [201, 201, 429]
        assert challenge(trusted, "10.0.0.1", "198.51.100.8") == 201
        # Not from the edge: the header is ignored, the connection's address counts.
        assert [challenge(client, "192.0.2.9", f"203.0.113.{i}") for i in range(3)] == [
            201,
            201,
            429,
        ]


def test_a_shared_store_outage_is_a_503_with_retry_after_and_no_internal_detail(
    rig: AppRig,
) -> None:
    # The app API is reached by anyone: it says when to come back, and what failed inside is for
    # the logs only ("redis: ConnectionError" told a stranger how the center is built).
    settings = rig.rig.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    client = create_app(settings, surface="app_api").test_client()
    response = client.post("/api/v1/app/challenges", json={"purpose": "register"})
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable"
    assert "detail" not in error
    assert int(response.headers["Retry-After"]) > 0
