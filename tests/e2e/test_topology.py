"""The production topology on loopback (launch/topology.py): Debian's nginx as the mTLS edge, two
replicas of each center surface, VRS on PostgreSQL, Redis, the signer; all real processes.

Proves: the edge terminates the kiosks' and the LGWAN mutual TLS and the services believe its
header only from its address (C09); the replicas keep nothing of their own (a nonce taken on one is
a replay on the other, receipts are counted once whichever replica sees them); a replica killed
under load loses no issuance the kiosk was told succeeded; Redis and PostgreSQL restarts end in
reason codes and recover without restarting a service; stalled clients stay at the edge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import re
import secrets
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Connection, create_engine, text

from cert_center import console
from cert_center.tallies import Tallies
from launch import topology as topo
from launch.stack import seeded_requests
from vaxcert import kvstore, pki, reasons, tls
from vaxcert.errors import VaxcertError
from vaxcert.web import error_body

LOAD = 500
LOAD_THREADS = 8


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[topo.Topology]:
    """Its own Redis and PostgreSQL (launch.services, as the `redis_url`/`pg_url` fixtures
    start theirs), because two tests here restart them."""
    started = topo.start_topology(
        tmp_path_factory.mktemp("topology"),
        extra_env={
            "VAXCERT_CENTER__KIOSK_REQUESTS_PER_MINUTE": "1000000",
            # An outage's breaker closes again soon, so recovery is seen within the test.
            "VAXCERT_CENTER__BREAKER_RESET_SECONDS": "1",
        },
    )
    yield started
    started.remove()


@pytest.fixture(scope="module")
def bodies(topology: topo.Topology) -> list[dict[str, Any]]:
    return [request.body for request in seeded_requests(topology.settings, 12)]


def kiosk_session(topology: topo.Topology, kiosk: str = "KIOSK-0001") -> requests.Session:
    directory = topology.stack.pki_dir
    return tls.client_session(
        pki.cert_path(directory, "dedicated-ca"),
        pki.cert_path(directory, f"kiosk-{kiosk}"),
        pki.key_path(directory, f"kiosk-{kiosk}"),
    )


def edge_url(topology: topo.Topology, path: str) -> str:
    return topology.settings.url("center_kiosk_api") + path


def issue(
    session: requests.Session, topology: topo.Topology, body: dict[str, Any], nonce: str
) -> requests.Response:
    return session.post(
        edge_url(topology, "/v1/kiosk/certificates"), json={**body, "nonce": nonce}, timeout=30
    )


def served_since(topology: topo.Topology, mark: int) -> list[str]:
    return topology.served_by()[mark:]


def error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- the edge's configuration ------------------------------------------------------------------


def test_every_edge_variable_is_documented_in_the_template_header() -> None:
    header = topo.TEMPLATE.read_text().split("\n\n", 1)[0]
    documented = set(re.findall(r"^#\s+(VAXCERT_EDGE_[A-Z0-9_]+)\s", header, re.MULTILINE))
    assert documented == set(topo.edge_variables())
    with pytest.raises(KeyError):
        topo.render_edge({})


def test_envsubst_renders_the_template_as_the_launcher_does() -> None:
    # The official nginx image runs `envsubst "$defined_envs"` over each template, naming every
    # variable of its environment: nginx's own $variables must come through untouched.
    variables = {name: f"value-of-{name.lower()}" for name in topo.edge_variables()}
    env = {"PATH": "/usr/bin:/bin", **variables}
    defined = " ".join(f"${{{name}}}" for name in env)
    rendered = subprocess.run(
        ["envsubst", defined],
        input=topo.TEMPLATE.read_text(),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert rendered == topo.render_edge(variables)
    assert "$ssl_client_escaped_cert" in rendered
    assert not re.search(r"\$\{VAXCERT_EDGE_[A-Z]", rendered)


def test_edge_refusals_are_the_catalogue_json_errors() -> None:
    found = re.findall(
        r"map \$server_port \$vaxcert_edge_(\w+) \{\s+default '(.*)';", topo.TEMPLATE.read_text()
    )
    assert found
    template = topo.TEMPLATE.read_text()
    for code, body in found:
        assert json.loads(body) == error_body(VaxcertError(code), "en")
        assert f"return {reasons.get(code).status} $vaxcert_edge_{code};" in template


# --- C09 at the edge ---------------------------------------------------------------------------


def test_c09_a_kiosk_issues_through_the_edge_and_vrs_sees_the_center(
    topology: topo.Topology, bodies: list[dict[str, Any]]
) -> None:
    with kiosk_session(topology) as session:
        response = issue(session, topology, bodies[0], secrets.token_urlsafe(18))
    assert response.status_code == 200, response.text
    certificate_id = response.json()["certificate_id"]
    # The LGWAN side of the edge passed the center's certificate on: VRS logged it as recipient.
    with _database(topology) as conn:
        recipients = conn.execute(
            text(f'SELECT DISTINCT recipient FROM "{topology.database_schema}".vrs_provision')
        ).scalars()
        recorded = conn.execute(
            text(
                f'SELECT count(*) FROM "{topology.database_schema}".vrs_issuance'
                " WHERE certificate_id = :id"
            ),
            {"id": certificate_id},
        ).scalar_one()
    assert set(recipients) == {"cert-center"}
    assert recorded == 1


def test_c09_the_edge_refuses_a_kiosk_without_a_certificate(topology: topo.Topology) -> None:
    ca = pki.cert_path(topology.stack.pki_dir, "dedicated-ca")
    with tls.client_session(ca) as session:
        response = session.get(edge_url(topology, "/v1/kiosk/config"), timeout=10)
    assert response.status_code == 401
    assert error_code(response) == "client_cert_required"


def test_c09_the_edge_replaces_a_certificate_header_a_kiosk_sends(
    topology: topo.Topology,
) -> None:
    other = pki.cert_path(topology.stack.pki_dir, "kiosk-KIOSK-0001").read_text()
    with kiosk_session(topology, "KIOSK-0002") as session:
        response = session.get(
            edge_url(topology, "/v1/kiosk/config"),
            headers={topo.CLIENT_CERT_HEADER: quote(other)},
            timeout=10,
        )
    assert response.status_code == 200 and response.json()["kiosk_id"] == "KIOSK-0002"


def test_c09_a_kiosk_revoked_in_the_crl_is_refused_at_the_edge(topology: topo.Topology) -> None:
    # KIOSK-0002 is decommissioned: its certificate goes into the dedicated-line CA's CRL and the
    # edge reloads; KIOSK-0001 goes on. (Last use of KIOSK-0002 in this module.)
    with kiosk_session(topology, "KIOSK-0002") as session:
        assert session.get(edge_url(topology, "/v1/kiosk/config"), timeout=10).status_code == 200
    topology.revoke("kiosk-KIOSK-0002")
    deadline = time.monotonic() + 20
    while True:
        # A new session each time: a reload applies to new connections.
        with kiosk_session(topology, "KIOSK-0002") as session:
            refused = session.get(edge_url(topology, "/v1/kiosk/config"), timeout=10)
        if refused.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert refused.status_code == 401 and error_code(refused) == "client_cert_required"
    with kiosk_session(topology) as session:
        assert session.get(edge_url(topology, "/v1/kiosk/config"), timeout=10).status_code == 200


def _replica_request(
    topology: topo.Topology, source: str, client: str, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """GET /v1/kiosk/config straight at replica 1, from ``source``, with ``client``'s cert."""
    directory = topology.stack.pki_dir
    context = tls.client_context(
        pki.cert_path(directory, "dedicated-ca"),
        pki.cert_path(directory, client),
        pki.key_path(directory, client),
    )
    port = topology.replicas["center-kiosk-api-1"]
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=context, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/v1/kiosk/config", headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_c09_a_replica_believes_the_certificate_header_only_from_the_edge_address(
    topology: topo.Topology,
) -> None:
    kiosk_pem = pki.cert_path(topology.stack.pki_dir, "kiosk-KIOSK-0001").read_text()
    header = {topo.CLIENT_CERT_HEADER: quote(kiosk_pem)}
    # Even with the edge's own certificate, from another address the header is not believed:
    # the caller is the edge's certificate, which is no kiosk.
    status, body = _replica_request(topology, "127.0.0.1", topo.EDGE_CLIENT, header)
    assert status == 403 and body["error"]["code"] == "kiosk_unknown"
    # From the edge's address, the same request is the kiosk's (the control of the test above).
    status, body = _replica_request(topology, topo.EDGE_ADDRESS, topo.EDGE_CLIENT, header)
    assert status == 200 and body["kiosk_id"] == "KIOSK-0001"
    # A kiosk's own certificate does not even get through a replica's handshake.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _replica_request(topology, "127.0.0.1", "kiosk-KIOSK-0001", {})


# --- replicas keep no state of their own -------------------------------------------------------


def test_issuances_alternate_replicas_and_a_nonce_is_a_replay_on_the_other(
    topology: topo.Topology, bodies: list[dict[str, Any]]
) -> None:
    mark = len(topology.served_by())
    nonce = secrets.token_urlsafe(18)
    with kiosk_session(topology) as session:
        first = issue(session, topology, bodies[1], nonce)
        replay = issue(session, topology, bodies[1], nonce)
        later = [
            issue(session, topology, bodies[i % len(bodies)], secrets.token_urlsafe(18))
            for i in range(4)
        ]
    served = served_since(topology, mark)
    assert first.status_code == 200, first.text
    assert replay.status_code == 409 and error_code(replay) == "request_replayed"
    assert all(r.status_code == 200 for r in later)
    # Round robin: the replay met the other replica, and the issuances alternate.
    assert served[0] != served[1]
    assert served[2:] == [served[0], served[1]] * 2
    assert set(served) == {"center-kiosk-api-1", "center-kiosk-api-2"}


def test_c09_a_kiosk_disabled_in_the_shared_database_is_refused_by_every_replica(
    topology: topo.Topology, bodies: list[dict[str, Any]]
) -> None:
    # The console's registry lives in PostgreSQL (as the services' restricted role) with a copy
    # in Redis: one admin action reaches both replicas at once, and undoing it does too.
    settings = topology.stack.settings
    assert settings.redis_url is not None
    store = kvstore.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}center:")
    states = console.kiosk_states(settings, store)
    assert states.db.dialect == "postgresql"
    mark = len(topology.served_by())
    states.set_enabled("KIOSK-0001", False, actor="topology-test")
    try:
        with kiosk_session(topology) as session:
            refused = [
                issue(session, topology, bodies[i], secrets.token_urlsafe(18)) for i in range(4)
            ]
        assert {(r.status_code, error_code(r)) for r in refused} == {(403, "kiosk_disabled")}
        assert {"center-kiosk-api-1", "center-kiosk-api-2"} <= set(served_since(topology, mark))
    finally:
        states.set_enabled("KIOSK-0001", True, actor="topology-test")
        states.db.dispose()
    with kiosk_session(topology) as session:
        again = issue(session, topology, bodies[0], secrets.token_urlsafe(18))
    assert again.status_code == 200, again.text


def test_c08_the_edge_keeps_request_bodies_in_memory(topology: topo.Topology) -> None:
    # A body far above nginx's default buffer (16 KiB) but within the center's limit is read
    # into memory: nginx warns in its error log whenever a body goes to a temp file.
    large = {"nonce": "x" * 200_000}
    with kiosk_session(topology) as session:
        response = session.post(
            edge_url(topology, "/v1/kiosk/certificates"), json=large, timeout=30
        )
    assert 400 <= response.status_code < 500
    assert "buffered to a temporary file" not in (topology.root / "edge/error.log").read_text()
    assert not [p for p in (topology.root / "edge/temp").rglob("*") if p.is_file()]


def test_stalled_connections_stay_at_the_edge(
    topology: topo.Topology, bodies: list[dict[str, Any]]
) -> None:
    port = topology.edge_ports["kiosk"]
    stalled = []
    try:
        for index in range(64):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if index % 2:
                # Half of them start a TLS handshake and stop after a few bytes.
                sock.sendall(b"\x16\x03\x01")
            stalled.append(sock)
        with kiosk_session(topology) as session:
            response = issue(session, topology, bodies[2], secrets.token_urlsafe(18))
        assert response.status_code == 200, response.text
    finally:
        for sock in stalled:
            sock.close()


# --- outages -----------------------------------------------------------------------------------


def _until_issued(
    topology: topo.Topology, body: dict[str, Any], deadline: float = 30.0
) -> list[str]:
    """Issue until one succeeds; the reason codes met on the way."""
    codes: list[str] = []
    end = time.monotonic() + deadline
    with kiosk_session(topology) as session:
        while time.monotonic() < end:
            response = issue(session, topology, body, secrets.token_urlsafe(18))
            if response.status_code == 200:
                return codes
            codes.append(error_code(response))
            time.sleep(0.2)
    raise AssertionError(f"no recovery within {deadline} s: {codes[-5:]}")


def _service_pids(topology: topo.Topology) -> dict[str, int]:
    return {name: child.pid for name, child in topology.children.items()}


@pytest.mark.parametrize("server", ["redis", "postgresql"])
def test_a_restart_of_redis_or_postgresql_ends_in_a_reason_code_and_recovers(
    topology: topo.Topology, bodies: list[dict[str, Any]], server: str
) -> None:
    before = _service_pids(topology)
    body = bodies[3 if server == "redis" else 4]
    topology.servers[server].halt()
    try:
        with kiosk_session(topology) as session:
            down = issue(session, topology, body, secrets.token_urlsafe(18))
        assert down.status_code == 503 and error_code(down) == "service_unavailable"
        assert down.headers.get("Content-Type", "").startswith("application/json")
        # The detail names what is down: Redis, or VRS (whose database is).
        assert ("redis" if server == "redis" else "VRS") in down.json()["error"]["detail"]
    finally:
        topology.servers[server].restart()
    met = _until_issued(topology, body)
    assert set(met) <= {"service_unavailable"}
    # VRS answered the outage with a reason code, not as a bug of its own.
    assert "unhandled error" not in (topology.stack.logs / "vrs.log").read_text()
    # No service was restarted, and every one is still up.
    assert _service_pids(topology) == before
    assert all(child.poll() is None for child in topology.children.values())


# --- a replica killed under load ---------------------------------------------------------------


def _settlement(topology: topo.Topology) -> dict[str, float]:
    """Fees (yen) and printed receipts as settled in the shared store (what the console's fee
    page and CSV show), and repeated receipts summed over every replica's metric files."""
    settings = topology.stack.settings
    assert settings.redis_url is not None
    store = kvstore.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}center:")
    tallies = Tallies(store, settings.center)
    today = tallies.today()
    days = tallies.fees(today - dt.timedelta(days=1), today)  # a run may cross midnight
    totals = {
        "fees": float(sum(day.collected_yen for day in days)),
        "printed": float(sum(day.receipts_printed for day in days)),
        "duplicate": 0.0,
    }
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(topology.root / "metrics"))  # type: ignore[no-untyped-call]
    for metric in registry.collect():
        for sample in metric.samples:
            if (
                sample.name == "vaxcert_center_receipts_total"
                and sample.labels.get("outcome") == "duplicate"
            ):
                totals["duplicate"] += sample.value
    return totals


def test_a_replica_killed_under_load_loses_no_issuance_and_charges_nothing_twice(
    topology: topo.Topology, bodies: list[dict[str, Any]]
) -> None:
    with kiosk_session(topology) as session:
        fees_by_code = {
            m["code"]: m["fee_yen"]
            for m in session.get(edge_url(topology, "/v1/kiosk/config"), timeout=10).json()[
                "municipalities"
            ]
        }
    before = _settlement(topology)
    sent = [0]
    issued: list[tuple[str, int]] = []  # (certificate id, fee) the kiosk was told succeeded
    refused: list[tuple[int, str]] = []
    lock = threading.Lock()
    started = threading.Event()
    counter = iter(range(LOAD))

    def kiosk(worker: int) -> None:
        with kiosk_session(topology) as session:
            for index in counter:
                if index == LOAD // 3:
                    started.set()
                body = bodies[index % len(bodies)]
                response = issue(session, topology, body, secrets.token_urlsafe(18))
                if response.status_code != 200:
                    with lock:
                        refused.append((response.status_code, error_code(response)))
                    continue
                fee = fees_by_code[body["municipality_code"]]
                with lock:
                    issued.append((response.json()["certificate_id"], fee))
                receipt = {
                    "receipt_id": secrets.token_urlsafe(18),
                    "municipality_code": body["municipality_code"],
                    "copies": 1,
                    "amount_yen": fee,
                    "outcome": "printed",
                }
                # Delivered at least once: a kiosk sends again until acknowledged, and every
                # tenth one again anyway, as when an acknowledgement is lost on the way back.
                sends = 2 if index % 10 == 0 else 1
                for _ in range(sends):
                    for _attempt in range(20):
                        answer = session.post(
                            edge_url(topology, "/v1/kiosk/receipts"), json=receipt, timeout=30
                        )
                        with lock:
                            sent[0] += 1
                        if answer.status_code == 202:
                            break
                        time.sleep(0.1)
                    else:
                        raise AssertionError(f"receipt never acknowledged: {answer.text}")

    mark = len(topology.served_by())
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        futures = [pool.submit(kiosk, worker) for worker in range(LOAD_THREADS)]
        assert started.wait(120)
        topology.kill("center-kiosk-api-1")
        for future in futures:
            future.result()

    # Every refusal was a clear one; most issuances went through.
    assert {code for _, code in refused} <= {"service_unavailable"}
    assert len(issued) + len(refused) == LOAD
    assert len(issued) >= LOAD * 0.9
    # Both replicas served before the kill, only the survivor after it.
    served = served_since(topology, mark)
    assert {"center-kiosk-api-1", "center-kiosk-api-2"} <= set(served)
    last_on_killed = max(i for i, name in enumerate(served) if name == "center-kiosk-api-1")
    after_kill = served[last_on_killed + 1 :]
    assert len(after_kill) >= LOAD // 2
    assert set(after_kill) <= {"center-kiosk-api-2", "-"}
    # Nothing the kiosk was told is lost: every certificate is recorded in VRS (C20).
    ids = [certificate_id for certificate_id, _ in issued]
    with _database(topology) as conn:
        recorded = set(
            conn.execute(
                text(
                    f'SELECT certificate_id FROM "{topology.database_schema}".vrs_issuance'
                    " WHERE certificate_id = ANY(:ids)"
                ),
                {"ids": ids},
            ).scalars()
        )
    assert recorded == set(ids)
    # Charged at most once per certificate, though every tenth receipt arrived twice (on the
    # other replica, round robin) and some were sent again after the kill.
    after = _settlement(topology)
    seen = {key: after[key] - before[key] for key in after}
    fee_of = dict(issued)
    assert seen["duplicate"] >= len([i for i in range(LOAD) if i % 10 == 0]) - len(refused)
    # Every acknowledged receipt is settled exactly once: the repeat check and the fee count are
    # one atomic step in Redis, so a replica killed between them cannot leave a gap.
    assert seen["printed"] == len(issued), (seen, sent, len(issued))
    assert seen["fees"] == sum(fee_of.values())


@contextlib.contextmanager
def _database(topology: topo.Topology) -> Iterator[Connection]:
    """A connection to the topology's PostgreSQL (the VRS schema is the topology's own)."""
    engine = create_engine(topology.env["VAXCERT_VRS__DATABASE_URL"])
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def test_the_edge_log_names_no_body_query_or_client(topology: topo.Topology) -> None:
    # C08: the access log has the path, status, upstream and timing only.
    for line in topology.access_log.read_text().splitlines():
        fields = line.split("|")
        assert len(fields) == 9
        # $uri, never $request_uri: no query string, whatever a client put there.
        assert "?" not in fields[4]
