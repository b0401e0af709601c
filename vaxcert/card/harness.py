"""Test and benchmark harness: pcscd with the vpcd driver, and virtual cards as processes.

card.md §10: pcscd runs in the foreground without ``--auto-exit`` and with its own reader
configuration, whose vpcd slot listens on a free port (never the default 35963). Only one pcscd
can run per machine (its socket path is fixed), so a pcscd that is already running is reused when
it offers a vpcd slot, and never stopped by us. Everything started here is stopped by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_PID_FILE = Path("/run/pcscd/pcscd.pid")
READER_SLOT0 = "Virtual PCD 00 00"


class HarnessError(RuntimeError):
    """The PC/SC test stack cannot be brought up; the message says why and what to do."""


def pcscd_binary() -> str | None:
    """Path of pcscd, looking in sbin directories that a non-login PATH may miss."""
    for directory in (*os.environ.get("PATH", "").split(os.pathsep), "/usr/sbin", "/sbin"):
        candidate = Path(directory or ".") / "pcscd"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def stack_available() -> str | None:
    """None when pcscd, the vpcd driver and pyscard are installed, else what is missing."""
    if pcscd_binary() is None:
        return "pcscd is not installed (make system-deps)"
    if not VPCD_DRIVER.exists():
        return "vsmartcard-vpcd is not installed (make system-deps)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install -e '.[card]')"
    return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie is not running


def running_pcscd() -> int | None:
    """PID of a live pcscd on this machine, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "pcscd" and _alive(int(entry.name)):
                return int(entry.name)
        except OSError:
            continue
    return None


def _listening_ports(pid: int | None = None) -> set[int]:
    """TCP ports in LISTEN state (of ``pid`` only, when given), read from /proc."""
    inodes: set[str] | None = None
    if pid is not None:
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                columns = line.split()
                if len(columns) < 10 or columns[3] != "0A":
                    continue
                if inodes is not None and columns[9] not in inodes:
                    continue
                ports.add(int(columns[1].rpartition(":")[2], 16))
    return ports


def _free_port_pair() -> int:
    """A port p with p and p+1 free (vpcd opens two slots)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("0.0.0.0", port + 1))  # noqa: S104 - probing, as vpcd binds
                except OSError:
                    continue
        return port
    raise HarnessError("no free pair of TCP ports for vpcd")


@dataclass
class Pcscd:
    """A pcscd offering a vpcd slot on ``port`` (reader ``Virtual PCD 00 00``)."""

    port: int
    pid: int
    process: subprocess.Popen[bytes] | None = None  # set only when this harness started it
    log_path: Path | None = None

    @property
    def started_here(self) -> bool:
        """True when :meth:`stop` will end this pcscd."""
        return self.process is not None

    def log_tail(self, lines: int = 30) -> str:
        """The end of pcscd's log (only for a pcscd started here)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop pcscd by PID if this harness started it; a reused one keeps running."""
        if self.process is None:
            return
        _terminate(self.process, timeout)


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def _vpcd_port_of(pid: int) -> int | None:
    ports = _listening_ports(pid)
    pairs = sorted(p for p in ports if p + 1 in ports)
    return pairs[0] if pairs else None


def start_pcscd(workdir: Path, timeout: float = 10.0) -> Pcscd:
    """Start pcscd in the foreground with a private vpcd slot, or reuse a running one.

    Idempotent: a live pcscd that offers a vpcd slot is reused (and left running). One without
    a vpcd slot (started before vsmartcard-vpcd was installed) is reported, not killed.
    """
    missing = stack_available()
    if missing:
        raise HarnessError(missing)
    existing = running_pcscd()
    if existing is not None:
        deadline = time.monotonic() + 1.0
        port = _vpcd_port_of(existing)
        while port is None and time.monotonic() < deadline:
            time.sleep(0.05)  # it may still be starting
            port = _vpcd_port_of(existing)
        if port is None:
            raise HarnessError(
                f"pcscd (pid {existing}) is running without a vpcd slot (started before "
                "vsmartcard-vpcd was installed, or with --auto-exit): stop it and rerun"
            )
        return Pcscd(port=port, pid=existing)
    binary = pcscd_binary()
    assert binary is not None
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port_pair()
    config_dir = workdir / "reader.conf.d"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "vpcd").write_text(
        'FRIENDLYNAME "Virtual PCD"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {VPCD_DRIVER}\n"
        f"CHANNELID    0x{port:04X}\n"
    )
    log_path = workdir / "pcscd.log"
    with log_path.open("wb") as log:
        # Foreground, no --auto-exit (card.md §10.3 pitfall 6); never --apdu: it logs PINs.
        process = subprocess.Popen(  # noqa: S603 - a fixed system binary, our own arguments
            [binary, "--foreground", "--config", str(config_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    handle = Pcscd(port=port, pid=process.pid, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while not {port, port + 1} <= _listening_ports(process.pid):
        if process.poll() is not None:
            raise HarnessError(f"pcscd exited with {process.returncode}:\n{handle.log_tail()}")
        if time.monotonic() > deadline:
            handle.stop()
            raise HarnessError(f"vpcd did not listen on {port} in {timeout:g} s")
        time.sleep(0.02)
    return handle


@dataclass
class VirtualCardProcess:
    """`vaxcert card serve` for one card key, in its own process, with a JSON-lines card log."""

    card_key: str
    port: int
    pki_dir: Path
    workdir: Path
    pin: str | None = None
    locked: bool = False
    remove_after: int | None = None
    quickack: bool = True
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    _output: IO[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"card-{self.card_key}-{time.monotonic_ns()}.jsonl"

    def start(self) -> VirtualCardProcess:
        """Start the card process (it connects to vpcd and reconnects if needed)."""
        command = [
            sys.executable,
            "-m",
            "launch.cli",
            "card",
            "serve",
            "--resident",
            self.card_key,
            "--port",
            str(self.port),
            "--pki-dir",
            str(self.pki_dir),
            "--log-file",
            str(self.log_path),
        ]
        if self.pin is not None:
            command += ["--pin", self.pin]
        if self.locked:
            command.append("--locked")
        if self.remove_after is not None:
            command += ["--remove-after", str(self.remove_after)]
        if not self.quickack:
            command.append("--no-quickack")
        self._output = (self.workdir / "card-serve.out").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def entries(self) -> list[dict[str, Any]]:
        """The card log so far: control events and APDU headers with status words."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def wait_powered(self, timeout: float = 10.0) -> None:
        """Wait until pcscd has powered the card up (it then reports the card present)."""
        deadline = time.monotonic() + timeout
        while not any(entry["event"] == "power_on" for entry in self.entries()):
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(f"card process exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise HarnessError(f"pcscd did not power the card up within {timeout:g} s")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the card process by PID (pcscd then sees the card removed)."""
        if self.process is not None:
            _terminate(self.process, timeout)
        if self._output is not None:
            self._output.close()
            self._output = None
