"""The VRS as the product runs it: `vaxcert serve vrs` under gunicorn, and `vaxcert demo`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from launch.demo import free_port
from vaxcert import pki, residents, tls
from vaxcert.config import load_settings
from vrs_stub import seed
from vrs_stub.store import Store

pytestmark = pytest.mark.slow


def _session(pki_dir: Path, name: str) -> requests.Session:
    return tls.client_session(
        pki.cert_path(pki_dir, "lgwan-ca"),
        pki.cert_path(pki_dir, name),
        pki.key_path(pki_dir, name),
    )


def _query(session: requests.Session, base: str) -> requests.Response:
    canary = residents.CANARY
    return session.post(
        f"{base}/v1/records/query",
        json={
            "municipality_code": canary.municipality_code,
            "my_number": canary.my_number,
            "name": canary.name_kanji,
            "birth_date": canary.birth_date.isoformat(),
            "certificate_kind": "domestic",
            "channel": "kiosk",
        },
        timeout=10,
    )


def _wait_healthy(session: requests.Session, base: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert child.poll() is None, "the service exited"
        try:
            if session.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail("the service did not become healthy")


@pytest.fixture
def child_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a child vaxcert process: own PKI, own port, own data dir."""
    own_pki = tmp_path / "pki"
    pki.init(own_pki, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"], ["127.0.0.1"])
    pki.issue_terminal_cert(own_pki, "lgwan-terminal-462012")
    env = dict(
        os.environ,
        VAXCERT_PKI_DIR=str(own_pki),
        VAXCERT_LISTENERS__VRS__PORT=str(free_port()),
        VAXCERT_VRS__DATA_DIR=str(tmp_path / "vrs"),
        VAXCERT_WORKERS="1",
        VAXCERT_THREADS="4",
        VAXCERT_ENVIRONMENT="test",
    )
    yield env


def _stop(child: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if child.poll() is None:
        os.killpg(child.pid, sig)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def test_c09_serve_vrs_under_gunicorn_answers_the_center(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    settings = load_settings(
        environment="test",
        pki_dir=child_env["VAXCERT_PKI_DIR"],
        vrs={"data_dir": child_env["VAXCERT_VRS__DATA_DIR"]},
    )
    store = Store.from_settings(settings)
    store.migrate()
    seed.seed(store, ["462012"], 20)
    store.dispose()
    base = f"https://127.0.0.1:{child_env['VAXCERT_LISTENERS__VRS__PORT']}"
    child = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "serve", "vrs"],
        env=child_env,
        cwd=tmp_path,
        start_new_session=True,
    )
    pki_dir = Path(child_env["VAXCERT_PKI_DIR"])
    try:
        with _session(pki_dir, "center-lgwan-client") as center:
            _wait_healthy(center, base, child)
            reply = _query(center, base)
            assert reply.status_code == 200 and reply.json()["result"] == "match"
        with _session(pki_dir, "lgwan-terminal-462012") as terminal:
            assert _query(terminal, base).status_code == 403
        with (
            _session(pki_dir, "kiosk-KIOSK-0001") as kiosk,
            pytest.raises(requests.RequestException),
        ):
            _query(kiosk, base)
    finally:
        _stop(child)


def test_demo_seeds_a_vrs_and_cleans_up(child_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(child_env)
    del env["VAXCERT_VRS__DATA_DIR"]  # the demo makes its own temp dir
    child = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "demo", "--only", "vrs"],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    banner: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = child.stdout.readline().decode()
            if not line:
                break
            banner.append(line)
            if "Demo cards" in line:
                break
        text = "".join(banner)
        assert "vaxcert demo is running" in text, text
        token = re.search(r"Bearer (vrs1\.\S+)", text)
        where = re.search(r"residents in (\S+)", text)
        assert token and where, text
        data_dir = Path(where.group(1))
        assert (data_dir / "vrs.sqlite3").exists()
        base = f"https://127.0.0.1:{env['VAXCERT_LISTENERS__VRS__PORT']}"
        pki_dir = Path(env["VAXCERT_PKI_DIR"])
        with _session(pki_dir, "center-lgwan-client") as center:
            assert _query(center, base).json()["result"] == "match"
        with _session(pki_dir, "lgwan-terminal-462012") as terminal:
            export = terminal.get(
                f"{base}/v1/staff/municipalities/462012/records/export",
                headers={"Authorization": f"Bearer {token.group(1)}"},
                timeout=30,
            )
            assert export.status_code == 200 and residents.CANARY.family_kanji in export.text
    finally:
        _stop(child, signal.SIGINT)
    assert child.returncode == 0
    assert not data_dir.exists()  # the temp VRS is gone with the demo
