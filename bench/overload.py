"""Overload benchmark: at the center's capacity and at twice it, every request gets its right
answer or a fast 503 with Retry-After; none times out, none gets a wrong or empty record.

    .venv/bin/python -P bench/overload.py [--residents 20000] [--seconds 30] [--clients 32]
        [--factor 2.0] [--client-processes 4] [--idle-seconds 80] [--workers 2] [--threads 8]

Starts VRS (seeded), signer and the center kiosk API as gunicorn processes (`launch.stack`,
Redis), then, all in one run:

1. baseline: `GET /healthz` of the center from ``--clients`` closed-loop kept-alive kiosk
   channels (what the channel alone costs);
2. capacity: `POST /v1/kiosk/certificates` from the same closed-loop clients: the goodput
   (right answers per second) is the capacity every later figure is a ratio of;
3. open loop at 1x and at ``--factor``x that capacity: Poisson arrivals spread over the load
   processes, each sent at its time on a free kept-alive channel whatever the others do (so a
   slow center cannot slow the arrivals down); latency is counted from the arrival, including
   any wait for a free channel (a kiosk of its own would not wait: so an answer after the
   kiosk's timeout counts as timed out), and how late the generator itself let arrivals go
   (it shares the cores with the services) is printed beside it as its lag;
4. idle: nothing for ``--idle-seconds`` (beyond gunicorn's 75 s keep-alive, so every kept-alive
   connection of every hop has been closed by its server), then a burst of ``--clients``.

Every answer is classified: right (200 whose doses and birth date are the resident's), wrong
(any other 200: must be 0), refused fast (503 ``overloaded`` with Retry-After), other refusal
(any other status or code), timed out (no answer within the kiosk's own timeout,
`kiosk.center_timeout_seconds`: must be 0) or failed in transport. Prints goodput against
offered load, the share of refusals, p99 of right answers and of refusals, against the
capacity run and the `/healthz` baseline of the same run (design.md §5: within 100 ms at twice
capacity). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import random
import secrets
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launch.stack import CENTER_PROCESSES, SeededRequest, remove, seeded_requests, start_stack
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.relay import Channel

_SPAWN_SECONDS = 8  # spawn + imports + TLS sessions of every load process fit in this
_KEEPALIVE_SECONDS = 75  # gunicorn's keep-alive (launch/serve.py)

# Outcome of one request.
RIGHT, WRONG, REFUSED, OTHER, TIMEOUT, TRANSPORT = (
    "right",
    "wrong",
    "refused fast",
    "other refusal",
    "timed out",
    "transport",
)


@dataclass(frozen=True)
class Job:
    """What a load process needs (picklable)."""

    pki_dir: str
    base: str
    timeout: float
    requests: list[SeededRequest]
    start: float
    end: float
    threads: int
    mode: str  # healthz | closed | open
    rate: float = 0.0  # open loop: arrivals per second of this process
    seed: int = 0
    retry_after: int = 2  # closed loop: a refused client waits this long (Retry-After)


@dataclass
class Sample:
    outcome: str
    latency: float
    lag: float = 0.0  # open loop: how late the generator let the request go (its CPU, not ours)
    detail: str = ""
    finished: float = 0.0  # time.time() of the answer


@dataclass
class Figures:
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    start: float = 0.0

    @property
    def span(self) -> float:
        """The phase's length, up to its last answer (an overloaded center answers late)."""
        last = max((s.finished for s in self.samples), default=0.0)
        return max(self.seconds, last - self.start) if self.start else self.seconds

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.samples if s.outcome == outcome)

    def per_second(self, outcome: str | None = None) -> float:
        chosen = (
            self.samples if outcome is None else [s for s in self.samples if s.outcome == outcome]
        )
        return len(chosen) / self.span

    def p99(self, outcome: str | None = None) -> float:
        return _p99([s.latency for s in self.samples if outcome is None or s.outcome == outcome])

    def lag_p99(self) -> float:
        return _p99([s.lag for s in self.samples])

    def details(self) -> str:
        counts = Counter(s.detail for s in self.samples if s.outcome in (OTHER, WRONG, TRANSPORT))
        return ", ".join(f"{detail} x{n}" for detail, n in counts.most_common(5))


def _p(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def _p99(values: list[float]) -> float:
    return _p(values, 0.99)


def _channel(job: Job) -> Channel:
    """The kiosk's own client (kiosk/clients.py) with the kiosk's own timeout."""
    directory = Path(job.pki_dir)
    return Channel(
        job.base,
        pki.cert_path(directory, "dedicated-ca"),
        pki.cert_path(directory, "kiosk-KIOSK-0001"),
        pki.key_path(directory, "kiosk-KIOSK-0001"),
        job.timeout,
        "center",
    )


def classify(request: SeededRequest, status: int, headers: Any, data: bytes) -> tuple[str, str]:
    """The outcome of one answer, and a short detail for the unexpected ones."""
    if status == 200:
        try:
            body = json.loads(data)
            doses = tuple((d["dose_number"], d["date"], d["lot"]) for d in body["doses"])
            birth_date = body["holder"]["birth_date"]
        except (ValueError, KeyError, TypeError):
            return WRONG, "unreadable 200"
        if not doses:
            return WRONG, "no doses"
        if doses != request.doses or birth_date != request.birth_date:
            return WRONG, "another record"
        return RIGHT, ""
    try:
        error = json.loads(data)["error"]
        code = str(error["code"])
    except (ValueError, KeyError, TypeError):
        error, code = {}, "no JSON error"
    retry_after = headers.get("Retry-After", "")
    if status == 503 and code == "overloaded" and retry_after.isdigit():
        return REFUSED, str(error.get("detail", ""))  # the cause
    return OTHER, f"{status} {code}{' with Retry-After' if retry_after else ''}"


_NONCE = "N" * 24  # stands for each request's own nonce (secrets.token_urlsafe(18): 24 chars)


def encoded(request: SeededRequest) -> bytes:
    """The request's JSON body with a nonce placeholder, encoded once (the load generator shares
    the two cores with the services: it does as little per request as it can)."""
    return json.dumps(dict(request.body, nonce=_NONCE)).encode()


def _send(channel: Channel, request: SeededRequest, body: bytes) -> tuple[str, str]:
    body = body.replace(_NONCE.encode(), secrets.token_urlsafe(18).encode(), 1)
    try:
        reply = channel.call("POST", "/v1/kiosk/certificates", body)
    except VaxcertError as exc:
        # The channel names a socket timeout by its exception type.
        return (TIMEOUT if "Timeout" in exc.detail else TRANSPORT), exc.detail
    return classify(request, reply.status, reply.headers, reply.body)


def _load(job: Job) -> list[Sample]:
    """One load process: closed-loop clients, or an open-loop arrival process."""
    channels = [_channel(job) for _ in range(job.threads)]
    bodies = [encoded(request) for request in job.requests]
    samples: list[Sample] = []
    lock = threading.Lock()

    def warm(channel: Channel) -> None:
        # Each thread opens its kept-alive connection before the clock starts.
        with contextlib.suppress(VaxcertError):
            channel.exchange("GET", "/healthz")

    if job.mode == "open":
        work: queue.SimpleQueue[tuple[float, float, int] | None] = queue.SimpleQueue()

        def sender(channel: Channel) -> None:
            warm(channel)
            while (item := work.get()) is not None:
                scheduled, arrived, index = item
                n = index % len(job.requests)
                outcome, detail = _send(channel, job.requests[n], bodies[n])
                finished = time.time()
                # From its arrival, as a kiosk of its own would count: waiting for a free channel
                # here is waiting for the center's earlier answers.
                latency = finished - arrived
                if latency > job.timeout and outcome != TIMEOUT:
                    outcome, detail = TIMEOUT, "answered after the kiosk's timeout"
                sample = Sample(outcome, latency, arrived - scheduled, detail, finished)
                with lock:
                    samples.append(sample)

        senders = [threading.Thread(target=sender, args=(c,)) for c in channels]
        for thread in senders:
            thread.start()
        rng = random.Random(job.seed)
        at, index = job.start, job.seed
        while True:
            at += rng.expovariate(job.rate)
            if at >= job.end:
                break
            time.sleep(max(0.0, at - time.time()))
            work.put((at, time.time(), index))
            index += 7
        for _ in senders:
            work.put(None)
        for thread in senders:
            thread.join()
        return samples

    def client(offset: int) -> None:
        channel = channels[offset]
        warm(channel)
        time.sleep(max(0.0, job.start - time.time()))
        index = offset
        while time.time() < job.end:
            started = time.time()
            if job.mode == "healthz":
                try:
                    status, _ = channel.exchange("GET", "/healthz")
                    outcome, detail = (RIGHT, "") if status == 200 else (OTHER, str(status))
                except VaxcertError as exc:
                    outcome, detail = TRANSPORT, exc.detail
            else:
                n = index % len(job.requests)
                outcome, detail = _send(channel, job.requests[n], bodies[n])
            finished = time.time()
            with lock:
                samples.append(Sample(outcome, finished - started, 0.0, detail, finished))
            if outcome == REFUSED:
                # As a kiosk's resident would: try again after Retry-After, not at once.
                time.sleep(job.retry_after)
            index += 7

    with ThreadPoolExecutor(job.threads) as pool:
        list(pool.map(client, range(job.threads)))
    return samples


def _run(
    settings: Settings,
    requests: list[SeededRequest],
    mode: str,
    seconds: float,
    clients: int,
    procs: int,
    rate: float = 0.0,
    open_threads: int = 32,
) -> Figures:
    start = time.time() + _SPAWN_SECONDS
    jobs = [
        Job(
            str(settings.pki_dir),
            settings.url("center_kiosk_api"),
            settings.kiosk.center_timeout_seconds,
            requests,
            start,
            start + seconds,
            open_threads if mode == "open" else max(1, clients // procs),
            mode,
            rate / procs,
            seed=n * 1_000_003 + int(rate),
            retry_after=settings.center.admission.retry_after_seconds,
        )
        for n in range(procs)
    ]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        results = pool.map(_load, jobs)
    return Figures(seconds, [sample for result in results for sample in result], start)


def _shed(settings: Settings) -> Counter[str]:
    """The center's refusals by admission control so far, by cause (from its ops surface)."""
    ops = Channel(
        settings.url("center_ops"),
        pki.cert_path(settings.pki_dir, "public-ca"),
        None,
        None,
        10.0,
        "ops",
    )
    status, data = ops.exchange("GET", "/metrics")
    counts: Counter[str] = Counter()
    for line in data.decode().splitlines() if status == 200 else []:
        if line.startswith("vaxcert_center_shed_total{"):
            cause = line.split('cause="', 1)[1].split('"', 1)[0]
            counts[cause] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def _idle_burst(
    settings: Settings, requests: list[SeededRequest], clients: int, idle_seconds: float
) -> Figures:
    """``clients`` kept-alive channels, quiet for ``idle_seconds``, then one issuance on each."""
    job = Job(
        str(settings.pki_dir),
        settings.url("center_kiosk_api"),
        settings.kiosk.center_timeout_seconds,
        requests,
        0.0,
        0.0,
        clients,
        "burst",
    )
    channels = [_channel(job) for _ in range(clients)]
    for channel in channels:
        channel.exchange("GET", "/healthz")
    time.sleep(idle_seconds)
    barrier = threading.Barrier(clients)

    def one(offset: int) -> Sample:
        barrier.wait()
        started = time.time()
        request = requests[offset % len(requests)]
        outcome, detail = _send(channels[offset], request, encoded(request))
        finished = time.time()
        return Sample(outcome, finished - started, 0.0, detail, finished)

    with ThreadPoolExecutor(clients) as pool:
        return Figures(1.0, list(pool.map(one, range(clients))))


@dataclass
class Phase:
    """One measured phase: what was offered (x capacity), what came back, and the center's own
    count of refusals by cause."""

    label: str
    offered: float
    run: Figures
    capacity: float
    shed: Counter[str]


def _row(phase: Phase, base_p99: float) -> str:
    run, capacity = phase.run, phase.capacity
    total = max(1, len(run.samples))
    return (
        f"{phase.label:18}{phase.offered:8.2f}{run.per_second(RIGHT) / capacity:9.2f}"
        f"{run.count(REFUSED) / total:9.1%}{run.p99(RIGHT) * 1000:9.0f}"
        f"{run.p99(RIGHT) / base_p99:7.1f}{run.p99(REFUSED) * 1000:9.0f}"
        f"{run.p99(REFUSED) / base_p99:7.1f}{run.count(TIMEOUT):6d}{run.count(WRONG):6d}"
        f"{run.count(OTHER) + run.count(TRANSPORT):6d}{run.lag_p99() * 1000:7.0f}"
    )


def _measure(
    settings: Settings, requests: list[SeededRequest], args: argparse.Namespace, rounds: int
) -> list[Phase]:
    """``rounds`` times: capacity (closed loop), then open loop at 1x and ``--factor``x it. The
    machine is shared and its speed drifts: each round's ratios are to its own capacity."""
    procs = args.client_processes
    phases = []
    for number in range(1, rounds + 1):
        before = _shed(settings)
        closed = _run(settings, requests, "closed", args.seconds, args.clients, procs)
        capacity = closed.per_second(RIGHT)
        label = f"{number}: closed {args.clients}"
        phases.append(Phase(label, 1.0, closed, capacity, _shed(settings) - before))
        for factor in (1.0, args.factor):
            before = _shed(settings)
            run = _run(
                settings,
                requests,
                "open",
                args.seconds,
                args.clients,
                procs,
                factor * capacity,
                args.open_threads,
            )
            offered = len(run.samples) / args.seconds / capacity
            phase = Phase(f"{number}: open {factor:.1f}x", offered, run, capacity, Counter())
            phase.shed = _shed(settings) - before
            phases.append(phase)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--factor", type=float, default=2.0)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--open-threads", type=int, default=32, help="channels per load process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="VRS and signer threads")
    parser.add_argument("--idle-seconds", type=float, default=_KEEPALIVE_SECONDS + 5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vaxcert-bench-overload-"))
    started = time.perf_counter()
    stack = start_stack(
        work,
        residents=args.residents,
        workers=args.workers,
        threads=args.threads,
        processes=(*CENTER_PROCESSES, "center-ops"),
        kiosk_certificates=["KIOSK-0001"],
        redis_url=args.redis_url,
        extra_env={
            "VAXCERT_LOG_LEVEL": "WARNING",
            "VAXCERT_CENTER__KIOSK_REQUESTS_PER_MINUTE": "1000000",
        },
    )
    settings = stack.settings
    print(f"seeded {args.residents} residents and started in {time.perf_counter() - started:.1f} s")
    procs = args.client_processes
    try:
        requests = seeded_requests(settings, 300)
        _run(settings, requests, "closed", 3, args.clients, procs)  # warm-up
        base = _run(settings, requests, "healthz", args.baseline_seconds, args.clients, procs)
        phases = _measure(settings, requests, args, args.rounds)
        idle = None
        if args.idle_seconds > 0:
            idle = _idle_burst(settings, requests, args.clients, args.idle_seconds)
    finally:
        remove(stack)
    _report(args, settings, base, phases, idle)


def _report(
    args: argparse.Namespace,
    settings: Settings,
    base: Figures,
    phases: list[Phase],
    idle: Figures | None,
) -> None:
    admission = settings.center.admission
    print(
        f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; center: "
        f"{args.workers} workers x {admission.concurrency} slots, queue {admission.queue}, "
        f"max wait {admission.max_wait_seconds} s, deadline {admission.deadline_seconds} s; "
        f"kiosk timeout {settings.kiosk.center_timeout_seconds} s"
    )
    base_p99 = base.p99(RIGHT)
    print(
        f"baseline GET /healthz ({args.clients} closed-loop clients): {base.per_second(RIGHT):.0f}"
        f"/s, p99 {base_p99 * 1000:.1f} ms; capacity of each round: "
        + ", ".join(f"{p.capacity:.1f}/s" for p in phases if "closed" in p.label)
    )
    print(
        "\noffered and goodput (right answers/s): x the round's capacity; p99 in ms and x the "
        "/healthz p99; lag: p99 of how late the open-loop generator sent, ms"
    )
    print(
        f"{'':18}{'offered':>8}{'goodput':>9}{'refused':>9}{'ok p99':>9}{'x':>7}"
        f"{'ref p99':>9}{'x':>7}{'tmo':>6}{'wrong':>6}{'other':>6}{'lag':>7}"
    )
    for phase in phases:
        print(_row(phase, base_p99))
    print("\nrefusals by cause: how many (center metrics) and (p50/p99 ms as the clients saw them)")
    for phase in phases:
        listed = []
        for cause, n in sorted(phase.shed.items()):
            seen = [
                s.latency for s in phase.run.samples if s.outcome == REFUSED and s.detail == cause
            ]
            listed.append(f"{cause} {n} ({_p(seen, 0.5) * 1000:.0f}/{_p(seen, 0.99) * 1000:.0f})")
        print(f"  {phase.label:18}{', '.join(listed) or 'none'}")
    if idle is not None:
        print(
            f"after {args.idle_seconds:.0f} s idle, a burst of {args.clients}: "
            f"{idle.count(RIGHT)} right, {idle.count(REFUSED)} refused fast, "
            f"{idle.count(OTHER) + idle.count(TRANSPORT) + idle.count(TIMEOUT)} failed, "
            f"{idle.count(WRONG)} wrong"
        )
    for label, run in [*((p.label, p.run) for p in phases), ("idle burst", idle)]:
        if run is not None and run.details():
            print(f"unexpected answers ({label}): {run.details()}")
    overloaded = [p.run for p in phases if p.label.endswith(f"{args.factor:.1f}x")]
    samples = [s for run in overloaded for s in run.samples]
    worst = Figures(1.0, samples)
    checks = {
        "0 timed out": worst.count(TIMEOUT) == 0,
        "0 wrong": worst.count(WRONG) == 0,
        "every other answer a fast refusal": worst.count(OTHER) + worst.count(TRANSPORT) == 0,
        "refusal p99 <= 100 ms": not worst.count(REFUSED) or worst.p99(REFUSED) <= 0.1,
    }
    verdicts = ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks.items())
    print(f"targets at {args.factor:.1f}x (design.md §5): {verdicts}")


if __name__ == "__main__":
    main()
