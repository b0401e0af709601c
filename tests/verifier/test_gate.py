"""The verifier at the gate without a browser (issue 19): one verdict per sheet, the issuer's
signed list of revoked certificate ids for VDS-NC, codes read by the browser sent as texts,
stale trust changing the verdict's look, the background refresh, and the TLS surface.
The browser itself: tests/e2e/test_verifier_camera.py."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from launch.surfaces import SERVICES
from signer.samples import example_content
from tests.support.dev_trust import attach_uvci_list
from tests.verifier import issuance
from tests.verifier.conftest import Issuer
from vaxcert import pki
from vaxcert.config import load_settings
from vaxcert.formats import jose
from vaxcert.formats import uvci_list as uvci_list_format
from vaxcert.residents import CANARY
from verifier import TrustStore, verify_all
from verifier._uvci import UvciListError, parse_uvci_list
from verifier.app import TrustHolder, create_app
from verifier.dev_trust import dev_trust_store, write_dev_trust_store
from verifier.refresh import fetch_uvci_list
from verifier.sheet import judge


def _sheet(texts: list[str], store: TrustStore) -> tuple[str | None, str | None]:
    results = [r for text in texts for r in verify_all(text, store)]
    sheet = judge(results)
    return sheet.verdict, sheet.headline.code if sheet.headline else None


def test_one_verdict_for_the_codes_of_one_sheet(dev_pki: Path, dev_store: TrustStore) -> None:
    overseas = issuance.issue_shc(dev_pki, issuance.overseas_shc_payload())
    vds = issuance.issue_vdsnc(dev_pki)
    # The SHC key of this store was never fetched: the sheet is as good as its weakest code.
    assert _sheet([overseas, vds], dev_store) == ("valid_revocation_unchecked", None)
    assert _sheet([vds], dev_store) == ("valid", None)
    # Another person's VDS-NC beside it: each code is valid, the sheet is not.
    other = issuance.jp_vdsnc_data()
    other["msg"]["pid"] = {"n": "SATO TARO", "dob": "1990-01-01", "i": "TK7654321"}
    other_vds = issuance.sign_vdsnc(
        pki.load_key(pki.key_path(dev_pki, "vdsnc-bsc")),  # type: ignore[arg-type]
        (dev_pki / "vdsnc-bsc.der").read_bytes(),
        other,
    )
    assert _sheet([overseas, other_vds], dev_store) == ("invalid", "sheet_mismatch")
    # Same person, another certificate id: not one certificate.
    second = issuance.jp_vdsnc_data()
    second["msg"]["uvci"] = "JP0000000999"
    two_ids = [
        vds,
        issuance.sign_vdsnc(
            pki.load_key(pki.key_path(dev_pki, "vdsnc-bsc")),  # type: ignore[arg-type]
            (dev_pki / "vdsnc-bsc.der").read_bytes(),
            second,
        ),
    ]
    assert _sheet(two_ids, dev_store) == ("invalid", "sheet_mismatch")
    # A digit flipped in a genuine code: damaged or altered, whatever the technical reason.
    flipped = overseas[:-7] + ("1" if overseas[-7] != "1" else "2") + overseas[-6:]
    assert _sheet([flipped, vds], dev_store) == ("invalid", "sheet_damaged")
    # A URL is not a vaccination certificate.
    assert _sheet(["https://example.com/menu"], dev_store) == ("invalid", "sheet_not_certificate")
    assert judge([]).verdict is None


def test_a_revoked_certificate_id_revokes_its_vdsnc(dev_pki: Path) -> None:
    store = dev_trust_store(dev_pki, issuance.ISSUER_URL)
    vds = issuance.issue_vdsnc(dev_pki)
    # No list known for the issuer: valid, its own revocation not checked.
    (result,) = verify_all(vds, store)
    assert result.verdict == "valid_revocation_unchecked"
    assert result.revocation is not None and result.revocation.problem is not None
    assert result.revocation.problem.code == "uvci_list_missing"
    attach_uvci_list(store, dev_pki, ["JP0000000123"])
    (result,) = verify_all(vds, store)
    assert not result.valid and result.codes == ["revoked"]
    assert result.revocation is not None and result.revocation.scope == "certificate"
    assert _sheet([vds], store) == ("invalid", "sheet_revoked")


def test_a_list_not_signed_by_a_document_signer_of_a_trusted_csca_is_refused(
    dev_pki: Path,
) -> None:
    store = dev_trust_store(dev_pki, issuance.ISSUER_URL)
    now = dt.datetime.now(dt.UTC)
    genuine = issuance.uvci_list(dev_pki)
    assert parse_uvci_list(genuine, store, now)[1]
    header, payload, signature = genuine.split(".")
    # The payload changed after signing: an empty list passed off for one with entries.
    body = json.loads(jose.b64url_decode(payload))
    body["revoked"] = []
    body["ctr"] = 99
    tampered = f"{header}.{jose.b64url_encode(json.dumps(body).encode())}.{signature}"
    with pytest.raises(UvciListError, match="signature"):
        parse_uvci_list(tampered, store, now)
    # Signed by a key whose certificate chains to no trusted CSCA.
    csca_key = ec.generate_private_key(ec.SECP384R1())
    csca = pki.load_cert(pki.cert_path(dev_pki, "vdsnc-csca"))
    key, bsc = issuance.make_bsc(csca, csca_key)
    stranger = uvci_list_format.signed_list(
        issuance.ISSUER_URL,
        5,
        int(now.timestamp()),
        [],
        bsc.public_bytes(serialization.Encoding.DER),
        lambda data: jose.der_to_raw(key.sign(data, ec.ECDSA(hashes.SHA256()))),
    )
    with pytest.raises(UvciListError, match="trusted CSCA"):
        parse_uvci_list(stranger, store, now)
    with pytest.raises(UvciListError):
        parse_uvci_list("not.a.list", store, now)


def test_texts_read_by_the_browser_are_verified_together(
    dev_pki: Path, dev_store: TrustStore
) -> None:
    settings = load_settings(environment="test", pki_dir=dev_pki, issuer_url=issuance.ISSUER_URL)
    client = create_app(settings, trust=dev_store).test_client()
    overseas = issuance.issue_shc(dev_pki, issuance.overseas_shc_payload())
    reply = client.post(
        "/api/verify?html=1&lang=en", json={"texts": [overseas, issuance.issue_vdsnc(dev_pki)]}
    )
    assert reply.status_code == 200 and reply.json is not None
    sheet = reply.json["sheet"]
    assert sheet["verdict"] == "valid_revocation_unchecked" and len(reply.json["results"]) == 2
    assert sheet["lines"][0].startswith("Checked ")
    assert 'class="sheet unchecked"' in reply.json["html"]
    assert "JP0000000123" in reply.json["html"]  # the certificate id
    url = client.post("/api/verify?lang=ja", json={"texts": ["https://example.com/"]}).json
    assert url is not None and url["sheet"]["headline"]["code"] == "sheet_not_certificate"
    assert url["sheet"]["headline"]["message"] == "ワクチン接種証明書ではありません。"
    for bad in ([], [""], [1], ["x"] * 9, "shc:/56"):
        refused = client.post("/api/verify", json={"texts": bad})
        assert refused.status_code == 422, bad
        assert refused.json is not None and refused.json["error"]["code"] == "invalid_field"


def test_stale_trust_changes_the_look_of_the_verdict(dev_pki: Path) -> None:
    store = dev_trust_store(dev_pki, issuance.ISSUER_URL)
    attach_uvci_list(store, dev_pki)
    store.stale_after = dt.timedelta(0)  # every datum is older than that
    settings = load_settings(environment="test", pki_dir=dev_pki, issuer_url=issuance.ISSUER_URL)
    client = create_app(settings, trust=store).test_client()
    html = client.post("/?lang=en", data={"text": issuance.issue_vdsnc(dev_pki)}).get_data(
        as_text=True
    )
    assert 'class="sheet unchecked stale"' in html
    assert "Trust data out of date — revocation may be missed." in html
    fresh = dev_trust_store(dev_pki, issuance.ISSUER_URL)
    attach_uvci_list(fresh, dev_pki)
    client = create_app(settings, trust=fresh).test_client()
    html = client.post("/?lang=en", data={"text": issuance.issue_vdsnc(dev_pki)}).get_data(
        as_text=True
    )
    assert 'class="sheet valid"' in html and "out of date" not in html


def test_the_page_refreshes_a_configured_store_by_itself(issuer: Issuer, tmp_path: Path) -> None:
    index = write_dev_trust_store(issuer.settings.pki_dir, issuer.iss, tmp_path / "trust")
    settings = load_settings(
        environment="test",
        pki_dir=issuer.settings.pki_dir,
        issuer_url=issuer.iss,
        verifier={"trust": index.parent},
    )
    holder = TrustHolder(settings)
    content = example_content(CANARY, "overseas", 3, certificate_id="9BGREFRESH01")
    issued = issuer.service.issue(content)
    assert issued.vdsnc is not None
    (before,) = verify_all(issued.vdsnc.document, holder.get())
    assert before.verdict == "valid_revocation_unchecked"  # nothing fetched yet
    issuer.service.revoke("9BGREFRESH01")
    holder.start_refreshing(0.05)
    try:
        deadline = time.monotonic() + 60
        while True:
            (after,) = verify_all(issued.vdsnc.document, holder.get())
            if not after.valid:
                break
            assert time.monotonic() < deadline, "the background refresh never ran"
            time.sleep(0.05)
    finally:
        holder.stop()
    assert after.codes == ["revoked"]
    (card,) = verify_all(issued.shc.numeric, holder.get())
    assert card.codes == ["revoked"]  # the SHC CRL came with the same refresh


def test_the_verifier_is_served_over_tls(tmp_path: Path) -> None:
    spec = SERVICES["verifier"]
    assert spec.tls == "tls"
    settings = load_settings(environment="test", pki_dir=tmp_path)
    assert settings.url("verifier").startswith("https://")
    assert spec.files(settings)["cert"] == pki.cert_path(tmp_path, "verifier")
    production = load_settings(
        pki_dir=tmp_path,
        verifier={"tls_cert": tmp_path / "gate.crt", "tls_key": tmp_path / "gate.key"},
    )
    files = spec.files(production)
    assert (files["cert"], files["key"]) == (tmp_path / "gate.crt", tmp_path / "gate.key")
    with pytest.raises(Exception, match="together"):
        load_settings(verifier={"tls_cert": tmp_path / "gate.crt"})


def test_an_older_list_never_replaces_a_newer_one(dev_pki: Path) -> None:
    store = dev_trust_store(dev_pki, issuance.ISSUER_URL)
    attach_uvci_list(store, dev_pki, ["JP0000000123"])  # ctr 1
    newer = issuance.uvci_list(dev_pki, ["JP0000000123", "JP0000000456"], ctr=3)
    older = issuance.uvci_list(dev_pki, [], ctr=2)

    class Serving:
        """A fetcher that answers with one body (the publication as a replaying attacker
        would serve it)."""

        def __init__(self, body: str) -> None:
            self.body = body

        def get(self, url: str) -> bytes:
            return self.body.encode("ascii")

    url = "https://127.0.0.1:8446/issuer/.well-known/crl/vdsnc-uvci.jws"
    revocations, anchors = fetch_uvci_list(url, store, Serving(newer))  # type: ignore[arg-type]
    store.replace_uvci_list(anchors, revocations, dt.datetime.now(dt.UTC))
    with pytest.raises(UvciListError, match="older than the list held"):
        fetch_uvci_list(url, store, Serving(older))  # type: ignore[arg-type]


def test_the_cli_gives_a_sheet_of_two_people_one_not_valid(dev_pki: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from launch.cli import main

    other = issuance.jp_vdsnc_data()
    other["msg"]["pid"] = {"n": "SATO TARO", "dob": "1990-01-01", "i": "TK7654321"}
    key = pki.load_key(pki.key_path(dev_pki, "vdsnc-bsc"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    other_vds = issuance.sign_vdsnc(key, (dev_pki / "vdsnc-bsc.der").read_bytes(), other)
    page = tmp_path / "page.png"
    overseas = issuance.issue_shc(dev_pki, issuance.overseas_shc_payload())
    page.write_bytes(issuance.certificate_page_png(overseas, other_vds))
    env = {"VAXCERT_PKI_DIR": str(dev_pki), "VAXCERT_ISSUER_URL": issuance.ISSUER_URL}
    result = CliRunner().invoke(main, ["--dev", "verify", str(page)], env=env)
    assert result.exit_code == 1, result.output
    assert "sheet 無効 NOT VALID" in result.output and "different people" in result.output
