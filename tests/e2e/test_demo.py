"""`vaxcert demo` starts every service as its own process and Ctrl-C stops them all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from launch.demo import free_port
from launch.surfaces import SERVICES
from vaxcert import pki


@pytest.mark.slow
def test_demo_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    env = dict(
        os.environ, VAXCERT_PKI_DIR=str(tmp_path / "pki"), VAXCERT_WORKERS="1", VAXCERT_THREADS="2"
    )
    for spec in SERVICES.values():
        env[f"VAXCERT_LISTENERS__{spec.listener.upper()}__PORT"] = str(free_port())
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "launch.cli", "demo"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while "Ctrl-C stops everything" not in log.read_text() and time.monotonic() < deadline:
                assert demo.poll() is None, log.read_text()
                time.sleep(0.2)
            text = log.read_text()
            assert "Ctrl-C stops everything" in text, text
            for spec in SERVICES.values():
                assert spec.name in text
            assert "canary" in text and "PIN 1234" in text
            assert "Not built yet" not in text
            assert "/demo" in text and "locked-card" in text  # kiosk demo panel, edge cases
            # /metrics is never open, in the demo either: the banner gives this run's token.
            token = re.search(r"metrics token (\S+?)(;|$)", text, re.M)
            assert token is not None, text
            ops = f"https://127.0.0.1:{env['VAXCERT_LISTENERS__CENTER_OPS__PORT']}/metrics"
            ca = str(pki.cert_path(tmp_path / "pki", "public-ca"))
            with requests.Session() as session:
                session.trust_env = False
                assert session.get(ops, verify=ca, timeout=10).status_code == 401
                bearer = {"Authorization": f"Bearer {token.group(1)}"}
                assert session.get(ops, verify=ca, headers=bearer, timeout=10).status_code == 200
                _console_sign_in(session, ops.removesuffix("/metrics") + "/ops", ca, text)
            children = subprocess.run(
                ["pgrep", "-g", str(demo.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            os.kill(demo.pid, signal.SIGINT)
            assert demo.wait(timeout=30) == 0
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
    ports_free = []
    for spec in SERVICES.values():
        port = int(env[f"VAXCERT_LISTENERS__{spec.listener.upper()}__PORT"])
        with socket.socket() as probe:
            ports_free.append(probe.connect_ex(("127.0.0.1", port)) != 0)
    assert all(ports_free), "a service still listens after Ctrl-C"
    for pid in children:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def _console_sign_in(session: requests.Session, console: str, ca: str, banner: str) -> None:
    """The operator login the banner prints works: user id, password, TOTP secret (C17)."""
    import pyotp

    login = re.search(r"demo-admin\s+password (\S+)\s+TOTP secret (\S+)", banner)
    assert login is not None, banner
    page = session.get(console + "/login", verify=ca, timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None, page
    signed_in = session.post(
        console + "/login",
        data={
            "csrf_token": token.group(1),
            "user_id": "demo-admin",
            "password": login.group(1),
            "code": pyotp.TOTP(login.group(2)).now(),
        },
        headers={"Referer": console + "/login"},
        verify=ca,
        timeout=30,
        allow_redirects=False,
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/ops/fleet")
    fleet = session.get(console + "/fleet", verify=ca, timeout=10)
    assert fleet.status_code == 200 and "KIOSK-0001" in fleet.text
