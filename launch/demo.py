"""`vaxcert demo`: every service as its own process on loopback, with the development PKI.

Needs no Redis, PostgreSQL, pcscd or HSM: each service falls back to its embedded default
(design.md §6). Ctrl-C (or SIGTERM) stops every child and waits for it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import IO

import requests

from launch import lifetime, vrs_demo
from launch.surfaces import SERVICES, ServiceSpec
from vaxcert import pki, residents, tls
from vaxcert.config import Settings

# The demo's kiosk starts with an empty reader and offers the device panel at /demo.
KIOSK_DEMO_ENV = {"VAXCERT_KIOSK__DEMO": "true"}


def free_port() -> int:
    """A TCP port free on loopback right now (for services started on ephemeral ports)."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


def probe(spec: ServiceSpec, settings: Settings, timeout: float = 2.0) -> dict[str, object]:
    """GET /healthz of ``spec`` over its real channel (mTLS with the probe client's cert)."""
    url = settings.url(spec.listener) + "/healthz"
    if spec.tls == "plain":
        session = requests.Session()
        session.trust_env = False
    else:
        files = spec.files(settings)
        assert files["server_ca"] is not None
        cert = key = None
        if spec.probe_client:
            cert = pki.cert_path(settings.pki_dir, spec.probe_client)
            key = pki.key_path(settings.pki_dir, spec.probe_client)
        session = tls.client_session(files["server_ca"], cert, key)
    with session:
        response = session.get(url, timeout=timeout)
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body


def start(
    spec: ServiceSpec,
    settings: Settings,
    extra_env: Mapping[str, str] | None = None,
    log: IO[bytes] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``vaxcert serve NAME`` as a child in its own session (logs to ``log``).

    The child runs in the caller's environment (development, test) and PKI directory; ``extra_env``
    may override anything. The child dies with the calling process, however that one ends
    (:mod:`launch.lifetime`).
    """
    env = {
        **os.environ,
        "VAXCERT_PKI_DIR": str(settings.pki_dir),
        "VAXCERT_ENVIRONMENT": settings.environment,
        **(extra_env or {}),
        **lifetime.child_env(),
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "launch.cli", "serve", spec.name],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def wait_healthy(
    specs: Iterable[ServiceSpec],
    settings: Settings,
    children: dict[str, subprocess.Popen[bytes]],
    deadline: float = 30.0,
) -> list[str]:
    """Wait until every service answers; returns the names that did not."""
    pending = list(specs)
    end = time.monotonic() + deadline
    while pending and time.monotonic() < end:
        for spec in list(pending):
            if children[spec.name].poll() is not None:
                continue
            try:
                probe(spec, settings, timeout=1.0)
            except (requests.RequestException, ValueError):
                continue
            pending.remove(spec)
        if pending:
            time.sleep(0.2)
    return [spec.name for spec in pending]


def stop(children: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM every child's process group, then SIGKILL whatever is left after ``grace``."""
    for child in children.values():
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    end = time.monotonic() + grace
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _demo_ops_tokens(settings: Settings) -> tuple[dict[str, str], list[str]]:
    """Bearer tokens of this run for the ops surface, unless configured: /metrics is never open."""
    ops = settings.center.ops
    env: dict[str, str] = {}
    shown: list[str] = []
    for name, configured in (
        ("METRICS", ops.metrics_token or ops.metrics_token_file),
        ("AUDITOR", ops.auditor_token or ops.auditor_token_file),
    ):
        if configured is None:
            token = secrets.token_urlsafe(24)
            env[f"VAXCERT_CENTER__OPS__{name}_TOKEN"] = token
            shown.append(f"{name.lower()} token {token}")
    notes = []
    if shown:
        url = settings.url("center_ops")
        notes = [
            f"  Ops:      {url}/metrics and {url}/audit/refusals take a bearer token;",
            f"            this run's: {'; '.join(shown)}",
        ]
    return env, notes


def _demo_operators(settings: Settings, data_dir: Path) -> tuple[dict[str, str], list[str]]:
    """A demo admin and auditor in this run's center database, and how to sign in as them."""
    from cert_center.console.db import CenterDb
    from cert_center.console.users import UserStore

    env = {"VAXCERT_CENTER__DATA_DIR": str(data_dir)}
    local = settings.model_copy(
        update={"center": settings.center.model_copy(update={"data_dir": data_dir})}
    )
    database = CenterDb.from_settings(local)
    database.migrate()
    users = UserStore(database)
    url = settings.url("center_ops")
    notes = [
        f"  Console:  {url}/ops  (user id, password, then the 6-digit code of an authenticator",
        "            app holding the TOTP secret, e.g. `oathtool --totp -b SECRET`)",
    ]
    for user_id, role in (("demo-admin", "admin"), ("demo-auditor", "auditor")):
        password = secrets.token_urlsafe(12)
        made = users.add(user_id, role, password)  # type: ignore[arg-type]
        notes.append(
            f"            {user_id:13} password {password}  TOTP secret {made.totp_secret}"
        )
    database.dispose()
    return env, notes


def banner(settings: Settings, specs: Iterable[ServiceSpec], notes: Iterable[str] = ()) -> str:
    """What the demo prints once everything answers."""
    lines = ["", "vaxcert demo is running (Ctrl-C stops everything)", ""]
    for spec in specs:
        channel = {"mtls": "mTLS", "tls": "TLS", "plain": "http"}[spec.tls]
        lines.append(
            f"  {spec.name:18} {settings.url(spec.listener):28} {channel:5} {spec.description}"
        )
    lines += [
        "",
        f"  Kiosk:    {settings.url('kiosk')}/demo  (the kiosk screen beside a demo device panel:",
        "            insert a virtual card, insert coins, take the paper, jam the printer)",
        f"            {settings.url('kiosk')}/  (the bare kiosk screen, as in the store)",
        f"  Verifier: {settings.url('verifier')}/",
        "  App:      vaxcert --dev app-client --resident canary --pin 1234 --municipality 462012",
        "            --kind overseas --out ./my-certificate  (the smartphone app: docs/app-api.md)",
        f"  PKI:      {settings.pki_dir} (CA for TLS pages: public-ca.crt.pem)",
        f"  Mode:     {settings.environment}: the development PKI is trusted, with a warning at",
        "            every use; other commands on it take `vaxcert --dev …`",
        *notes,
        "",
        "  Demo cards (virtual My Number cards):",
    ]
    for resident in residents.RESIDENTS.values():
        lines.append(
            f"    {resident.key:18} PIN {resident.pin}  {resident.name_kanji} "
            f"({resident.name_roman})  {resident.municipality_code}  "
            f"{resident.description}"
        )
    from vaxcert.card.cards import EDGE_CASES

    lines += ["", "  Card edge cases (the canary's card, altered):"]
    for case in EDGE_CASES.values():
        pin = residents.get(case.base).pin
        lines.append(f"    {case.key:18} PIN {pin}  {case.description}")
    lines.append("")
    return "\n".join(lines)


def run(settings: Settings, only: Iterable[str] = ()) -> int:
    """Run the demo until interrupted; returns the process exit code."""
    wanted = list(only) or list(SERVICES)
    unknown = [name for name in wanted if name not in SERVICES]
    if unknown:
        print(f"unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    made = pki.init(
        settings.pki_dir,
        settings.issuer_url,
        settings.demo_kiosks,
        sorted({listener.host for _, listener in settings.listeners}),
    )
    if made:
        print(f"development PKI: created {', '.join(made)} in {settings.pki_dir}")
    specs = [SERVICES[name] for name in wanted]
    # The VRS stub seeds its demo records first (a temp SQLite file unless a database is set).
    demo_vrs = vrs_demo.prepare(settings) if "vrs" in wanted else vrs_demo.DemoVrs()
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # The center's processes share metric files for this run only.
    metrics_dir = tempfile.mkdtemp(prefix="vaxcert-demo-metrics-")
    ops_env, ops_notes = _demo_ops_tokens(settings)
    # The console's users, audit trail and kiosk states: this run's own, unless configured.
    center_dir = None
    if "center-ops" in wanted and settings.center.database_url is None:
        center_dir = Path(tempfile.mkdtemp(prefix="vaxcert-demo-center-"))
        console_env, console_notes = _demo_operators(settings, center_dir)
        ops_env.update(console_env)
        ops_notes += console_notes
    try:
        for spec in specs:
            env = {"VAXCERT_CENTER__METRICS_DIR": metrics_dir, **ops_env, **demo_vrs.env}
            if "service_hours" not in settings.center.model_fields_set:
                # A demo is tried at any hour; configured hours (06:30-23:00 JST by default in
                # production) still apply when set explicitly.
                env["VAXCERT_CENTER__SERVICE_HOURS"] = "00:00-00:00"
            if spec.name == "kiosk":
                env.update(KIOSK_DEMO_ENV)
            children[spec.name] = start(spec, settings, env)
        failed = wait_healthy(specs, settings, children)
        if failed:
            print(f"did not become healthy: {', '.join(failed)}", file=sys.stderr)
            return 1
        print(banner(settings, specs, [*demo_vrs.notes, *ops_notes]), flush=True)
        while not stopping:
            dead = [name for name, child in children.items() if child.poll() is not None]
            if dead:
                print(f"service(s) exited: {', '.join(dead)}; stopping", file=sys.stderr)
                return 1
            time.sleep(0.3)
        print("stopping...", flush=True)
        return 0
    finally:
        stop(children)
        shutil.rmtree(metrics_dir, ignore_errors=True)
        if center_dir is not None:
            shutil.rmtree(center_dir, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
