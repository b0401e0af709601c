"""Scale-out benchmark: issuances/s through the nginx edge with 1 and then 2 center replicas.

    .venv/bin/python -P bench/scale.py [--seconds 30] [--clients 32] [--client-processes 3]
        [--workers 1] [--residents 2000]

Starts the production topology on loopback (launch/topology.py: Debian's nginx terminating the
kiosks' mTLS, N replicas of the center kiosk API, VRS on PostgreSQL behind the edge's LGWAN side,
the signer, Redis; its own Redis and PostgreSQL), once with 1 and once with 2 replicas, and drives
`POST /v1/kiosk/certificates` through the edge from ``--clients`` kept-alive mTLS kiosk sessions.
Baseline in the same run: `GET /healthz` through the same edge and sessions (what the channel
alone allows). Prints throughput, p50/p99 and errors, and CPU milliseconds per issuance of every
part from /proc: the edge's own cost (nginx master and workers) separated from the replicas, VRS,
the signer, PostgreSQL and Redis, and as a multiple of one raw P-256 signature in the same run
(these machines' speed varies). docs/capacity.md turns these figures into the cores the national
peak needs. Nothing is asserted. The machine may be shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from launch.stack import seeded_requests
from launch.topology import Topology, start_topology
from vaxcert import pki
from vaxcert.errors import VaxcertError
from vaxcert.relay import Channel

PARTS = ("edge", "center", "vrs", "signer-api", "postgresql", "redis")


def _ready(_index: int) -> None:
    """Nothing: run once in each load process, so that it has started and imported."""
    time.sleep(0.2)


def _client(args: tuple[str, str, list[dict[str, Any]], float, float, int, str]) -> list[float]:
    """One load process: ``threads`` kept-alive mTLS sessions from ``start`` until ``end``;
    the latency of each success (a failure counts as NaN)."""
    pki_dir, base, bodies, start, end, threads, mode = args
    directory = Path(pki_dir)
    time.sleep(max(0.0, start - time.time()))

    def worker(offset: int) -> list[float]:
        channel = Channel(
            base,
            pki.cert_path(directory, "dedicated-ca"),
            pki.cert_path(directory, "kiosk-KIOSK-0001"),
            pki.key_path(directory, "kiosk-KIOSK-0001"),
            10.0,
            "center",
        )
        latencies: list[float] = []
        i = offset
        while time.time() < end:
            started = time.perf_counter()
            try:
                if mode == "healthz":
                    status, _ = channel.exchange("GET", "/healthz")
                else:
                    body = dict(bodies[i % len(bodies)], nonce=secrets.token_urlsafe(18))
                    status, _ = channel.post("/v1/kiosk/certificates", json.dumps(body).encode())
            except VaxcertError:
                status = 0
            latencies.append(time.perf_counter() - started if status == 200 else float("nan"))
            i += 7
        return latencies

    with ThreadPoolExecutor(threads) as pool:
        return [x for part in pool.map(worker, range(threads)) for x in part]


def _drive(
    topology: Topology,
    bodies: list[dict[str, Any]],
    seconds: float,
    clients: int,
    procs: int,
    mode: str,
) -> dict[str, float]:
    per = max(1, clients // procs)
    base = topology.settings.url("center_kiosk_api")
    pki_dir = str(topology.stack.pki_dir)
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        # Every load process spawned and imported before the clock starts (slow on a busy box).
        pool.map(_ready, range(procs), chunksize=1)
        start = time.time() + 1
        end = start + seconds
        jobs = [(pki_dir, base, bodies, start, end, per, mode) for _ in range(procs)]
        results = pool.map(_client, jobs, chunksize=1)
    every = [x for part in results for x in part]
    good = sorted(x for x in every if x == x)
    return {
        "requests": len(good),
        "per_second": len(good) / seconds,
        "p50_ms": statistics.median(good) * 1000 if good else 0.0,
        "p99_ms": good[max(0, int(len(good) * 0.99) - 1)] * 1000 if good else 0.0,
        "errors": len(every) - len(good),
    }


def _raw_sign_seconds(rounds: int = 2000) -> float:
    """One raw ECDSA P-256 signature with `cryptography`, the machine-speed yardstick."""
    key = ec.generate_private_key(ec.SECP256R1())
    started = time.perf_counter()
    for index in range(rounds):
        key.sign(index.to_bytes(4, "big"), ec.ECDSA(hashes.SHA256()))
    return (time.perf_counter() - started) / rounds


def _parts(cpu: dict[str, float]) -> dict[str, float]:
    """CPU by part, the replicas summed as ``center``."""
    parts = {name: 0.0 for name in PARTS}
    for name, seconds in cpu.items():
        parts["center" if name.startswith("center-") else name] += seconds
    return parts


def run_one(args: argparse.Namespace, replicas: int) -> dict[str, Any]:
    """Start the topology with ``replicas``, warm it, measure baseline and issuance."""
    work = Path(tempfile.mkdtemp(prefix=f"vaxcert-bench-scale-{replicas}-"))
    topology = start_topology(
        work,
        replicas=replicas,
        residents=args.residents,
        workers=args.workers,
        edge_workers=args.edge_workers,
        kiosk_certificates=["KIOSK-0001"],
        extra_env={
            "VAXCERT_LOG_LEVEL": "WARNING",
            "VAXCERT_CENTER__KIOSK_REQUESTS_PER_MINUTE": "100000000",
        },
    )
    try:
        bodies = [request.body for request in seeded_requests(topology.settings, 200)]
        _drive(topology, bodies, 3, args.clients, args.client_processes, "issue")  # warm-up
        base = _drive(
            topology, bodies, args.baseline_seconds, args.clients, args.client_processes, "healthz"
        )
        before = topology.cpu_seconds()
        load_before = os.getloadavg()[0]
        run = _drive(topology, bodies, args.seconds, args.clients, args.client_processes, "issue")
        after = topology.cpu_seconds()
        load_after = os.getloadavg()[0]
    finally:
        topology.remove()
    used = _parts({name: after[name] - before.get(name, 0.0) for name in after})
    done = max(1, int(run["requests"]))
    return {
        "replicas": replicas,
        "baseline": base,
        "run": run,
        "cpu_ms": {name: seconds * 1000 / done for name, seconds in used.items()},
        "load": (load_before, load_after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--client-processes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per replica")
    parser.add_argument("--edge-workers", type=int, default=1, help="nginx worker processes")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    sign = _raw_sign_seconds()
    results = [run_one(args, replicas) for replicas in args.replicas]
    print(
        f"\n{args.clients} clients through nginx ({args.edge_workers} worker), "
        f"{args.workers} gunicorn worker(s) per replica, {os.cpu_count()} CPUs; "
        f"raw P-256 sign {sign * 1e6:.0f} us"
    )
    print(f"{'':28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'load avg':>14}")
    for result in results:
        for label, figures in (
            (f"{result['replicas']} replica(s): healthz", result["baseline"]),
            (f"{result['replicas']} replica(s): issue", result["run"]),
        ):
            load = result["load"]
            print(
                f"{label:28}{figures['per_second']:9.1f}{figures['p50_ms']:9.1f}"
                f"{figures['p99_ms']:9.1f}{int(figures['errors']):8d}"
                f"{load[0]:7.1f}{load[1]:7.1f}"
            )
    if len(results) > 1:
        ratio = results[-1]["run"]["per_second"] / max(1e-9, results[0]["run"]["per_second"])
        first, last = results[0]["replicas"], results[-1]["replicas"]
        print(f"issuances/s, {last} vs {first} replica(s): {ratio:.2f}")
    print("\nCPU per issuance (ms), and as raw P-256 signatures:")
    print(f"{'part':12}" + "".join(f"{r['replicas']:>10} rep" for r in results))
    for part in (*PARTS, "total"):
        cells = []
        for result in results:
            cpu = result["cpu_ms"]
            value = sum(cpu.values()) if part == "total" else cpu[part]
            cells.append(f"{value:8.2f} ms")
        print(f"{part:12}" + "".join(f"{c:>14}" for c in cells))
    for result in results:
        cpu = result["cpu_ms"]
        total = sum(cpu.values())
        print(
            f"{result['replicas']} replica(s): edge share {cpu['edge'] / total:.1%} of "
            f"{total:.2f} ms; total = {total / 1000 / sign:.0f} raw signs"
        )


if __name__ == "__main__":
    main()
