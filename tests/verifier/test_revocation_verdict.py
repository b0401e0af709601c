"""A verifier never says a plain VALID for a card it could not check for revocation.

Without any trust set-up (the demo), the page and `vaxcert verify` fetch our signer's published
keys, rid CRLs and CSCA CRL over real TLS while verifying: a card revoked with `vaxcert signer
revoke` is refused at once. When the signer cannot be reached, or the data held is older than the
store's limit, the verdict is "VALID — revocation not checked", on the page, in the CLI's text and
in its JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from launch.cli import main
from signer.samples import example_content
from tests.verifier import issuance
from tests.verifier.conftest import Issuer
from vaxcert import pki
from vaxcert.config import load_settings
from vaxcert.contracts.signing import Kind
from vaxcert.residents import CANARY
from verifier import load_trust_store, verify
from verifier.app import create_app
from verifier.clients import TrustFetcher
from verifier.dev_trust import dev_trust_store
from verifier.live import LiveRevocation
from verifier.refresh import refresh


def _vaxcert(issuer: Issuer, *args: str) -> Result:
    return CliRunner().invoke(main, ["--dev", *args], env=issuer.env)


def _issue(issuer: Issuer, tmp_path: Path, certificate_id: str, kind: Kind = "domestic") -> Path:
    """`vaxcert signer issue`: the demo's signer signs a card into a directory."""
    content = tmp_path / f"{certificate_id}.json"
    content.write_text(
        example_content(CANARY, kind, 3, certificate_id=certificate_id).model_dump_json()
    )
    out = tmp_path / certificate_id
    issued = _vaxcert(issuer, "signer", "issue", "--input", str(content), "--out", str(out))
    assert issued.exit_code == 0, issued.output
    return out


def _revoke(issuer: Issuer, certificate_id: str) -> None:
    revoked = _vaxcert(issuer, "signer", "revoke", "--certificate-id", certificate_id)
    assert revoked.exit_code == 0, revoked.output


def _page(issuer: Issuer) -> FlaskClient:
    """The demo's verifier page: development, no trust store configured."""
    settings = load_settings(
        environment="development", pki_dir=issuer.settings.pki_dir, issuer_url=issuer.iss
    )
    return create_app(settings).test_client()


def _verdicts(client: FlaskClient, text: str) -> tuple[int, list[str], str]:
    response = client.post("/api/verify?html=1&lang=en", json={"text": text})
    assert response.json is not None
    return (
        response.status_code,
        [result["verdict"] for result in response.json["results"]],
        response.json["html"],
    )


def test_the_cli_without_a_trust_directory_refuses_a_card_revoked_by_the_signer(
    issuer: Issuer, tmp_path: Path
) -> None:
    card = _issue(issuer, tmp_path, "9REVOKE00010") / "card.qr.txt"
    before = _vaxcert(issuer, "verify", str(card))
    assert before.exit_code == 0, before.output
    assert "有効 VALID" in before.output
    assert "revocation: Not revoked: checked against the issuer's revocation list" in before.output

    _revoke(issuer, "9REVOKE00010")
    after = _vaxcert(issuer, "verify", str(card), "--json")
    assert after.exit_code == 1, after.output
    body = json.loads(after.output.splitlines()[-1])
    assert (body["valid"], body["verdict"]) == (False, "invalid")
    assert [reason["code"] for reason in body["reasons"]] == ["revoked"]
    assert body["revocation"]["status"] == "revoked"


def test_the_page_without_trust_set_up_refuses_a_card_revoked_while_it_runs(
    issuer: Issuer, tmp_path: Path
) -> None:
    client = _page(issuer)  # started before the revocation, as a gate's page would be
    card = (_issue(issuer, tmp_path, "9REVOKE00011") / "card.qr.txt").read_text()
    status, verdicts, html = _verdicts(client, card)
    assert (status, verdicts) == (200, ["valid"])
    assert 'class="result valid"' in html and "Not revoked: checked against" in html

    _revoke(issuer, "9REVOKE00011")
    status, verdicts, html = _verdicts(client, card)
    assert verdicts == ["invalid"]
    assert 'data-code="revoked"' in html and "VALID" not in html.replace("NOT VALID", "")
    form = client.post("/", data={"text": card, "lang": "ja"})
    assert form.status_code == 422
    assert "証明書は失効しています" in form.get_data(as_text=True)


def test_a_document_signer_revoked_in_the_csca_crl_is_refused_by_the_running_page(
    issuer: Issuer, tmp_path: Path
) -> None:
    client = _page(issuer)
    document = (_issue(issuer, tmp_path, "9REVOKE00012", "overseas") / "vdsnc.json").read_text()
    assert _verdicts(client, document)[1] == ["valid"]
    # The CSCA lists the document signer: the page fetches the new CRL from /vdsnc/crl.der.
    compromised = _vaxcert(issuer, "signer", "compromise", "--bsc")
    assert compromised.exit_code == 0, compromised.output
    _, verdicts, html = _verdicts(client, document)
    assert verdicts == ["invalid"] and 'data-code="bsc_revoked"' in html


def test_an_unreachable_signer_gives_revocation_not_checked_never_a_plain_valid(
    issuer: Issuer, tmp_path: Path
) -> None:
    card_dir = _issue(issuer, tmp_path, "9REVOKE00013")
    _revoke(issuer, "9REVOKE00013")
    issuer.server.stop()  # the signer's public surface is gone

    cli = _vaxcert(issuer, "verify", str(card_dir / "card.qr.txt"))
    assert cli.exit_code == 3, cli.output
    assert "有効（失効は未確認） VALID — REVOCATION NOT CHECKED" in cli.output
    assert "Revocation was not checked: this verifier has no data from the issuer." in cli.output
    assert "有効 VALID " not in cli.output
    as_json = _vaxcert(issuer, "verify", str(card_dir / "card.qr.txt"), "--json")
    body = json.loads(as_json.output.splitlines()[-1])
    assert body["verdict"] == "valid_revocation_unchecked"
    assert body["revocation"]["status"] == "not_checked"
    assert body["revocation"]["problem"]["code"] == "crl_missing"

    client = _page(issuer)
    status, verdicts, html = _verdicts(client, (card_dir / "card.qr.txt").read_text())
    assert (status, verdicts) == (200, ["valid_revocation_unchecked"])
    assert 'class="result unchecked"' in html and 'class="result valid"' not in html
    assert "VALID — revocation not checked" in html
    page = client.post("/", data={"text": (card_dir / "card.qr.txt").read_text(), "lang": "ja"})
    assert "有効（失効は未確認）" in page.get_data(as_text=True)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers (a hung issuer)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_a_hung_issuer_costs_one_timeout_then_is_left_alone_until_the_retry_time(
    tmp_path: Path, silent_port: int
) -> None:
    iss = f"https://127.0.0.1:{silent_port}/issuer"
    pki.init(tmp_path, iss, [], [])
    store = dev_trust_store(tmp_path, iss)
    now = [0.0]
    store.live = LiveRevocation(
        TrustFetcher(tmp_path / "public-bundle.pem", 0.5), retry_after=30, clock=lambda: now[0]
    )
    card = issuance.issue_shc(tmp_path, issuance.jp_shc_payload(iss=iss))
    started = time.monotonic()
    first = verify(card, store)
    took = time.monotonic() - started
    assert first.verdict == "valid_revocation_unchecked"
    # One timeout: the JWKS; the CSCA CRL on the same server is not asked for after it.
    assert 0.45 <= took < 0.9 + 2  # (slack for a loaded machine)
    started = time.monotonic()
    assert verify(card, store).verdict == "valid_revocation_unchecked"
    assert time.monotonic() - started < 0.4  # not tried again yet: a scan is not slowed down
    now[0] = 31.0
    started = time.monotonic()
    verify(card, store)
    assert time.monotonic() - started >= 0.45  # asked again after retry_after


def test_revocation_data_older_than_the_stores_limit_is_not_a_plain_valid(
    issuer: Issuer, tmp_path: Path
) -> None:
    store_dir = tmp_path / "trust"
    store_dir.mkdir()
    index = store_dir / "trust.toml"
    index.write_text(f'tls_ca = "{issuer.ca}"\n\n[[shc]]\niss = "{issuer.iss}"\n')
    card = issuer.service.issue_shc(example_content(CANARY, "domestic", 2))
    assert refresh(store_dir, TrustFetcher(issuer.ca)).failed == []
    assert verify(card.numeric, load_trust_store(store_dir)).verdict == "valid"

    state = json.loads((store_dir / "state.json").read_text())
    # A day and an hour of failing refreshes: past the default limit (24 h), no longer green.
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    state["shc"][issuer.iss] = old.isoformat()
    (store_dir / "state.json").write_text(json.dumps(state))
    stale = verify(card.numeric, load_trust_store(store_dir))
    assert stale.valid and stale.verdict == "valid_revocation_unchecked"
    assert stale.revocation is not None and stale.revocation.problem is not None
    assert stale.revocation.problem.code == "trust_stale"

    index.write_text("stale_after_days = 2\n" + index.read_text())  # a longer limit
    assert verify(card.numeric, load_trust_store(store_dir)).verdict == "valid"
