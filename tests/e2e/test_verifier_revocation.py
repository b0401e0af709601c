"""The demo's revocation flow with real processes: `vaxcert serve signer-public` (gunicorn, TLS)
and `vaxcert serve verifier` without any trust set-up, and the `vaxcert` commands an operator
types. A card the signer revoked is never a plain VALID, on the page or in `vaxcert verify`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from launch import demo
from launch.surfaces import SERVICES
from signer.samples import example_content
from vaxcert import pki
from vaxcert.config import Settings, load_settings
from vaxcert.residents import CANARY


@dataclass
class Demo:
    """The demo's signer public surface and verifier page on free ports, and their environment."""

    settings: Settings
    env: dict[str, str]
    root: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def vaxcert(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`vaxcert --dev ARGS` as the operator runs it beside the demo."""
        return subprocess.run(
            [sys.executable, "-m", "launch.cli", "--dev", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def page(self, text: str) -> dict[str, object]:
        """What the running verifier page answers for ``text``."""
        with requests.Session() as session:
            session.trust_env = False
            session.verify = str(self.settings.pki_dir / "public-bundle.pem")
            reply = session.post(
                self.settings.url("verifier") + "/api/verify?html=1&lang=en",
                json={"text": text},
                timeout=30,
            )
        reply.raise_for_status()
        body: dict[str, object] = reply.json()
        return body

    def stop(self, name: str) -> None:
        """Stop one of the demo's processes."""
        demo.stop({name: self.children.pop(name)})


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Demo]:
    public, page = demo.free_port(), demo.free_port()
    iss = f"https://127.0.0.1:{public}/issuer"
    env = {
        "VAXCERT_PKI_DIR": str(tmp_path / "pki"),
        "VAXCERT_ISSUER_URL": iss,
        "VAXCERT_ENVIRONMENT": "development",
        "VAXCERT_LISTENERS__SIGNER_PUBLIC__PORT": str(public),
        "VAXCERT_LISTENERS__VERIFIER__PORT": str(page),
        "VAXCERT_WORKERS": "1",
        "VAXCERT_THREADS": "2",
    }
    settings = load_settings(
        environment="development",
        pki_dir=tmp_path / "pki",
        issuer_url=iss,
        listeners={"signer_public": {"port": public}, "verifier": {"port": page}},
    )
    pki.init(settings.pki_dir, iss, [], [])
    running = Demo(settings, env, tmp_path)
    try:
        for name in ("signer-public", "verifier"):
            with (tmp_path / f"{name}.log").open("wb") as log:
                running.children[name] = demo.start(SERVICES[name], settings, env, log=log)
        specs = [SERVICES[name] for name in running.children]
        failed = demo.wait_healthy(specs, settings, running.children, 120)
        assert not failed, [(tmp_path / f"{n}.log").read_text() for n in failed]
        yield running
    finally:
        demo.stop(running.children)


def test_a_revoked_card_is_never_a_plain_valid_without_trust_set_up(
    running: Demo, tmp_path: Path
) -> None:
    content = tmp_path / "content.json"
    content.write_text(
        example_content(CANARY, "overseas", 3, certificate_id="9E2EREVOKE01").model_dump_json()
    )
    issued = running.vaxcert("signer", "issue", "--input", str(content), "--out", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    card = tmp_path / "card.qr.txt"
    document = tmp_path / "vdsnc.json"

    before = running.vaxcert("verify", str(card))
    assert before.returncode == 0, before.stdout + before.stderr
    assert "有効 VALID" in before.stdout and "Not revoked" in before.stdout
    assert running.page(card.read_text())["verdict"] == "valid"
    # The VDS-NC is checked against the issuer's signed list of revoked certificate ids.
    vds = running.vaxcert("verify", str(document), "--json")
    assert vds.returncode == 0, vds.stdout + vds.stderr
    assert '"scope": "certificate"' in vds.stdout
    assert running.page(document.read_text())["verdict"] == "valid"

    revoked = running.vaxcert("signer", "revoke", "--certificate-id", "9E2EREVOKE01")
    assert revoked.returncode == 0, revoked.stderr

    cli = running.vaxcert("verify", str(card))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "reason revoked" in cli.stdout and "有効" not in cli.stdout
    # The page was started before the revocation: it fetches the CRL again for each card.
    page = running.page(card.read_text())
    assert page["verdict"] == "invalid"
    assert 'data-code="revoked"' in str(page["html"])
    # The VDS-NC alone, which ICAO's scheme cannot revoke, is refused too: by the list.
    vds = running.vaxcert("verify", str(document))
    assert vds.returncode == 1, vds.stdout + vds.stderr
    assert "reason revoked" in vds.stdout
    alone = running.page(document.read_text())
    assert alone["verdict"] == "invalid"
    assert alone["sheet"]["headline"]["code"] == "sheet_revoked"  # type: ignore[index]

    # The signer's public surface goes away: the CLI, starting from nothing, cannot check.
    running.stop("signer-public")
    offline = running.vaxcert("verify", str(card), "--json")
    assert offline.returncode == 3, offline.stdout + offline.stderr
    assert '"verdict": "valid_revocation_unchecked"' in offline.stdout
    text = running.vaxcert("verify", str(card))
    assert "VALID — REVOCATION NOT CHECKED" in text.stdout
    offline_vds = running.vaxcert("verify", str(document), "--json")
    assert offline_vds.returncode == 3, offline_vds.stdout + offline_vds.stderr
    assert '"uvci_list_missing"' in offline_vds.stdout
    # The running page keeps what it fetched a moment ago (inside the store's limit).
    assert running.page(card.read_text())["verdict"] == "invalid"
    assert running.page(document.read_text())["verdict"] == "invalid"
