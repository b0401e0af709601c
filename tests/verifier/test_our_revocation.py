"""Revocation of our SMART Health Cards end to end: the signer's public surface over real TLS, a
`vaxcert signer revoke` from another signer instance (as the CLI runs beside the service), and
the verifier's `trust refresh` reading what is published, from the first revocation on."""

from __future__ import annotations

from pathlib import Path

import requests
from click.testing import CliRunner

from launch.cli import main
from signer.samples import example_content
from tests.verifier.conftest import Issuer
from vaxcert.residents import CANARY
from verifier import load_trust_store, verify
from verifier.clients import TrustFetcher
from verifier.refresh import refresh


def _trust_store(directory: Path, issuer: Issuer) -> Path:
    directory.mkdir()
    (directory / "trust.toml").write_text(
        f'tls_ca = "{issuer.ca}"\n\n[[shc]]\niss = "{issuer.iss}"\nname = "our issuer"\n'
    )
    return directory


def test_rid_revocation_works_from_the_first_revocation_on(issuer: Issuer, tmp_path: Path) -> None:
    store_dir = _trust_store(tmp_path / "trust", issuer)
    fetcher = TrustFetcher(issuer.ca)
    content = example_content(CANARY, "domestic", 3, certificate_id="9REVOKE00001")
    card = issuer.service.issue_shc(content)

    # Nothing revoked yet: the JWKS announces crlVersion 1 and the CRL exists, empty, ctr 1.
    report = refresh(store_dir, fetcher)
    assert report.failed == [] and report.updated == [issuer.iss]
    store = load_trust_store(store_dir)
    key = store.shc[issuer.iss].keys[card.kid]
    assert key.crl_version == 1
    crl = store.shc[issuer.iss].crls[card.kid]
    assert (crl.ctr, crl.rids) == (1, ())
    before = verify(card.numeric, store)
    assert before.valid, before.reasons
    assert before.verdict == "valid"  # keys and CRL fetched just now: revocation checked
    assert not [code for code in before.warning_codes if code.startswith("crl")]

    # The operator revokes with the CLI: another signer instance writes the state; the running
    # public surface serves the new CRL and crlVersion at once.
    revoked = CliRunner().invoke(
        main, ["signer", "revoke", "--certificate-id", "9REVOKE00001"], env=issuer.env
    )
    assert revoked.exit_code == 0, revoked.output
    assert f"rid {card.rid} listed" in revoked.output

    report = refresh(store_dir, fetcher)
    assert report.failed == []
    store = load_trust_store(store_dir)
    assert store.shc[issuer.iss].keys[card.kid].crl_version == 2
    crl = store.shc[issuer.iss].crls[card.kid]
    assert crl.ctr == 2 and [entry.split(".")[0] for entry in crl.rids] == [card.rid]
    after = verify(card.numeric, store)
    assert not after.valid and "revoked" in after.codes

    # A certificate issued again after the revocation is valid (the entry carries a cut-off).
    cutoff = int(crl.rids[0].split(".")[1])
    again = issuer.service.issue_shc(content, now=cutoff)
    assert verify(again.numeric, store).valid


def test_the_crl_is_revalidated_by_caches_on_every_fetch(issuer: Issuer) -> None:
    issuer.service.init()
    kid = issuer.service.state().shc_active
    url = f"{issuer.iss}/.well-known/crl/{kid}.json"
    with requests.Session() as session:
        session.trust_env = False
        first = session.get(url, verify=str(issuer.ca), timeout=10)
        assert first.status_code == 200 and first.json()["ctr"] == 1
        assert first.headers["Cache-Control"] == "no-cache"
        etag = first.headers["ETag"]
        unchanged = session.get(
            url, verify=str(issuer.ca), timeout=10, headers={"If-None-Match": etag}
        )
        assert unchanged.status_code == 304 and unchanged.content == b""
        issuer.service.revoke("9REVOKE00002")
        changed = session.get(
            url, verify=str(issuer.ca), timeout=10, headers={"If-None-Match": etag}
        )
        assert changed.status_code == 200 and changed.json()["ctr"] == 2
        assert changed.headers["ETag"] != etag
        assert changed.headers["Access-Control-Allow-Origin"] == "*"
