"""Overload on the real stack: VRS, signer and the center kiosk API as gunicorn processes (mTLS
on loopback), one request at work at a time, a signer stopped with SIGSTOP. Every request gets
its right answer or a fast 503 ``overloaded`` with Retry-After; none hangs; a refused request
leaves nothing behind, and one that waited for a thread past its time is refused, not served."""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from launch.stack import CENTER_PROCESSES, Stack, remove, start_stack
from vaxcert import lgcode, pki
from vaxcert.card import cards
from vaxcert.errors import VaxcertError
from vaxcert.relay import Channel, Reply
from vaxcert.residents import CANARY
from vrs_stub import schema, seed
from vrs_stub.store import Store

PATIENCE = 45.0  # far above anything these steps need on a busy machine; never a speed claim
RETRY_AFTER = 3
# One worker, one slot, no queue; stalls end when the test says so, not by a timeout.
SETTINGS = {
    "VAXCERT_CENTER__ADMISSION__CONCURRENCY": "1",
    "VAXCERT_CENTER__ADMISSION__QUEUE": "0",
    "VAXCERT_CENTER__ADMISSION__RETRY_AFTER_SECONDS": str(RETRY_AFTER),
    "VAXCERT_CENTER__ADMISSION__DEADLINE_SECONDS": "55",
    "VAXCERT_CENTER__RELAY_TIMEOUT_SECONDS": "50",
    "VAXCERT_KIOSK__CENTER_TIMEOUT_SECONDS": "60",
}


@dataclass
class Overloadable:
    stack: Stack
    issuer: cards.CardIssuer

    def channel(self) -> Channel:
        """The kiosk's own client, with a timeout no answer here should come near."""
        directory = self.stack.pki_dir
        return Channel(
            self.stack.settings.url("center_kiosk_api"),
            pki.cert_path(directory, "dedicated-ca"),
            pki.cert_path(directory, "kiosk-KIOSK-0001"),
            pki.key_path(directory, "kiosk-KIOSK-0001"),
            120.0,
            "center",
        )

    def body(self) -> bytes:
        return json.dumps(
            {
                "card": cards.card_files("canary", self.issuer).to_json(),
                "municipality_code": lgcode.KAGOSHIMA_CITY,
                "kind": "domestic",
                "consent": {
                    "terms_version": self.stack.settings.center.terms_version,
                    "accepted": True,
                },
                "nonce": secrets.token_urlsafe(24),
            }
        ).encode()

    def signer(self, sig: signal.Signals) -> None:
        """Stop or continue the signer's gunicorn master and workers (its own process group)."""
        os.killpg(self.stack.children["signer-api"].pid, sig)

    def provisions(self) -> int:
        """Provision records in VRS (C16): one per query that provided a record."""
        store = Store.from_settings(self.stack.settings)
        try:
            with store.transaction(write=False) as conn:
                query = select(func.count()).select_from(schema.provision)
                return int(conn.execute(query).scalar_one())
        finally:
            store.dispose()


def _start(tmp: Any, spare_threads: int) -> Overloadable:
    env = {**SETTINGS, "VAXCERT_CENTER__ADMISSION__SPARE_THREADS": str(spare_threads)}
    stack = start_stack(
        tmp, workers=1, processes=CENTER_PROCESSES, kiosk_certificates=["KIOSK-0001"], extra_env=env
    )
    return Overloadable(stack, cards.CardIssuer.from_pki(stack.pki_dir))


@pytest.fixture(scope="module")
def spares(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Overloadable]:
    """One slot, no queue, four spare threads to answer refusals with."""
    made = _start(tmp_path_factory.mktemp("overload-spares"), 4)
    yield made
    remove(made.stack)


@pytest.fixture(scope="module")
def one_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Overloadable]:
    """One slot, no queue and no spare thread: a second request waits in gunicorn's own queue."""
    made = _start(tmp_path_factory.mktemp("overload-one-thread"), 0)
    yield made
    remove(made.stack)


class Call(threading.Thread):
    """One kiosk request on a kept-alive channel of its own."""

    def __init__(self, rig: Overloadable, body: bytes) -> None:
        super().__init__(daemon=True)
        self.channel = rig.channel()
        self.channel.exchange("GET", "/healthz")  # connected before the test's clock matters
        self.body = body
        self.reply: Reply | None = None
        self.error: VaxcertError | None = None

    def run(self) -> None:
        try:
            self.reply = self.channel.call("POST", "/v1/kiosk/certificates", self.body)
        except VaxcertError as exc:
            self.error = exc


def _canary_doses() -> list[tuple[int, str, str]]:
    record = next(
        r
        for r in seed.edge_case_records()
        if r.identity.my_number == CANARY.my_number and r.municipality_code == lgcode.KAGOSHIMA_CITY
    )
    return sorted(
        (v.dose_number, v.vaccinated_on.isoformat(), v.lot_number or "")
        for v in record.vaccinations
        if v.vaccinated_on is not None
    )


def _right(reply: Reply | None) -> bool:
    assert reply is not None and reply.status == 200, reply
    body = json.loads(reply.body)
    shown = sorted((d["dose_number"], d["date"], d["lot"]) for d in body["doses"])
    return (
        shown == _canary_doses() and body["holder"]["birth_date"] == CANARY.birth_date.isoformat()
    )


def _overloaded(reply: Reply | None) -> bool:
    assert reply is not None, "no answer"
    if reply.status != 503:
        return False
    error = json.loads(reply.body)["error"]
    return (
        reply.headers["Retry-After"] == str(RETRY_AFTER)
        and error["code"] == "overloaded"
        and "not been charged" in error["next_step"]
    )


def _wait_until(condition: Any) -> None:
    end = time.monotonic() + PATIENCE
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    assert condition(), "the stack did not reach the expected state"


def test_beyond_the_limit_every_request_is_refused_fast_and_the_admitted_one_is_right(
    spares: Overloadable,
) -> None:
    rig = spares
    assert _right(Call(rig, rig.body()).channel.call("POST", "/v1/kiosk/certificates", rig.body()))
    provisions = rig.provisions()
    calls = [Call(rig, rig.body()) for _ in range(8)]
    rig.signer(signal.SIGSTOP)
    try:
        for call in calls:
            call.start()
        # One of them holds the only slot, stuck at the stopped signer; the others are all
        # answered meanwhile: none waits for it.
        _wait_until(lambda: sum(1 for call in calls if not call.is_alive()) == len(calls) - 1)
        (held,) = [call for call in calls if call.is_alive()]
        refused = [call for call in calls if call is not held]
        assert all(call.error is None and _overloaded(call.reply) for call in refused)
    finally:
        rig.signer(signal.SIGCONT)
    held.join(PATIENCE)
    assert held.error is None and _right(held.reply)
    # Only the admitted request reached VRS; a refused one left nothing, not even its nonce.
    assert rig.provisions() == provisions + 1
    again = rig.channel().call("POST", "/v1/kiosk/certificates", refused[0].body)
    assert _right(again)


def test_a_request_that_waited_for_a_thread_past_its_time_is_refused_not_served(
    one_thread: Overloadable,
) -> None:
    rig = one_thread
    first, second = Call(rig, rig.body()), Call(rig, rig.body())
    provisions = rig.provisions()
    rig.signer(signal.SIGSTOP)
    try:
        first.start()
        _wait_until(lambda: rig.provisions() == provisions + 1)  # at the signer now
        second.start()  # no thread for it: it waits in gunicorn's queue
        # Well past the second after which a request is too late to start, however slow this
        # machine is.
        time.sleep(3.0)
        assert second.is_alive()
    finally:
        rig.signer(signal.SIGCONT)
    first.join(PATIENCE)
    second.join(PATIENCE)
    assert first.error is None and _right(first.reply)
    # The slot was free by the time a thread took it, but the request had waited its time:
    # it is refused, before it reached VRS (its arrival was stamped before the wait).
    assert second.error is None and _overloaded(second.reply)
    assert rig.provisions() == provisions + 1
