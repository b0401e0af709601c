"""App API benchmark: applications/s through the app API end to end, against the kiosk path.

    .venv/bin/python -P bench/app.py [--residents 2000] [--seconds 30] [--clients 32]
        [--client-processes 4] [--workers 2] [--threads 8] [--env NAME=VALUE ...]

Starts VRS (seeded), signer-api, center-kiosk-api and center-app-api (`launch.stack`, gunicorn
gthread, TLS; Redis shared) and drives, in the same run:

1. the kiosk path: ``POST /v1/kiosk/certificates`` over the kiosk's mTLS channel (bench/center.py's
   driver), the baseline;
2. the app path: per client one registered app instance (dev attestation), and per application a
   challenge, then ``POST /api/v1/app/certificates`` signed by the instance key: attestation, card
   check (C03), VRS, signing, the PDF and its PNG image.

Prints applications/s, p50/p99, errors, the ratio app/kiosk, CPU per request of each service and
of the load processes (they share the CPUs with the services) in both phases, from each phase's
common start to its end, how many CPUs the services, the load and the rest of the machine kept
busy, and what one application's CPU goes to in the app API (PDF, PNG, signature checks),
measured in this process. Targets (design.md §5): >= 150 applications/s with images on two
cores, p99 <= 300 ms. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/center.py's driver and CPU reader, imported rather than copied: the checkout's root on
# the path (spawned load processes inherit it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app_client.client import AppClient, DevPlatform, HttpsTransport, InstanceState
from bench.center import _client, _cpu_seconds, in_threads, summarise, timed_loop
from launch.stack import APP_PROCESSES, remove, seeded_requests, start_stack
from vaxcert import attestation, pki
from vaxcert.certificate.image import render_certificate_png
from vaxcert.certificate.pdf import page_codes, render_certificate
from vaxcert.config import Settings
from vaxcert.contracts.kiosk_api import CertificateIssued

_SPAWN_SECONDS = 8


def _cpu_at(moment: float) -> Callable[[], float]:
    """This process's CPU (every thread) at ``moment``: the load measured from the common start,
    not its spawn, imports and registrations."""
    taken: list[float] = []
    sampler = threading.Timer(
        max(0.0, moment - time.time()), lambda: taken.append(time.process_time())
    )
    sampler.start()

    def value() -> float:
        sampler.join()
        return taken[0]

    return value


def _app_client(
    args: tuple[str, str, str, list[dict[str, Any]], float, float, int],
) -> tuple[list[float], int, float]:
    """One load process: ``threads`` app instances, each with its kept-alive TLS session; its
    latencies, errors and CPU seconds from the common start."""
    pki_dir, base, app_id, bodies, start, end, threads = args
    directory = Path(pki_dir)
    platform = DevPlatform(directory, app_id)
    cpu_at_start = _cpu_at(start)

    def worker(offset: int) -> tuple[list[float], int]:
        client = AppClient(HttpsTransport(base, pki.cert_path(directory, "public-ca")))
        state = InstanceState.load_or_create(Path(tempfile.mkdtemp(prefix="bench-app-")))
        client.register(state, platform)
        time.sleep(max(0.0, start - time.time()))

        def attempt(i: int) -> bool:
            issued = client.apply(state, bodies[i % len(bodies)])
            return bool(issued.get("image_png")) and bool(issued.get("pdf"))

        return timed_loop(attempt, offset, end)

    latencies, errors = in_threads(worker, threads)
    return latencies, errors, time.process_time() - cpu_at_start()


def _kiosk_client(
    args: tuple[str, str, list[dict[str, Any]], float, float, int, str],
) -> tuple[list[float], int, float]:
    """bench/center.py's kiosk load process, with its CPU seconds from the common start."""
    cpu_at_start = _cpu_at(args[3])
    latencies, errors = _client(args)
    return latencies, errors, time.process_time() - cpu_at_start()


class _Phase:
    """One driven phase: the load's results and the CPU seconds every service and the load
    processes used between its common start and its end."""

    def __init__(
        self, figures: dict[str, float], services: dict[str, float], load: float, machine: float
    ) -> None:
        self.figures = figures
        self.services = services
        self.load = load
        self.machine = machine  # every CPU's busy time, whoever used it
        self.opens = 0.0  # TCP connections the machine opened (relay calls that reconnected)

    def per_request_ms(self, cpu_seconds: float) -> float:
        return cpu_seconds * 1000 / max(1, int(self.figures["requests"]))


_MACHINE = "machine"


def _machine_busy_seconds() -> float:
    """Busy time of all CPUs so far (/proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


_OPENS = "tcp-active-opens"


def _tcp_active_opens() -> float:
    """TCP connections this machine opened so far (/proc/net/snmp ActiveOpens, every process)."""
    header, values = [
        line.split()
        for line in Path("/proc/net/snmp").read_text().splitlines()
        if line.startswith("Tcp:")
    ]
    return float(values[header.index("ActiveOpens")])


def _run_phase(
    children: dict[str, Any],
    job: Callable[[Any], tuple[list[float], int, float]],
    jobs: list[Any],
    start: float,
    seconds: float,
) -> _Phase:
    """Run ``jobs`` in load processes and read the services' CPU at ``start`` and at the end."""
    marks: list[dict[str, float]] = []

    def mark() -> None:
        marks.append(
            {
                **{name: _cpu_seconds(child.pid) for name, child in children.items()},
                _MACHINE: _machine_busy_seconds(),
                _OPENS: _tcp_active_opens(),
            }
        )

    at_start = threading.Timer(max(0.0, start - time.time()), mark)
    at_start.start()
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        results = pool.map(job, jobs)
    at_start.join()
    mark()
    services = {name: marks[1][name] - marks[0][name] for name in children}
    figures = summarise([(lat, errors) for lat, errors, _ in results], seconds)
    load = sum(cpu for _, _, cpu in results)
    phase = _Phase(figures, services, load, marks[1][_MACHINE] - marks[0][_MACHINE])
    phase.opens = marks[1][_OPENS] - marks[0][_OPENS]
    return phase


def _drive_kiosk(
    settings: Settings,
    children: dict[str, Any],
    bodies: list[dict[str, Any]],
    seconds: float,
    clients: int,
    procs: int,
    spawn_seconds: float,
) -> _Phase:
    per = max(1, clients // procs)
    start = time.time() + spawn_seconds
    base = settings.url("center_kiosk_api")
    job = (str(settings.pki_dir), base, bodies, start, start + seconds, per, "issue")
    return _run_phase(children, _kiosk_client, [job] * procs, start, seconds)


def _drive_app(
    settings: Settings,
    children: dict[str, Any],
    bodies: list[dict[str, Any]],
    seconds: float,
    clients: int,
    procs: int,
    spawn_seconds: float,
) -> _Phase:
    per = max(1, clients // procs)
    # Each load process spawns, imports and registers its instances before the common start.
    start = time.time() + spawn_seconds
    base = settings.url("center_app_api")
    app_id = settings.center.app.app_id
    job = (str(settings.pki_dir), base, app_id, bodies, start, start + seconds, per)
    return _run_phase(children, _app_client, [job] * procs, start, seconds)


def _median_ms(call: Any, rounds: int = 15) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def _parts(settings: Settings, body: dict[str, Any]) -> dict[str, float]:
    """CPU of the app API's own steps for one application, in this process."""
    client = AppClient(
        HttpsTransport(settings.url("center_app_api"), pki.cert_path(settings.pki_dir, "public-ca"))
    )
    state = InstanceState.load_or_create(Path(tempfile.mkdtemp(prefix="bench-app-")))
    client.register(state, DevPlatform(settings.pki_dir, settings.center.app.app_id))
    issued = client.apply(state, body)
    certificate = CertificateIssued.model_validate(issued["certificate"])
    codes = page_codes(certificate)
    dpi = settings.center.app.image_dpi
    raw = json.dumps(body).encode()
    signature = attestation.sign_request(state.key, "POST", "/x", "c" * 43, raw)
    key = state.key.public_key()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    message = attestation.signing_input("POST", "/x", "c" * 43, raw)
    der = attestation.b64url_decode(signature)
    return {
        "QR symbols (page_codes)": _median_ms(lambda: page_codes(certificate)),
        "PDF (render_certificate)": _median_ms(
            lambda: render_certificate(certificate, codes=codes)
        ),
        f"PNG image ({dpi} dpi)": _median_ms(
            lambda: render_certificate_png(certificate, dpi, codes=codes)
        ),
        "request signature check": _median_ms(
            lambda: key.verify(der, message, ec.ECDSA(hashes.SHA256())), 200
        ),
        "JSON + base64 of the reply": _median_ms(lambda: json.dumps(issued)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--spawn-seconds",
        type=float,
        default=20,
        help="time for the app load processes to start and register before the common start",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="more environment for the services, e.g. VAXCERT_CENTER__APP__ADMISSION__QUEUE=8",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("VAXCERT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    args = parser.parse_args()
    extra_env = {
        "VAXCERT_LOG_LEVEL": "WARNING",
        "VAXCERT_CENTER__KIOSK_REQUESTS_PER_MINUTE": "1000000",
        "VAXCERT_CENTER__APP__PER_INSTANCE_LIMIT": "1000000/minute",
        "VAXCERT_CENTER__APP__PER_ADDRESS_LIMIT": "1000000/minute",
        # Card-use monitoring (C21) counts the same synthetic cards over and over here.
        "VAXCERT_CENTER__CARD_USE__ENABLED": "false",
        **dict(item.split("=", 1) for item in args.env),
    }
    work = Path(tempfile.mkdtemp(prefix="vaxcert-bench-app-"))
    stack = start_stack(
        work,
        residents=args.residents,
        workers=args.workers,
        threads=args.threads,
        processes=APP_PROCESSES,
        kiosk_certificates=["KIOSK-0001"],
        redis_url=args.redis_url,
        extra_env=extra_env,
    )
    settings, children = stack.settings, stack.children
    try:
        kiosk_bodies = [r.body for r in seeded_requests(settings, 200)]
        app_bodies = [dict(body) for body in kiosk_bodies]
        drive = (args.clients, args.client_processes)
        # Warm-up of both paths (imports, TLS sessions, fonts, caches).
        _drive_kiosk(settings, children, kiosk_bodies, 3, *drive, _SPAWN_SECONDS)
        _drive_app(settings, children, app_bodies, 3, *drive, args.spawn_seconds)
        kiosk = _drive_kiosk(settings, children, kiosk_bodies, args.seconds, *drive, _SPAWN_SECONDS)
        app = _drive_app(settings, children, app_bodies, args.seconds, *drive, args.spawn_seconds)
        parts = _parts(settings, app_bodies[0])
    finally:
        remove(stack)
    _report(args, kiosk, app, parts)


def _report(args: argparse.Namespace, kiosk: _Phase, app: _Phase, parts: dict[str, float]) -> None:
    print(
        f"\n{args.clients} clients, {args.workers} workers x threads per service, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':38}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, phase in (
        ("kiosk: POST /v1/kiosk/certificates", kiosk),
        ("app: challenge + POST certificates", app),
    ):
        figures = phase.figures
        print(
            f"{label:38}{figures['per_second']:9.1f}{figures['p50_ms']:9.1f}"
            f"{figures['p99_ms']:9.1f}{int(figures['errors']):8d}"
        )
    ratio = app.figures["per_second"] / max(kiosk.figures["per_second"], 1e-9)
    print(f"app / kiosk throughput: {ratio:.2f}")
    print(
        f"targets: >= 150/s {'met' if app.figures['per_second'] >= 150 else 'NOT met'}, "
        f"p99 <= 300 ms {'met' if app.figures['p99_ms'] <= 300 else 'NOT met'}, "
        f"0 errors {'met' if app.figures['errors'] == 0 else 'NOT met'}"
    )
    # From each phase's common start to its end; the load processes share the CPUs with the
    # services, so their part says how much of the machine the services were given.
    print(f"CPU per request, ms ({args.seconds:g} s of each phase):")
    print(f"  {'':24}{'kiosk':>9}{'app':>9}")
    for name in APP_PROCESSES:
        print(
            f"  {name:24}{kiosk.per_request_ms(kiosk.services[name]):9.2f}"
            f"{app.per_request_ms(app.services[name]):9.2f}"
        )
    served = {phase: sum(phase.services.values()) for phase in (kiosk, app)}
    print(
        f"  {'all services':24}{kiosk.per_request_ms(served[kiosk]):9.2f}"
        f"{app.per_request_ms(served[app]):9.2f}"
    )
    print(
        f"  {'load processes (clients)':24}{kiosk.per_request_ms(kiosk.load):9.2f}"
        f"{app.per_request_ms(app.load):9.2f}"
    )
    for phase, label in ((kiosk, "kiosk"), (app, "app")):
        other = max(0.0, phase.machine - served[phase] - phase.load)
        print(
            f"  {label} phase, CPUs busy: services {served[phase] / args.seconds:.2f}, load "
            f"processes {phase.load / args.seconds:.2f}, the rest of the machine (Redis, "
            f"kernel, other jobs) {other / args.seconds:.2f} of {os.cpu_count()}"
        )
    # Every relay call (center to VRS and signer) should reuse its kept-alive TLS connection: a
    # new one is a full mTLS handshake on both sides. Machine-wide, so other jobs add to it.
    print(
        "TCP connections opened on the machine per request: "
        f"kiosk phase {kiosk.opens / max(1, kiosk.figures['requests']):.2f}, "
        f"app phase {app.opens / max(1, app.figures['requests']):.2f}"
    )
    print("the app API's own steps, CPU median in this process:")
    for label, ms in parts.items():
        print(f"  {label:36} {ms:7.2f} ms")


if __name__ == "__main__":
    main()
