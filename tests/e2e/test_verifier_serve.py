"""The verifier surface as a real process (`vaxcert serve verifier`, gunicorn) on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from launch.demo import free_port
from tests.verifier import issuance


@pytest.fixture
def served(dev_pki: Path) -> Iterator[str]:
    port = free_port()
    env = dict(
        os.environ,
        VAXCERT_PKI_DIR=str(dev_pki),
        VAXCERT_ISSUER_URL=issuance.ISSUER_URL,
        VAXCERT_LISTENERS__VERIFIER__PORT=str(port),
        VAXCERT_WORKERS="1",
        VAXCERT_THREADS="2",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "serve", "verifier"],
        env=env,
        start_new_session=True,
    )
    base = f"https://127.0.0.1:{port}"  # TLS: a browser gives a camera only to a secure page
    session = requests.Session()
    session.trust_env = False
    session.verify = str(dev_pki / "public-bundle.pem")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if session.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, "verifier exited"
            assert time.monotonic() < deadline, "verifier did not come up"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_the_served_page_verifies_an_uploaded_certificate_page(served: str, dev_pki: Path) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(dev_pki / "public-bundle.pem")
    health = session.get(served + "/healthz", timeout=5).json()
    assert health["trusted_shc_issuers"] == 1 and health["trusted_cscas"] == 1
    overseas = issuance.issue_shc(dev_pki, issuance.overseas_shc_payload())
    page = issuance.certificate_page_png(overseas, issuance.issue_vdsnc(dev_pki))
    reply = session.post(
        served + "/api/verify?frame=1",
        data=page,
        headers={"Content-Type": "image/png"},
        timeout=10,
    )
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "no-store"
    assert [r["valid"] for r in reply.json()["results"]] == [True, True]
    index = session.get(served + "/?lang=en", timeout=5)
    assert "Verify a vaccination certificate" in index.text
