"""Private Redis and PostgreSQL servers for the tests, started on free loopback ports in a temp dir.

Tests never fall back to a server on a default port: a shared instance is used only when the
environment names it (``VAXCERT_TEST_REDIS_URL``, ``VAXCERT_TEST_PG_URL``); otherwise the session
starts its own from the Debian packages ``redis-server`` and ``postgresql`` (``make test``
installs them), without persistence, and stops it by PID at the end. Each child gets
PR_SET_PDEATHSIG, so a test run that is killed does not leave a server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from launch.demo import free_port

REDIS_ENV = "VAXCERT_TEST_REDIS_URL"
PG_ENV = "VAXCERT_TEST_PG_URL"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_PR_SET_PDEATHSIG = 1
# --no-sync: a cluster that lives for one test session need not survive a power cut.
INITDB_FLAGS = ("--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync")


class ServiceError(RuntimeError):
    """A test server could not be started; the message says what to install or read."""


@dataclass
class ServerProcess:
    """A server started here: its URL, process and scratch directory (removed on stop)."""

    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    stop_signal: signal.Signals

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for error messages."""
        log = self.directory / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its PID, wait for it, and delete its directory."""
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    def set_parent_death_signal() -> None:
        # After any uid change (which would clear it), just before exec.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))

    return set_parent_death_signal


def _wait_until(
    ready: Callable[[], bool], server: ServerProcess, what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.05)
    server.stop()
    raise ServiceError(f"{what} did not become ready:\n{server.log_tail()}")


def start_redis(timeout: float = 20.0) -> ServerProcess:
    """``redis-server`` on a free loopback port, no RDB/AOF persistence, data in a temp dir."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError("redis-server is missing: `make test` installs the Debian package")
    directory = Path(tempfile.mkdtemp(prefix="vaxcert-test-redis-"))
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    args += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
    args += ["--logfile", str(directory / "server.log")]
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent(signal.SIGTERM),
    )
    server = ServerProcess(f"redis://127.0.0.1:{port}/0", process, directory, signal.SIGTERM)

    def ready() -> bool:
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
            return bool(client.ping())

    _wait_until(ready, server, "redis-server", timeout)
    return server


def _pg_bin() -> Path:
    versions = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name))
    if not versions:
        raise ServiceError("PostgreSQL is missing: `make test` installs the Debian package")
    return versions[-1]


def _run_as() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs under: it refuses root; otherwise the current user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServiceError("running as root, but neither a postgres nor a nobody account exists")


def start_postgres(timeout: float = 60.0) -> ServerProcess:
    """A throwaway PostgreSQL cluster (initdb) on a free loopback port, trust auth for
    ``postgres``, and durability off (fsync, synchronous_commit, full_page_writes): tests do
    not survive a crash of their own server, so they need not pay for it."""
    bin_dir = _pg_bin()
    account = _run_as()
    # Not under pytest's tmp dir: its root-only (0700) parents would lock the server account out.
    directory = Path(tempfile.mkdtemp(prefix="vaxcert-test-pg-"))
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    uid = gid = None
    if account is not None:
        uid, gid = account.pw_uid, account.pw_gid
        for path in (directory, sockets):
            os.chown(path, uid, gid)
    # Only root may set the group list; an empty one drops root's groups.
    groups: list[int] | None = [] if account is not None else None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
    initdb = subprocess.run(
        [str(bin_dir / "initdb"), "--pgdata", str(data), "--username", "postgres", *INITDB_FLAGS],
        capture_output=True,
        env=env,
        cwd=directory,
        check=False,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise ServiceError(f"initdb failed: {initdb.stderr.decode(errors='replace')}")
    port = free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(sockets),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "logging_collector": "off",
    }
    args = [str(bin_dir / "postgres"), "-D", str(data)]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]
    log = directory / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
            # SIGQUIT: immediate shutdown; the cluster is thrown away anyway.
            preexec_fn=_die_with_parent(signal.SIGQUIT),
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    # Fast shutdown on a normal stop: closes sessions, no crash recovery needed.
    server = ServerProcess(url, process, directory, signal.SIGINT)

    def ready() -> bool:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
        ) as conn:
            return conn.execute("select 1").fetchone() == (1,)

    _wait_until(ready, server, "PostgreSQL", timeout)
    return server


@contextlib.contextmanager
def service_url(env_name: str, start: Callable[[], ServerProcess]) -> Iterator[str]:
    """The URL named by ``env_name``, or one of a server started here and stopped afterwards."""
    named = os.environ.get(env_name)
    if named:
        yield named
        return
    try:
        server = start()
    except ServiceError as exc:
        pytest.fail(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


def redis_contents(url: str, prefix: str) -> dict[bytes, bytes]:
    """Every key under ``prefix`` with all it holds as bytes (a string's value; a hash's fields
    and values; a list's items), for scans that nothing personal was kept (C08)."""
    client = redis.Redis.from_url(url)
    contents: dict[bytes, bytes] = {}
    for key in client.scan_iter(f"{prefix}*"):
        kind = client.type(key)
        if kind == b"hash":
            value = b"\n".join(f + b"=" + v for f, v in client.hgetall(key).items())
        elif kind == b"list":
            value = b"\n".join(client.lrange(key, 0, -1))
        elif kind == b"string":
            value = client.get(key) or b""
        else:
            raise AssertionError(f"{key!r}: a {kind!r} the scan does not read")
        contents[key] = value
    return contents
