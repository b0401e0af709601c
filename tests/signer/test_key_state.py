"""The key life cycle over the state directory: init, rotation, revocation, compromise."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509

from signer.services import SignerService
from tests.signer.conftest import SettingsFactory, verify_shc, verify_vdsnc
from tests.signer.test_vdsnc_issue import check_csca_crl
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.formats import shc


def test_init_adopts_the_dev_pki_keys_once(service: SignerService, pki_dir: Path) -> None:
    state = service.store.load()
    assert state.shc_keys[0].key.path == str(pki_dir / "shc-issuer.key.pem")
    assert state.bsc_keys[0].key.path == str(pki_dir / "vdsnc-bsc.key.pem")
    # The dev key is certified anew with our document signer profile, beside the state.
    dev_bsc = x509.load_der_x509_certificate((pki_dir / "vdsnc-bsc.der").read_bytes())
    bsc = x509.load_der_x509_certificate(
        service.store.path(state.bsc_keys[0].certificate).read_bytes()
    )
    assert bsc.public_key() == dev_bsc.public_key() and bsc.serial_number != dev_bsc.serial_number
    assert bsc.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod) is not None
    assert service.init() is False  # idempotent
    secret = service.store.secret_file
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(service.store.directory.stat().st_mode) == 0o700
    jwk = service.jwks()["keys"][0]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg", "x5c", "crlVersion"}
    leaf = x509.load_der_x509_certificate(base64.b64decode(jwk["x5c"][0]))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "https://127.0.0.1:8446/issuer"
    ]


def test_init_without_a_pki_is_a_typed_error(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    service = SignerService(make_settings(pki_dir=tmp_path / "empty"))
    with pytest.raises(VaxcertError) as caught:
        service.init()
    assert caught.value.code == "signer_state_invalid"
    assert not service.store.directory.exists()  # nothing half-made
    with pytest.raises(VaxcertError):
        service.jwks()


def test_rotation_keeps_the_old_public_key_published(
    service: SignerService, domestic: CertificateContent
) -> None:
    old_card = service.issue_shc(domestic)
    new_kid = service.rotate_shc()
    new_card = service.issue_shc(domestic)
    assert new_card.kid == new_kid != old_card.kid
    jwks = service.jwks()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_card.kid]
    # Cards of both keys verify against the published JWKS.
    verify_shc(old_card.jws, jwks)
    verify_shc(new_card.jws, jwks)
    new_key = service.store.load().shc(new_kid)
    assert new_key.key.custody == "file"
    key_file = service.store.path(new_key.key.path or "")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "x5c" in jwks["keys"][0]


def test_a_second_service_instance_sees_the_rotation(
    service: SignerService, domestic: CertificateContent
) -> None:
    other = SignerService(service.settings)
    before = other.issue_shc(domestic).kid
    rotated = service.rotate_shc()
    assert other.issue_shc(domestic).kid == rotated != before


def test_revocation_lists_the_rid_and_bumps_the_crl_version(
    service: SignerService, domestic: CertificateContent
) -> None:
    card = service.issue_shc(domestic, now=1_700_000_000)
    before = service.jwks()["keys"][0]["crlVersion"]
    revoked = service.revoke(domestic.certificate_id, now=1_700_000_100)
    assert revoked == [(card.kid, card.rid)]
    crl = service.crl(card.kid)
    assert crl is not None
    assert crl == {
        "kid": card.kid,
        "method": "rid",
        "ctr": before + 1,
        "rids": [f"{card.rid}.1700000101"],
    }
    assert service.jwks()["keys"][0]["crlVersion"] == crl["ctr"]
    # The revoked card is revoked; a card issued again afterwards is not.
    assert card.rid is not None
    cutoff = shc.revoked_before(crl["rids"], card.rid)
    assert cutoff is not None and card.nbf < cutoff
    later = service.issue_shc(domestic, now=1_700_000_200)
    assert later.nbf >= cutoff
    # Revoking again moves the cut-off, replacing the entry rather than adding one.
    service.revoke(domestic.certificate_id, now=1_700_000_300)
    crl2 = service.crl(card.kid)
    assert crl2 is not None and crl2["rids"] == [f"{card.rid}.1700000301"]
    assert crl2["ctr"] == before + 2


def test_revocation_covers_every_published_key_or_one(
    service: SignerService, domestic: CertificateContent
) -> None:
    first = service.issue_shc(domestic).kid
    second = service.rotate_shc()
    assert {kid for kid, _ in service.revoke("CERT1")} == {first, second}
    assert [kid for kid, _ in service.revoke("CERT2", kid=second)] == [second]
    with pytest.raises(VaxcertError) as caught:
        service.revoke("CERT3", kid="unknown")
    assert caught.value.code == "not_found"
    with pytest.raises(VaxcertError) as malformed:
        service.revoke("cert-1")
    assert malformed.value.code == "invalid_field"


def test_a_compromised_shc_key_leaves_the_jwks_at_once(
    service: SignerService, domestic: CertificateContent
) -> None:
    old = service.issue_shc(domestic)
    replacement = service.compromise_shc(old.kid)
    assert replacement is not None
    kids = [key["kid"] for key in service.jwks()["keys"]]
    assert kids == [replacement]
    assert service.crl(old.kid) is None
    with pytest.raises(KeyError):
        verify_shc(old.jws, service.jwks())
    assert service.issue_shc(domestic).kid == replacement


def test_a_compromised_bsc_is_revoked_in_the_csca_crl(
    make_settings: SettingsFactory, own_pki: Path, overseas: CertificateContent
) -> None:
    service = SignerService(make_settings(pki_dir=own_pki))
    service.init()
    old = service.issue_vdsnc(overseas)
    replacement = service.compromise_bsc()
    assert replacement is not None
    revoked = check_csca_crl(service.csca_crl_der(), service.csca_der())
    assert revoked == [old.bsc_serial]
    crl = x509.load_der_x509_crl(service.csca_crl_der())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    new = service.issue_vdsnc(overseas)
    assert new.bsc_serial == int(replacement, 16) != old.bsc_serial
    verify_vdsnc(new.document, service.csca_der())
    assert check_csca_crl(service.csca_crl_der(), service.csca_der()) == [old.bsc_serial]


def test_state_is_written_atomically_and_leaves_no_temp_files(service: SignerService) -> None:
    for _ in range(3):
        service.rotate_shc()
        service.revoke("CERT9")
    names = [path.name for path in service.store.directory.rglob("*")]
    assert not [name for name in names if name.endswith(".tmp")]
    state = json.loads(service.store.state_file.read_text())
    assert len(state["shc_keys"]) == 4
    assert sum(1 for key in state["shc_keys"] if key["status"] == "active") == 1


def test_a_broken_state_file_is_a_typed_error(service: SignerService) -> None:
    service.store.state_file.write_text('{"version": 1}')
    with pytest.raises(VaxcertError) as caught:
        SignerService(service.settings).jwks()
    assert caught.value.code == "signer_state_invalid"


def test_c08_the_state_holds_no_personal_data(
    service: SignerService, overseas: CertificateContent
) -> None:
    service.issue(overseas)
    service.revoke(overseas.certificate_id)
    blob = b"".join(p.read_bytes() for p in service.store.directory.rglob("*") if p.is_file())
    from vaxcert.residents import CANARY

    for value in CANARY.canary_values:
        assert value.encode() not in blob
