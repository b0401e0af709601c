"""Center benchmark: issuances/s end to end over real mTLS, VRS and signer as separate processes.

    .venv/bin/python -P bench/center.py [--residents 100000] [--seconds 60] [--clients 32]
        [--workers 2] [--threads 8] [--client-processes 4] [--database-url postgresql://...]

Starts `vaxcert serve` for vrs (seeded), signer-api and center-kiosk-api (gunicorn, gthread,
keep-alive; `launch.stack`), then drives `POST /v1/kiosk/certificates` with pre-built
virtual-card files from ``--clients`` concurrent clients (the kiosk's own kept-alive mTLS channel
each, spread over processes) for ``--seconds``. Baseline in the same run: `GET /healthz` of the
center over the same mTLS channel and concurrency (what the channel alone allows). Prints
throughput, p50/p99, errors, the RSS of each service through the run and its CPU per issuance.
Targets (design.md §5): >= 200 issuances/s at 32 clients, p99 <= 250 ms, 0 errors, flat RSS.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from launch.stack import CENTER_PROCESSES, remove, seeded_requests, start_stack
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.relay import Channel

PROCESSES = CENTER_PROCESSES
_SPAWN_SECONDS = 8  # spawn + imports of every load process fit in this on a busy box


def _process_tree(pid: int) -> list[int]:
    """A gunicorn master and its workers."""
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [pid, *(int(child) for child in children)]


def _rss_mb(pid: int) -> float:
    """RSS of a gunicorn master and its workers, MiB."""
    total = 0
    for one in _process_tree(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a gunicorn master and its workers so far."""
    ticks = 0
    for one in _process_tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class _RssSampler:
    """RSS of every service when the run starts (after its spawn delay), every ``every`` seconds,
    and at the end: flat means the later samples stop growing."""

    def __init__(self, children: dict[str, subprocess.Popen[bytes]], every: float) -> None:
        self.children = children
        self.samples: dict[str, list[float]] = {name: [] for name in children}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    def _take(self) -> None:
        for name, child in self.children.items():
            self.samples[name].append(_rss_mb(child.pid))

    def _loop(self, every: float) -> None:
        if self._stop.wait(_SPAWN_SECONDS):
            return
        self._take()
        while not self._stop.wait(every):
            self._take()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._take()


def _bodies(settings: Settings, count: int) -> list[dict[str, Any]]:
    """Request bodies for residents of the seeded population that get a certificate."""
    return [request.body for request in seeded_requests(settings, count)]


def _client(
    args: tuple[str, str, list[dict[str, Any]], float, float, int, str],
) -> tuple[list[float], int]:
    """One load process: ``threads`` kept-alive mTLS sessions from ``start`` until ``end``."""
    pki_dir, base, bodies, start, end, threads, mode = args
    directory = Path(pki_dir)
    # Every process begins at the same moment, after its (slow) spawn and imports.
    time.sleep(max(0.0, start - time.time()))

    def worker(offset: int) -> tuple[list[float], int]:
        # The kiosk's own client: one kept-alive mTLS connection per thread (kiosk/clients.py).
        channel = Channel(
            base,
            pki.cert_path(directory, "dedicated-ca"),
            pki.cert_path(directory, "kiosk-KIOSK-0001"),
            pki.key_path(directory, "kiosk-KIOSK-0001"),
            10.0,
            "center",
        )

        def attempt(i: int) -> bool:
            if mode == "healthz":
                status, _ = channel.exchange("GET", "/healthz")
            else:
                body = dict(bodies[i % len(bodies)], nonce=secrets.token_urlsafe(18))
                status, _ = channel.post("/v1/kiosk/certificates", json.dumps(body).encode())
            return status == 200

        return timed_loop(attempt, offset, end)

    return in_threads(worker, threads)


def timed_loop(attempt: Callable[[int], bool], offset: int, end: float) -> tuple[list[float], int]:
    """Call ``attempt(i)`` until ``end`` (every 7th body from ``offset``): its latencies, and
    how many failed (False, or a refusal raised)."""
    latencies: list[float] = []
    errors = 0
    i = offset
    while time.time() < end:
        started = time.perf_counter()
        try:
            ok = attempt(i)
        except VaxcertError:
            ok = False
        latencies.append(time.perf_counter() - started)
        errors += 0 if ok else 1
        i += 7
    return latencies, errors


def in_threads(
    worker: Callable[[int], tuple[list[float], int]], threads: int
) -> tuple[list[float], int]:
    """``worker(0..threads-1)`` at once; all latencies and the errors summed."""
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    return [x for lat, _ in results for x in lat], sum(e for _, e in results)


def _drive(
    settings: Settings,
    bodies: list[dict[str, Any]],
    seconds: float,
    clients: int,
    procs: int,
    mode: str,
) -> dict[str, float]:
    per = max(1, clients // procs)
    start = time.time() + _SPAWN_SECONDS
    end = start + seconds
    base = settings.url("center_kiosk_api")
    jobs = [(str(settings.pki_dir), base, bodies, start, end, per, mode) for _ in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        results = pool.map(_client, jobs)
    return summarise(results, seconds)


def summarise(results: list[tuple[list[float], int]], seconds: float) -> dict[str, float]:
    """Requests, requests/s, p50 and p99 (ms) and errors of the load processes' results."""
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
        "errors": errors,
    }


def _drop_schema(url: str, schema_name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("VAXCERT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the Redis the center's workers share (a running one: `redis-server --port 6379`)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="VRS on PostgreSQL, e.g. postgresql+psycopg://postgres@127.0.0.1/test"
        " (default: SQLite in a temp dir)",
    )
    args = parser.parse_args()
    schema_name = f"vrs_bench_{secrets.token_hex(4)}"
    extra_env = {
        "VAXCERT_LOG_LEVEL": "WARNING",
        "VAXCERT_CENTER__KIOSK_REQUESTS_PER_MINUTE": "1000000",
    }
    if args.database_url:
        extra_env["VAXCERT_VRS__DATABASE_URL"] = args.database_url
        extra_env["VAXCERT_VRS__DB_SCHEMA"] = schema_name
    work = Path(tempfile.mkdtemp(prefix="vaxcert-bench-center-"))
    started = time.perf_counter()
    stack = start_stack(
        work,
        residents=args.residents,
        workers=args.workers,
        threads=args.threads,
        kiosk_certificates=["KIOSK-0001"],
        redis_url=args.redis_url,
        extra_env=extra_env,
    )
    print(f"seeded {args.residents} residents and started in {time.perf_counter() - started:.1f} s")
    settings, children = stack.settings, stack.children
    try:
        bodies = _bodies(settings, 300)
        # Warm-up: worker imports, TLS sessions, signer and VRS caches.
        _drive(settings, bodies, 3, args.clients, args.client_processes, "issue")
        base = _drive(
            settings, bodies, args.baseline_seconds, args.clients, args.client_processes, "healthz"
        )
        cpu_start = {n: _cpu_seconds(c.pid) for n, c in children.items()}
        rss = _RssSampler(dict(children), every=args.seconds / 6)
        run = _drive(settings, bodies, args.seconds, args.clients, args.client_processes, "issue")
        rss.stop()
        cpu_used = {n: _cpu_seconds(c.pid) - cpu_start[n] for n, c in children.items()}
    finally:
        remove(stack)
        if args.database_url:
            _drop_schema(args.database_url, schema_name)
    print(
        f"\n{args.clients} clients, {args.workers} workers x {args.threads} threads per service, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, figures in (
        ("baseline: GET /healthz (mTLS)", base),
        ("POST /v1/kiosk/certificates", run),
    ):
        print(
            f"{label:34}{figures['per_second']:9.1f}{figures['p50_ms']:9.1f}"
            f"{figures['p99_ms']:9.1f}{int(figures['errors']):8d}"
        )
    print(f"issuance throughput / baseline: {run['per_second'] / base['per_second']:.2f}")
    print(
        f"targets: >= 200/s {'met' if run['per_second'] >= 200 else 'NOT met'}, "
        f"p99 <= 250 ms {'met' if run['p99_ms'] <= 250 else 'NOT met'}, "
        f"0 errors {'met' if run['errors'] == 0 else 'NOT met'}"
    )
    requests_done = max(1, int(run["requests"]))
    print(f"RSS (MiB) every {args.seconds / 6:.0f} s of the run, and CPU per issuance:")
    for name in PROCESSES:
        series = " ".join(f"{mb:6.1f}" for mb in rss.samples[name])
        print(f"  {name:18} {series}   CPU {cpu_used[name] * 1000 / requests_done:5.2f} ms")


if __name__ == "__main__":
    main()
