"""Private Redis and PostgreSQL servers, started on free loopback ports in a temp dir.

The tests (tests/support/services.py), the production topology on loopback (launch/topology.py)
and the benchmarks start their own from the Debian packages ``redis-server`` and ``postgresql``
(the Makefile installs them), without persistence, and stop them by PID; a server on a default
port is never used. Each child gets PR_SET_PDEATHSIG, so a launcher that is killed does not leave
a server behind. A server can be restarted on the same port and data (the topology tests'
outages).
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from launch.demo import free_port

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_PR_SET_PDEATHSIG = 1
# --no-sync: a cluster that lives for one test session need not survive a power cut.
INITDB_FLAGS = ("--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync")


class ServiceError(RuntimeError):
    """A server could not be started; the message says what to install or read."""


@dataclass
class ServerProcess:
    """A server started here: its URL, process and scratch directory (removed on stop)."""

    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    stop_signal: signal.Signals
    # How to start it again on the same port and data, and when it is ready.
    spawn: Callable[[], subprocess.Popen[bytes]] | None = None
    ready: Callable[[], bool] | None = None

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for error messages."""
        log = self.directory / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def halt(self, timeout: float = 10.0) -> None:
        """Stop the server by its PID and wait for it; its directory (and data) stays."""
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Start the server again, on the same port and data, after :meth:`halt`."""
        assert self.spawn is not None and self.ready is not None
        self.halt()
        self.process = self.spawn()
        _wait_until(self.ready, self, "the restarted server", timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its PID, wait for it, and delete its directory."""
        self.halt(timeout)
        shutil.rmtree(self.directory, ignore_errors=True)


def parent_death_signal(sig: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the thread that started it ends."""

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

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - Debian's server binaries, our arguments
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=parent_death_signal(signal.SIGTERM),
            # Its own session: a Ctrl-C for the launcher does not reach it (the launcher stops it).
            start_new_session=True,
        )

    def ready() -> bool:
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
            return bool(client.ping())

    url = f"redis://127.0.0.1:{port}/0"
    server = ServerProcess(url, spawn(), directory, signal.SIGTERM, spawn, ready)
    _wait_until(ready, server, "redis-server", timeout)
    return server


def pg_bin() -> Path:
    """The newest PostgreSQL server binaries (Debian: /usr/lib/postgresql/VERSION/bin)."""
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
    bin_dir = pg_bin()
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
    initdb = subprocess.run(  # noqa: S603 - Debian's initdb, our arguments
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

    def spawn() -> subprocess.Popen[bytes]:
        with log.open("ab") as log_file:
            return subprocess.Popen(  # noqa: S603 - Debian's server binaries, our arguments
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=directory,
                # SIGQUIT: immediate shutdown; the cluster is thrown away anyway.
                preexec_fn=parent_death_signal(signal.SIGQUIT),
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=groups,
            )

    def ready() -> bool:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
        ) as conn:
            return conn.execute("select 1").fetchone() == (1,)

    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    # Fast shutdown on a normal stop: closes sessions, no crash recovery needed.
    server = ServerProcess(url, spawn(), directory, signal.SIGINT, spawn, ready)
    _wait_until(ready, server, "PostgreSQL", timeout)
    return server
