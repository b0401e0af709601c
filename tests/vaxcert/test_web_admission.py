"""Admission control on a Flask app (vaxcert.web.admit): a refusal is 503 ``overloaded`` with
``Retry-After`` before the view runs, other endpoints are always answered, an admitted request
carries its deadline to every relay call, and every slot comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, jsonify

from vaxcert import relay, web
from vaxcert.admission import Admission, ShedCause
from vaxcert.config import load_settings

PATIENCE = 30.0  # far above anything these steps need on a busy machine; never a speed claim
DEADLINE = 7.0


@dataclass
class Rig:
    app: Flask
    admission: Admission
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    ran: int = 0
    deadlines: list[float | None] = field(default_factory=list)
    shed: list[ShedCause] = field(default_factory=list)


@pytest.fixture
def rig() -> Iterator[Rig]:
    app = web.new_app(__name__, "kiosk")
    web.install(app, load_settings(), "test")
    admission = Admission(concurrency=1, queue=0, max_wait=5.0, retry_after=4)
    made = Rig(app, admission)
    web.admit(app, admission, {"work", "fail"}, DEADLINE, on_shed=made.shed.append)

    @app.post("/work")
    def work() -> Any:
        made.ran += 1
        made.deadlines.append(relay.deadline_var.get())
        made.entered.set()
        assert made.release.wait(PATIENCE)
        return jsonify(done=True)

    @app.post("/fail")
    def fail() -> Any:
        raise RuntimeError("a bug in an admitted view")

    @app.get("/cheap")
    def cheap() -> Any:
        return jsonify(deadline=relay.deadline_var.get())

    yield made
    made.release.set()


def _hold_the_slot(rig: Rig) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    holder = threading.Thread(
        target=lambda: answers.append(rig.app.test_client().post("/work")), daemon=True
    )
    holder.start()
    assert rig.entered.wait(PATIENCE)
    return holder, answers


def test_a_request_beyond_the_limit_gets_503_overloaded_with_retry_after_and_never_runs(
    rig: Rig,
) -> None:
    holder, answers = _hold_the_slot(rig)
    refused = rig.app.test_client().post("/work", headers={"Accept-Language": "ja"})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "4"
    error = refused.json["error"]
    assert error["code"] == "overloaded"
    assert error["message"] == "ただいま混み合っています。"
    assert "料金はかかっていません" in error["next_step"]
    assert rig.ran == 1 and rig.shed == ["queue_full"]
    english = rig.app.test_client().post("/work").json["error"]
    assert english["next_step"] == "Please try again in a moment. You have not been charged."
    rig.release.set()
    holder.join(PATIENCE)
    assert answers[0].status_code == 200 and "Retry-After" not in answers[0].headers


def test_endpoints_outside_admission_are_answered_while_every_slot_is_busy(rig: Rig) -> None:
    holder, _ = _hold_the_slot(rig)
    client = rig.app.test_client()
    assert client.get("/cheap").status_code == 200
    assert client.get("/healthz").status_code == 200
    rig.release.set()
    holder.join(PATIENCE)


def test_a_request_that_waited_for_a_thread_past_its_time_is_refused_without_running(
    rig: Rig,
) -> None:
    # The edge worker stamps the arrival before the wait for a thread (launch/edge.py).
    arrived_long_ago = {web.ARRIVED_AT: time.monotonic() - 60.0}
    refused = rig.app.test_client().post("/work", environ_base=arrived_long_ago)
    assert refused.status_code == 503 and refused.json["error"]["code"] == "overloaded"
    assert rig.ran == 0 and rig.shed == ["arrived_late"]


def test_an_admitted_request_carries_its_deadline_from_its_arrival_and_only_it(rig: Rig) -> None:
    rig.release.set()
    arrived = time.monotonic() - 1.0
    answer = rig.app.test_client().post("/work", environ_base={web.ARRIVED_AT: arrived})
    assert answer.status_code == 200
    assert rig.deadlines == [arrived + DEADLINE]
    # Gone with the request: nothing else in this thread inherits it.
    assert relay.deadline_var.get() is None
    assert rig.app.test_client().get("/cheap").json == {"deadline": None}


def test_the_slot_comes_back_when_the_admitted_view_fails(rig: Rig) -> None:
    rig.release.set()
    client = rig.app.test_client()
    assert client.post("/fail").status_code == 500
    assert rig.admission.active == 0
    assert client.post("/work").status_code == 200
    assert rig.admission.active == 0
