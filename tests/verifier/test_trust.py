"""The trust store: loading (directory or TOML), refusals, staleness, and `trust refresh` over real
TLS on loopback (only trusted issuers are ever fetched)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from launch.cli import main
from tests.support.servers import pki_context, serving
from tests.verifier import issuance
from tests.verifier.conftest import write_store
from vaxcert import pki
from vaxcert.formats import jose
from verifier import TrustStoreError, load_trust_store, verify
from verifier.clients import TrustFetcher
from verifier.dev_trust import dev_jwks, write_dev_trust_store
from verifier.refresh import refresh


def test_a_store_loads_from_its_directory_or_its_toml(official_store_dir: Path) -> None:
    for path in (official_store_dir, official_store_dir / "trust.toml"):
        store = load_trust_store(path)
        assert list(store.shc) == [issuance.SPEC_ISS]
        assert len(store.shc[issuance.SPEC_ISS].keys) == 2
        assert len(store.shc[issuance.SPEC_ISS].crls) == 1  # found beside the JWKS in crl/
        assert [c.country for c in store.cscas] == ["AUS", "AUS"]
        assert all(len(c.crls) == 1 and not c.bad_crls for c in store.cscas)
        assert store.load_warnings == []


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[[shc]]\niss = 'http://x.example/issuer'\n", "https URL"),
        ("[[shc]]\niss = 'https://x.example/issuer/'\n", "trailing slash"),
        ("surprise = 1\n", "unknown keys"),
        ("[[csca]]\ncertificates = []\n", "at least one file"),
        ("[[csca]]\ncertificates = ['missing.der']\n", "cannot read"),
        ("[[csca]]\ncountry = 'JP'\ncertificates = ['x.der']\n", "3-letter"),
        ("not toml [", "trust.toml"),
    ],
)
def test_a_broken_store_is_refused_with_the_place_named(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "trust.toml").write_text(toml)
    with pytest.raises(TrustStoreError) as caught:
        load_trust_store(tmp_path)
    assert message in caught.value.detail
    assert caught.value.code == "trust_store_invalid"


def test_a_missing_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError):
        load_trust_store(tmp_path / "nowhere")


def _dev_jwks_store(tmp_path: Path, jwks: dict[str, Any]) -> Path:
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "trust.toml").write_text(
        f"[[shc]]\niss = '{issuance.ISSUER_URL}'\nname = 'dev'\njwks = 'jwks.json'\n"
    )
    return tmp_path


def test_a_jwks_with_private_key_material_is_refused(tmp_path: Path, dev_pki: Path) -> None:
    jwks = dev_jwks(dev_pki)
    key = issuance.issuer_key(dev_pki)
    jwks["keys"][0]["d"] = jose.b64url_encode(
        key.private_numbers().private_value.to_bytes(32, "big")
    )
    with pytest.raises(TrustStoreError) as caught:
        load_trust_store(_dev_jwks_store(tmp_path, jwks))
    assert "private key" in caught.value.detail


def test_a_key_whose_kid_is_not_its_thumbprint_is_dropped(tmp_path: Path, dev_pki: Path) -> None:
    jwks = dev_jwks(dev_pki)
    jwks["keys"][0]["kid"] = "not-the-thumbprint"
    store = load_trust_store(_dev_jwks_store(tmp_path, jwks))
    assert store.shc[issuance.ISSUER_URL].keys == {}
    assert any("thumbprint" in w for w in store.load_warnings)
    assert verify(issuance.issue_shc(dev_pki), store).codes == ["kid_unknown"]


def test_old_trust_data_warns_and_the_result_shows_its_age(
    tmp_path: Path, testdata: Path, spec_dir: Path
) -> None:
    directory = write_store(tmp_path / "store", testdata)
    updated = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    (directory / "state.json").write_text(
        json.dumps({"shc": {issuance.SPEC_ISS: updated.isoformat()}})
    )
    store = load_trust_store(directory)
    result = verify(spec_dir / "example-00-d-jws.txt", store)
    assert result.valid
    assert result.warning_codes == ["trust_stale"]
    assert result.trust_age_seconds is not None
    assert 9.9 < result.trust_age_seconds / 86400 < 10.1


def test_the_written_dev_store_verifies_our_documents(tmp_path: Path, dev_pki: Path) -> None:
    index = write_dev_trust_store(dev_pki, issuance.ISSUER_URL, tmp_path / "trust")
    (index.parent / "csca" / "JPN" / "uvci.jws").write_text(issuance.uvci_list(dev_pki))
    store = load_trust_store(index)
    assert store.load_warnings == []
    card = verify(issuance.issue_shc(dev_pki), store)
    # Its JWKS is derived from the PKI, not fetched: nothing is known about revocation until
    # `trust refresh` fetches the issuer's keys and CRLs.
    assert card.valid and card.verdict == "valid_revocation_unchecked"
    assert card.trust_age_seconds is None
    result = verify(issuance.issue_vdsnc(dev_pki), store)
    assert result.valid and result.warnings == () and result.verdict == "valid"
    assert result.revocation is not None and result.revocation.status == "checked"
    # Written again: replaced whole, never half-written.
    write_dev_trust_store(dev_pki, issuance.ISSUER_URL, tmp_path / "trust")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trust"]


# `trust refresh` against a real TLS server on loopback --------------------------------------


class _Publisher:
    """A tiny issuer web server: serves documents by path and records every request path."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requested: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requested.append(request.path)
        body = self.documents.get(request.path)
        response = Response(body, 200) if body is not None else Response(b"", 404)
        return response(environ, start_response)


@pytest.fixture
def publisher(dev_pki: Path) -> Iterator[tuple[_Publisher, str]]:
    """An HTTPS server on an ephemeral loopback port with the dev public-CA server cert."""
    app = _Publisher()
    with serving(app, pki_context(dev_pki, "signer-public")) as server:
        yield app, server.url


def _refresh_store(tmp_path: Path, base: str, dev_pki: Path) -> Path:
    (tmp_path / "trust.toml").write_text(
        f"""
tls_ca = "{pki.cert_path(dev_pki, "public-ca")}"

[[shc]]
iss = "{base}/issuer"
name = "test issuer"

[[csca]]
name = "JP"
country = "JPN"
certificates = ["{dev_pki / "vdsnc-csca.der"}"]
crls = ["csca/crl.der"]
crl_url = "{base}/csca/crl.der"
"""
    )
    return tmp_path


def test_refresh_fetches_only_trusted_issuers_and_records_when(
    tmp_path: Path, dev_pki: Path, publisher: tuple[_Publisher, str]
) -> None:
    app, base = publisher
    iss = f"{base}/issuer"
    jwks = dev_jwks(dev_pki)
    jwks["keys"][0]["crlVersion"] = 1
    del jwks["keys"][0]["x5c"]  # its leaf names the dev issuer URL, not this test server's
    kid = jwks["keys"][0]["kid"]
    app.documents = {
        "/issuer/.well-known/jwks.json": json.dumps(jwks).encode(),
        f"/issuer/.well-known/crl/{kid}.json": json.dumps(
            {"kid": kid, "method": "rid", "ctr": 1, "rids": ["bm90LWEtcmlk"]}
        ).encode(),
        "/csca/crl.der": (dev_pki / "vdsnc-crl.der").read_bytes(),
        "/other/.well-known/jwks.json": json.dumps(jwks).encode(),  # an untrusted issuer
    }
    store_dir = _refresh_store(tmp_path, base, dev_pki)
    result = CliRunner().invoke(main, ["trust", "refresh", "--trust", str(store_dir)])
    assert result.exit_code == 0, result.output
    assert sorted(app.requested) == sorted(
        ["/issuer/.well-known/jwks.json", f"/issuer/.well-known/crl/{kid}.json", "/csca/crl.der"]
    )
    store = load_trust_store(store_dir)
    assert list(store.shc[iss].keys) == [kid]
    assert store.shc[iss].crls[kid].ctr == 1
    assert store.shc[iss].updated_at is not None
    assert store.cscas[0].crls and store.cscas[0].updated_at is not None
    card = issuance.issue_shc(dev_pki, issuance.jp_shc_payload(iss=iss))
    result = verify(card, store)
    assert result.valid, result.reasons


def test_refresh_refuses_private_keys_and_keeps_the_old_files(
    tmp_path: Path, dev_pki: Path, publisher: tuple[_Publisher, str]
) -> None:
    app, base = publisher
    good = dev_jwks(dev_pki)
    app.documents = {"/issuer/.well-known/jwks.json": json.dumps(good).encode()}
    store_dir = _refresh_store(tmp_path, base, dev_pki)
    fetcher = TrustFetcher(pki.cert_path(dev_pki, "public-ca"))
    first = refresh(store_dir, fetcher)
    assert first.updated == [f"{base}/issuer"]
    assert len(first.failed) == 1  # the CSCA CRL URL answers 404
    jwks_file = next(store_dir.glob("shc/*/jwks.json"))
    before = jwks_file.read_bytes()
    leaked = json.loads(json.dumps(good))
    leaked["keys"][0]["d"] = "AAAA"
    app.documents["/issuer/.well-known/jwks.json"] = json.dumps(leaked).encode()
    second = refresh(store_dir, fetcher)
    assert second.updated == [] and "private key" in second.failed[0]
    assert jwks_file.read_bytes() == before
    assert b'"d"' not in jwks_file.read_bytes()
    fetcher.close()


def test_refresh_pins_the_ca_and_fetches_https_only(
    tmp_path: Path, dev_pki: Path, publisher: tuple[_Publisher, str]
) -> None:
    _, base = publisher
    # Another CA than the server's: the handshake fails, nothing is written.
    fetcher = TrustFetcher(pki.cert_path(dev_pki, "internal-ca"))
    report = refresh(_refresh_store(tmp_path, base, dev_pki), fetcher)
    assert report.updated == [] and len(report.failed) == 2
    assert not list(tmp_path.glob("shc/*/jwks.json"))
    with pytest.raises(Exception, match="only https"):
        fetcher.get("http://127.0.0.1:1/x")
    fetcher.close()
