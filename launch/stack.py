"""Test and benchmark harness: the center kiosk API, the VRS stub and the signer as real gunicorn
processes (mTLS on loopback, free ports, a temp dir), optionally with the center's ops surface,
its app API (``APP_PROCESSES``), Redis and a kiosk process in demo mode. Everything started here
is stopped by PID; nothing listens on a default port. Used by the center, kiosk and end-to-end
tests and by the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from launch import demo
from launch.surfaces import SERVICES
from vaxcert import lgcode, pki
from vaxcert.config import Settings, load_settings

ISSUER = "https://127.0.0.1:8446/issuer"
CENTER_PROCESSES = ("vrs", "signer-api", "center-kiosk-api")
# The same back end behind the smartphone app's API (docs/app-api.md).
APP_PROCESSES = (*CENTER_PROCESSES, "center-app-api")
# The seeded municipalities: Kagoshima City and Kirishima (the two-municipalities resident).
SEEDED_CODES = (lgcode.KAGOSHIMA_CITY, lgcode.KIRISHIMA_CITY)


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Stack:
    """A running center + VRS + signer (and maybe kiosk); ``settings`` points at them."""

    root: Path
    env: dict[str, str]
    settings: Settings
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis_prefix: str | None = None

    @property
    def logs(self) -> Path:
        """Where each process logs (``NAME.log``)."""
        return self.root / "logs"

    @property
    def pki_dir(self) -> Path:
        """The stack's own dev PKI."""
        return self.settings.pki_dir

    @property
    def center_cwd(self) -> Path:
        """The working directory of the center, VRS and signer processes."""
        return self.root / "cwd"

    @property
    def temp_dirs(self) -> list[Path]:
        """Where the center's processes could write files: working dir, TMPDIR, metrics (C08)."""
        return [self.center_cwd, self.root / "tmp", self.root / "metrics"]

    @property
    def kiosk_dirs(self) -> dict[str, Path]:
        """The kiosk process's working, temp and home directories (C08 scans them)."""
        return {name: self.root / f"kiosk-{name}" for name in ("cwd", "tmp", "home")}

    def kiosk_url(self) -> str:
        """Base URL of the kiosk process."""
        return self.settings.url("kiosk")

    def start_kiosk(self, extra_env: dict[str, str] | None = None) -> None:
        """``vaxcert serve kiosk`` in demo mode with its own cwd, TMPDIR and HOME."""
        dirs = self.kiosk_dirs
        for directory in dirs.values():
            directory.mkdir(exist_ok=True)
        env = {
            **self.env,
            "VAXCERT_KIOSK__DEMO": "true",
            "TMPDIR": str(dirs["tmp"]),
            "HOME": str(dirs["home"]),
            **(extra_env or {}),
        }
        with (self.logs / "kiosk.log").open("wb") as log:
            self.children["kiosk"] = demo.start(
                SERVICES["kiosk"], self.settings, env, log=log, cwd=dirs["cwd"]
            )
        failed = demo.wait_healthy([SERVICES["kiosk"]], self.settings, self.children, 60)
        if failed:
            raise RuntimeError("kiosk did not start: " + (self.logs / "kiosk.log").read_text())

    def stop_kiosk(self) -> None:
        """Stop the kiosk process only."""
        child = self.children.pop("kiosk", None)
        if child is not None:
            demo.stop({"kiosk": child})

    def stop(self) -> None:
        """Stop every process started here and delete this stack's Redis keys."""
        demo.stop(self.children)
        self.children.clear()
        if self.redis_prefix is not None:
            client = redis.Redis.from_url(self.env["VAXCERT_REDIS_URL"])
            for key in client.scan_iter(f"{self.redis_prefix}*"):
                client.delete(key)


def start_stack(
    root: Path | None = None,
    *,
    residents: int = 20,
    workers: int = 2,
    threads: int = 4,
    processes: Sequence[str] = CENTER_PROCESSES,
    kiosk_certificates: Sequence[str] = ("KIOSK-0001", "KIOSK-0002"),
    redis_url: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Stack:
    """Seed a VRS with ``residents`` (plus the edge cases) and start ``processes``.

    ``kiosk_certificates`` get client certificates (the center's registry is configuration:
    ``VAXCERT_CENTER__KIOSKS`` in ``extra_env``). With ``redis_url`` the center keeps its nonces
    and counters there under a prefix of this stack's own. Raises with the logs if one fails.
    """
    from vrs_stub import seed
    from vrs_stub.store import Store

    root = root or Path(tempfile.mkdtemp(prefix="vaxcert-stack-"))
    pki_dir = root / "pki"
    pki.init(pki_dir, ISSUER, list(kiosk_certificates))
    for directory in ("tmp", "logs", "cwd"):
        (root / directory).mkdir(exist_ok=True)
    env = {
        "VAXCERT_PKI_DIR": str(pki_dir),
        "VAXCERT_ENVIRONMENT": "test",
        "VAXCERT_WORKERS": str(workers),
        "VAXCERT_THREADS": str(threads),
        "VAXCERT_VRS__DATA_DIR": str(root / "vrs"),
        "VAXCERT_CENTER__SERVICE_HOURS": "00:00-00:00",
        "VAXCERT_CENTER__METRICS_DIR": str(root / "metrics"),
        # The center database (console users, audit trail, kiosk states) of this stack.
        "VAXCERT_CENTER__DATA_DIR": str(root / "center"),
        # The ops surface lets nobody in without them; fresh per stack.
        "VAXCERT_CENTER__OPS__METRICS_TOKEN": secrets.token_urlsafe(24),
        "VAXCERT_CENTER__OPS__AUDITOR_TOKEN": secrets.token_urlsafe(24),
        "VAXCERT_ISSUER_URL": ISSUER,
        # A started kiosk's receipt outbox stays with this stack (never another run's file).
        "VAXCERT_KIOSK__OUTBOX_PATH": str(root / "kiosk" / "receipts.json"),
        # Everything a process writes to temp files lands here, where the C08 tests look.
        "TMPDIR": str(root / "tmp"),
    }
    prefix = None
    if redis_url:
        prefix = f"vaxcert-stack-{secrets.token_hex(6)}:"
        env.update({"VAXCERT_REDIS_URL": redis_url, "VAXCERT_REDIS_PREFIX": prefix})
    env.update(extra_env or {})
    for name in (*processes, "kiosk"):
        env[f"VAXCERT_LISTENERS__{SERVICES[name].listener.upper()}__PORT"] = str(demo.free_port())
    with _environ(env):
        settings = load_settings()
    stack = Stack(root, env, settings, redis_prefix=prefix)
    store = Store.from_settings(settings)
    try:
        store.migrate()
        seed.seed(store, list(SEEDED_CODES), residents)
    finally:
        store.dispose()
    try:
        for name in processes:
            with (stack.logs / f"{name}.log").open("wb") as log:
                stack.children[name] = demo.start(
                    SERVICES[name], settings, env, log=log, cwd=stack.center_cwd
                )
        failed = demo.wait_healthy([SERVICES[n] for n in processes], settings, stack.children, 120)
        if failed:
            logs = "".join((stack.logs / f"{n}.log").read_text() for n in failed)
            raise RuntimeError(f"not healthy: {failed}: {logs}")
    except BaseException:
        stack.stop()
        raise
    return stack


@dataclass(frozen=True)
class SeededRequest:
    """A kiosk's ``POST /v1/kiosk/certificates`` body (without its nonce) for a resident of the
    seeded population, and the doses a right answer shows: (number, ISO date, lot) in order."""

    body: dict[str, Any]
    doses: tuple[tuple[int, str, str], ...]
    birth_date: str


def seeded_requests(settings: Settings, count: int) -> list[SeededRequest]:
    """Requests for ``count`` residents of the seeded population who get a certificate: with
    doses, in a seeded municipality, with no flag that sends them to the counter. Their card
    files are signed by the stack's dev J-LIS CA."""
    from vaxcert.card import cards
    from vaxcert.residents import SyntheticResident
    from vrs_stub import seed

    issuer = cards.CardIssuer.from_pki(settings.pki_dir)
    population = seed.Population.of(list(SEEDED_CODES))
    requests: list[SeededRequest] = []
    index = 0
    while len(requests) < count:
        person = seed.synthetic_person(index, seed.DEFAULT_SEED, population)
        index += 1
        done = [v for v in person.vaccinations if v.status == "done" and v.vaccinated_on]
        if (
            not done
            or person.municipality_code not in SEEDED_CODES
            or person.support_measure
            or person.residency != "resident"
        ):
            continue
        who = person.identity
        resident = SyntheticResident(
            key=f"seeded-{index}",
            family_kanji=who.family_kanji,
            given_kanji=who.given_kanji,
            family_kana=who.family_kana,
            given_kana=who.given_kana,
            family_roman="SEEDED",
            given_roman="RESIDENT",
            my_number=who.my_number,
            birth_date=who.birth_date,
            sex=who.sex,
            municipality_code=person.municipality_code,
            address=who.address,
            pin="1234",
            passport=None,
            description="seeded resident",
        )
        files = cards.issue_files(resident, issuer, cards.ap_key("seeded"))
        body = {
            "card": files.to_json(),
            "municipality_code": person.municipality_code,
            "kind": "domestic",
            "consent": {"terms_version": settings.center.terms_version, "accepted": True},
        }
        doses = tuple(
            (v.dose_number, v.vaccinated_on.isoformat(), v.lot_number or "")
            for v in sorted(done, key=lambda v: (v.vaccinated_on, v.dose_number))
            if v.vaccinated_on is not None
        )
        requests.append(SeededRequest(body, doses, who.birth_date.isoformat()))
    return requests


def remove(stack: Stack) -> None:
    """Stop everything and delete the stack's directory."""
    stack.stop()
    shutil.rmtree(stack.root, ignore_errors=True)
