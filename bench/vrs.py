"""VRS stub benchmark: seed N residents, then time `records/query` in-process and over mTLS.

    .venv/bin/python bench/vrs.py --residents 1000000 --backend both

Prints the seed time and, per backend, median and p99 of the relay query in-process (the service
call the view makes, provision record and operation log included) and over real mTLS against
`vaxcert serve vrs` (gunicorn, gthread). The baseline is one indexed single-row SELECT on the same
database in the same run; figures are also given as ratios to it. Target: in-process p99
<= 5 ms at 1M residents on both backends.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import bindparam, select

from launch.demo import free_port
from vaxcert import lgcode, pki, residents
from vaxcert.config import Settings, load_settings
from vaxcert.contracts.vrs_relay import QueryRequest
from vaxcert.relay import Channel
from vrs_stub import schema, seed
from vrs_stub.services import Caller, RelayService
from vrs_stub.store import Store, make_engine

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def timed(calls: list[Callable[[], object]]) -> list[float]:
    """Milliseconds each call took."""
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def describe(label: str, ms: list[float], baseline: float) -> None:
    """One result line: median, p99 and the ratios to the baseline median."""
    median, p99 = statistics.median(ms), percentile(ms, 99)
    load = os.getloadavg()[0]  # other processes on this machine skew p99: say so
    print(
        f"  {label:40} median {median:7.3f} ms  p99 {p99:7.3f} ms  "
        f"({median / baseline:5.1f}x / {p99 / baseline:5.1f}x baseline)  load {load:4.1f}",
        flush=True,
    )


def requests_for(n: int, count: int, seed_value: int, codes: list[str]) -> list[QueryRequest]:
    """Query bodies for random seeded residents (regenerated, not read from the database)."""
    population = seed.Population.of(codes)
    rng = random.Random(99)
    bodies = []
    for _ in range(count):
        person = seed.synthetic_person(rng.randrange(n), seed_value, population)
        ident = person.identity
        bodies.append(
            QueryRequest(
                municipality_code=person.municipality_code,
                my_number=ident.my_number,
                name=f"{ident.family_kanji}\u3000{ident.given_kanji}",
                birth_date=ident.birth_date,
                certificate_kind=rng.choice(("domestic", "overseas")),
                channel="kiosk",
            )
        )
    return bodies


def run_backend(args: argparse.Namespace, backend: str, work: Path, settings: Settings) -> None:
    """Seed, then measure, one backend."""
    commits = "" if backend == "sqlite" or settings.vrs.durable_commits else ", async commit"
    print(f"\n== {backend}: {args.residents:,} residents{commits}", flush=True)
    db_schema = None
    if backend == "sqlite":
        url = f"sqlite:///{work / 'bench.sqlite3'}"
    else:
        url = args.pg_url
        db_schema = f"vrs_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store = Store.from_settings(settings, url, db_schema)
    store.migrate()
    codes = list(lgcode.KAGOSHIMA)
    child = None
    try:
        started = time.perf_counter()
        last = [started]

        def progress(done: int) -> None:
            if done % 100_000 == 0:
                now = time.perf_counter()
                print(f"  seeded {done:>9,}  (+{now - last[0]:5.1f} s)", flush=True)
                last[0] = now

        seed.seed(store, codes, args.residents, args.seed, True, progress, workers=args.workers)
        seconds = time.perf_counter() - started
        print(f"  seed: {seconds:.1f} s ({args.residents / seconds:,.0f} residents/s)", flush=True)
        # Let the bulk load settle before measuring: statistics, visibility map, dirty pages
        # written out (otherwise autovacuum and the checkpointer of the load land in the p99).
        settle = time.perf_counter()
        if backend == "postgresql":
            with store.autocommit() as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
                try:
                    conn.exec_driver_sql("CHECKPOINT")
                except Exception:
                    print("  (CHECKPOINT needs a superuser; skipped)")
        else:
            with store.autocommit() as conn:
                conn.exec_driver_sql("ANALYZE")
            store.checkpoint("TRUNCATE")
        print(f"  settle (VACUUM/ANALYZE/CHECKPOINT): {time.perf_counter() - settle:.1f} s")

        bodies = requests_for(args.residents, args.queries, args.seed, codes)
        service = RelayService(store)
        caller = Caller("cert-center", "bench")
        # Baseline: one indexed single-row SELECT through the same engine.
        record_ids = []
        with store.transaction(write=False) as conn:
            for row in conn.execute(select(schema.person.c.record_id).limit(500)):
                record_ids.append(row[0])
        by_id = select(schema.person.c.address_number).where(
            schema.person.c.record_id == bindparam("rid")
        )

        def baseline_call(rid: str) -> Callable[[], object]:
            def call() -> object:
                with store.transaction(write=False) as conn:
                    return conn.execute(by_id, {"rid": rid}).scalar_one()

            return call

        timed([baseline_call(r) for r in record_ids])  # warm up
        base_ms = timed([baseline_call(record_ids[i % len(record_ids)]) for i in range(2000)])
        baseline = statistics.median(base_ms)
        print(f"  baseline indexed SELECT: median {baseline:.3f} ms", flush=True)

        timed([lambda b=b: service.query(b, caller) for b in bodies[:200]])  # warm up
        results = [service.query(b, caller).result for b in bodies[:50]]
        assert all(r == "match" for r in results), results
        describe(
            "records/query in-process",
            timed([lambda b=b: service.query(b, caller) for b in bodies]),
            baseline,
        )
        if backend == "postgresql" and settings.vrs.durable_commits:
            # The same queries with synchronous_commit=off: how much is the WAL flush.
            fast = Store(
                make_engine(url, db_schema, durable=False), store.keyring.master, db_schema
            )
            fast_service = RelayService(fast)
            timed([lambda b=b: fast_service.query(b, caller) for b in bodies[:200]])
            describe(
                "records/query in-process, async commit",
                timed([lambda b=b: fast_service.query(b, caller) for b in bodies]),
                baseline,
            )
            fast.dispose()
        miss = bodies[0].model_copy(update={"municipality_code": "131016"})
        describe(
            "records/query in-process (miss)",
            timed([lambda: service.query(miss, caller)] * 500),
            baseline,
        )

        # Over mTLS: the real server process against the same database.
        port = free_port()
        env = dict(
            os.environ,
            VAXCERT_ENVIRONMENT=settings.environment,
            VAXCERT_PKI_DIR=str(settings.pki_dir),
            VAXCERT_LISTENERS__VRS__PORT=str(port),
            VAXCERT_VRS__DATA_DIR=str(settings.vrs.data_dir),
            VAXCERT_VRS__DATABASE_URL=url,
            VAXCERT_VRS__DURABLE_COMMITS=str(settings.vrs.durable_commits).lower(),
            VAXCERT_WORKERS="2",
            VAXCERT_THREADS="8",
            VAXCERT_LOG_LEVEL="WARNING",
        )
        if db_schema:
            env["VAXCERT_VRS__DB_SCHEMA"] = db_schema
        child = subprocess.Popen(
            [sys.executable, "-m", "launch.cli", "serve", "vrs"],
            env=env,
            cwd=work,
            start_new_session=True,
        )
        ca = pki.cert_path(settings.pki_dir, "lgwan-ca")
        cert = pki.cert_path(settings.pki_dir, "center-lgwan-client")
        key = pki.key_path(settings.pki_dir, "center-lgwan-client")
        base = f"https://127.0.0.1:{port}"
        # The same kept-alive mTLS channel the center uses for its VRS calls.
        channel = Channel(base, ca, cert, key, 30, "VRS")
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = channel.exchange("GET", "/healthz")
                if status != 200:
                    raise RuntimeError(f"healthz answered {status}")
                break
            except Exception:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise
                time.sleep(0.3)
        payloads = [b.model_dump(mode="json") for b in bodies]

        def post(payload: dict[str, object]) -> Callable[[], object]:
            def call() -> object:
                status, reply = channel.post("/v1/records/query", json.dumps(payload).encode())
                if status != 200:
                    raise RuntimeError(f"records/query answered {status}")
                return reply

            return call

        timed([post(p) for p in payloads[:200]])  # warm up
        describe(
            "records/query over mTLS (1 client)",
            timed([post(p) for p in payloads[: args.mtls_queries]]),
            baseline,
        )
        clients = 8
        with ThreadPoolExecutor(clients) as pool:
            started = time.perf_counter()
            chunks = [payloads[i::clients][: args.mtls_queries // clients] for i in range(clients)]
            lists = list(pool.map(lambda chunk: timed([post(p) for p in chunk]), chunks))
            elapsed = time.perf_counter() - started
        flat = [ms for chunk in lists for ms in chunk]
        describe(f"records/query over mTLS ({clients} clients)", flat, baseline)
        print(f"  throughput with {clients} clients: {len(flat) / elapsed:,.0f} queries/s")
    finally:
        if child is not None and child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=20)
        if not args.keep:
            store.drop_all()
        store.dispose()


def main() -> None:
    """Parse flags and run the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--mtls-queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=seed.DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=0, help="seed worker processes")
    parser.add_argument("--pg-url", default=os.environ.get("VAXCERT_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--pg-async-commit",
        action="store_true",
        help="PostgreSQL with durable_commits off (synchronous_commit=off)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vaxcert-vrs-bench-"))
    try:
        pki_dir = work / "pki"
        pki.init(pki_dir, "https://127.0.0.1:8446/issuer", [], ["127.0.0.1"])
        settings = load_settings(
            environment="test",
            pki_dir=pki_dir,
            log_level="WARNING",
            vrs={"data_dir": str(work / "vrs"), "durable_commits": not args.pg_async_commit},
        )
        print(f"canary (edge case) included; {len(residents.RESIDENTS)} edge-case residents")
        backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
        for backend in backends:
            run_backend(args, backend, work, settings)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
