"""Key custody in a real SoftHSM2 token: keys made on it, signing through it, never extractable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from signer.keys import Pkcs11KeySigner, Pkcs11Token
from signer.services import SignerService
from tests.signer.conftest import SOFTHSM_LIBRARY, SoftHsm, verify_shc, verify_vdsnc
from tests.signer.test_vdsnc_issue import check_bsc_profile
from vaxcert.config import Settings
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose


@pytest.fixture
def token(softhsm: SoftHsm) -> Pkcs11Token:
    return Pkcs11Token(SOFTHSM_LIBRARY, softhsm.label, softhsm.pin)


def test_sign_through_the_token_verifies_with_cryptography(token: Pkcs11Token) -> None:
    key_id = token.generate("test-sign")
    signer = Pkcs11KeySigner(token, key_id)
    data = b"header.payload"
    signature = signer.sign(data)
    assert len(signature) == 64  # raw r||s straight from CKM_ECDSA
    signer.public_key.verify(jose.raw_to_der(signature), data, ec.ECDSA(hashes.SHA256()))
    assert signer.custody == "pkcs11"
    assert signer.kid == jose.ec_thumbprint(jose.public_jwk(signer.public_key))


def test_the_private_key_cannot_be_extracted(token: Pkcs11Token, softhsm: SoftHsm) -> None:
    key_id = token.generate("test-extract")
    lib = pkcs11.lib(str(SOFTHSM_LIBRARY))
    with lib.get_token(token_label=softhsm.label).open(rw=True) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.ALWAYS_SENSITIVE] is True
        assert key[Attribute.LOCAL] is True  # generated on the token
        with pytest.raises(p11e.AttributeSensitive):
            key[Attribute.VALUE]
        with pytest.raises(p11e.AttributeReadOnly):
            key[Attribute.EXTRACTABLE] = True
        assert key[Attribute.EXTRACTABLE] is False
        wrapping = session.generate_key(
            pkcs11.KeyType.AES, 256, template={Attribute.WRAP: True, Attribute.TOKEN: False}
        )
        with pytest.raises(p11e.KeyUnextractable):
            wrapping.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)


def test_a_wrong_pin_or_label_is_a_typed_refusal(softhsm: SoftHsm) -> None:
    with pytest.raises(VaxcertError) as no_token:
        Pkcs11Token(SOFTHSM_LIBRARY, "no-such-token", softhsm.pin).session()
    assert no_token.value.code == "signer_key_unavailable"
    with pytest.raises(VaxcertError) as no_pin:
        Pkcs11Token(SOFTHSM_LIBRARY, softhsm.label, "").session()
    assert no_pin.value.code == "signer_key_unavailable"


def test_service_with_pkcs11_custody_issues_both_formats(
    pkcs11_settings: Settings, overseas: CertificateContent, pki_dir: Path
) -> None:
    service = SignerService(pkcs11_settings)
    assert service.init()
    state = service.store.load()
    assert state.shc_keys[0].key.custody == "pkcs11" and state.bsc_keys[0].key.custody == "pkcs11"
    issued = service.issue(overseas)
    jwks = service.jwks()
    verify_shc(issued.shc.jws, jwks)
    assert jwks["keys"][0]["kid"] == issued.shc.kid
    assert jwks["keys"][0]["x5c"]  # certified by shc-root from the public key alone
    assert issued.vdsnc is not None
    verify_vdsnc(issued.vdsnc.document, service.csca_der())
    check_bsc_profile(service.active().barcode.certificate_der, service.csca_der())
    # No private key material was written anywhere in the state directory.
    for path in service.store.directory.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes()


def test_a_rotation_by_another_process_is_picked_up(
    pkcs11_settings: Settings, softhsm: SoftHsm, domestic: CertificateContent
) -> None:
    service = SignerService(pkcs11_settings)
    service.init()
    first = service.issue_shc(domestic).kid
    code = (
        "import sys; from vaxcert.config import load_settings; "
        "from signer.services import SignerService; "
        "print(SignerService(load_settings(pki_dir=sys.argv[1], signer={"
        "'state_dir': sys.argv[2], 'custody': 'pkcs11', 'pkcs11': {'label': sys.argv[3], "
        "'user_pin': sys.argv[4]}})).rotate_shc())"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(pkcs11_settings.pki_dir),
            str(service.store.directory),
            softhsm.label,
            softhsm.pin,
        ],
        env=softhsm.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    new_kid = result.stdout.strip()
    assert new_kid != first
    card = service.issue_shc(domestic)
    assert card.kid == new_kid
    kids = [key["kid"] for key in service.jwks()["keys"]]
    assert kids == [new_kid, first]  # the old public key stays published
    verify_shc(card.jws, service.jwks())
