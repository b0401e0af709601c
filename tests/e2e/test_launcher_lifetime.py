"""A launcher's services die with it: SIGKILL the launcher and nothing it started keeps running
or keeps a port (launch/lifetime.py). Real processes, real ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from launch.demo import free_port
from launch.surfaces import SERVICES

pytestmark = pytest.mark.slow

# gunicorn stops gracefully on SIGTERM (graceful_timeout 5 s); more slack for a busy machine.
GONE_WITHIN = 15.0


def _parents() -> dict[int, int]:
    """pid -> ppid of every process now."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        table[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return table


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (children, their children, ...)."""
    parents = _parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    # A zombie waits only for its new parent to reap it: it runs nothing and holds no port.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def assert_all_gone(pids: set[int], ports: list[int], within: float = GONE_WITHIN) -> None:
    """Every pid ends and every port is free again within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = {pid for pid in pids if _alive(pid)}
        held = [port for port in ports if _listening(port)]
        if not running and not held:
            return
        time.sleep(0.2)
    for pid in running:  # do not leave them behind for the next test
        os.kill(pid, signal.SIGKILL)
    pytest.fail(f"still running after {within:g} s: {sorted(running)}; ports still held: {held}")


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        assert process.poll() is None, content
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen in {timeout:g} s:\n{log.read_text()}")


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Launchers a test starts; whatever is still running at the end is killed with its tree."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        tree = descendants(process.pid)
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in tree:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_services_die_with_a_killed_launcher(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    ports = {spec.listener: free_port() for spec in SERVICES.values()}
    env = dict(
        os.environ, VAXCERT_PKI_DIR=str(tmp_path / "pki"), VAXCERT_WORKERS="2", VAXCERT_THREADS="2"
    )
    env.update({f"VAXCERT_LISTENERS__{name.upper()}__PORT": str(p) for name, p in ports.items()})
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "launch.cli", "demo"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launched.append(demo)
    _wait_for(log, "Ctrl-C stops everything", demo, 120)
    tree = descendants(demo.pid)
    # Eight gunicorn masters, each with its workers: all of them below the launcher.
    assert len(tree) > len(SERVICES), tree
    assert all(_listening(port) for port in ports.values())

    demo.kill()  # no handler runs: only the kernel can stop the services now
    demo.wait()
    assert_all_gone(tree, list(ports.values()))


def test_stack_services_die_with_a_killed_owner(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    script = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        from launch.stack import start_stack

        stack = start_stack(Path(sys.argv[1]), residents=2, workers=2, threads=2)
        stack.start_kiosk()
        ports = [stack.settings.listeners.kiosk.port] + [
            getattr(stack.settings.listeners, listener).port
            for listener in ("vrs", "signer_api", "center_kiosk_api")
        ]
        print(json.dumps(ports), flush=True)
        time.sleep(600)
        """
    )
    log = tmp_path / "owner.log"
    with log.open("wb") as out:
        owner = subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "stack")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launched.append(owner)
    output = _wait_for(log, "]", owner, 180)
    ports = json.loads(output[output.rindex("[") :].splitlines()[0])
    tree = descendants(owner.pid)
    assert len(tree) >= 4, tree
    assert all(_listening(port) for port in ports)

    owner.kill()
    owner.wait()
    assert_all_gone(tree, ports)


def test_gunicorn_workers_die_with_their_master(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    from vaxcert import pki

    pki_dir = tmp_path / "pki"
    pki.init(pki_dir, "https://127.0.0.1:8446/issuer", [])
    port = free_port()
    env = dict(
        os.environ,
        VAXCERT_ENVIRONMENT="test",
        VAXCERT_PKI_DIR=str(pki_dir),
        VAXCERT_LISTENERS__VERIFIER__PORT=str(port),
        VAXCERT_WORKERS="3",
        VAXCERT_THREADS="2",
    )
    master = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "serve", "verifier"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    launched.append(master)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(pki_dir / "public-bundle.pem")  # the verifier page is served over TLS
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 3:
        assert master.poll() is None, "the verifier exited"
        assert time.monotonic() < deadline, f"3 workers did not come up: {workers}"
        try:
            session.get(f"https://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
            workers = descendants(master.pid)
        except requests.RequestException:
            pass
        time.sleep(0.2)

    master.kill()
    master.wait()
    assert_all_gone(workers, [port])
