"""Admission control (vaxcert/admission.py): slots, a first-come first-served queue bounded in
length and in time, and refusals that say why. Real threads; the clock is a stand-in only where
a test needs time to have passed without waiting for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from vaxcert.admission import Admission, OverloadedError, Ticket

PATIENCE = 30.0  # far above anything these steps need on a busy machine; never a speed claim


def _wait_for(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + PATIENCE
    while not condition() and time.monotonic() < end:
        time.sleep(0.005)
    assert condition(), "admission did not reach the expected state"


class Waiting(threading.Thread):
    """One request that enters (and may wait) in a thread of its own."""

    def __init__(self, admission: Admission, name: str, order: list[str]) -> None:
        super().__init__(daemon=True)
        self.admission = admission
        self.label = name
        self.order = order
        self.ticket: Ticket | None = None
        self.refused: OverloadedError | None = None

    def run(self) -> None:
        try:
            self.ticket = self.admission.enter()
            self.order.append(self.label)
        except OverloadedError as exc:
            self.refused = exc


def test_free_slots_are_taken_at_once_and_a_full_queue_refuses_with_retry_after() -> None:
    admission = Admission(concurrency=2, queue=0, max_wait=5.0, retry_after=3)
    first, second = admission.enter(), admission.enter()
    assert admission.active == 2
    with pytest.raises(OverloadedError) as refused:
        admission.enter()
    assert refused.value.code == "overloaded" and refused.value.status == 503
    assert refused.value.cause == "queue_full" and refused.value.retry_after == 3
    admission.leave(first)
    third = admission.enter()  # the slot given back is free again
    admission.leave(second)
    admission.leave(third)
    assert admission.active == 0


def test_waiters_get_slots_first_come_first_served_and_newcomers_never_jump_the_queue() -> None:
    admission = Admission(concurrency=1, queue=2, max_wait=PATIENCE, retry_after=1)
    holder = admission.enter()
    order: list[str] = []
    b = Waiting(admission, "b", order)
    b.start()
    _wait_for(lambda: admission.waiting == 1)
    c = Waiting(admission, "c", order)
    c.start()
    _wait_for(lambda: admission.waiting == 2)
    with pytest.raises(OverloadedError) as refused:
        admission.enter()  # the queue holds two: a third waiter is refused at once
    assert refused.value.cause == "queue_full"

    admission.leave(holder)  # handed to b, the longest waiter
    b.join(PATIENCE)
    assert order == ["b"] and admission.waiting == 1 and admission.active == 1
    assert b.ticket is not None
    admission.leave(b.ticket)
    c.join(PATIENCE)
    assert order == ["b", "c"] and c.ticket is not None
    admission.leave(c.ticket)
    assert admission.active == 0 and admission.waiting == 0


def test_a_waiter_whose_time_runs_out_is_refused_and_leaves_the_queue() -> None:
    admission = Admission(concurrency=1, queue=1, max_wait=0.05, retry_after=1)
    holder = admission.enter()
    waiter = Waiting(admission, "late", [])
    waiter.start()
    waiter.join(PATIENCE)
    assert waiter.refused is not None and waiter.refused.cause == "wait_expired"
    assert admission.waiting == 0
    admission.leave(holder)
    assert admission.active == 0


def test_a_request_far_behind_its_arrival_is_refused_even_with_a_free_slot() -> None:
    now = [1000.0]
    admission = Admission(
        concurrency=1, queue=4, max_wait=0.1, retry_after=1, late_after=1.0, clock=lambda: now[0]
    )
    with pytest.raises(OverloadedError) as refused:
        admission.enter(arrived_at=now[0] - 1.0)
    assert refused.value.cause == "arrived_late"
    assert admission.active == 0
    # A little late (a busy machine delays threads): a free slot still takes it.
    ticket = admission.enter(arrived_at=now[0] - 0.5)
    # But with every slot busy it has no time left to wait: refused at once.
    with pytest.raises(OverloadedError) as refused:
        admission.enter(arrived_at=now[0] - 0.1)
    assert refused.value.cause == "arrived_late" and admission.waiting == 0
    admission.leave(ticket)


def test_a_request_that_cannot_be_served_in_its_time_is_refused_at_once_not_later() -> None:
    now = [0.0]
    admission = Admission(concurrency=1, queue=8, max_wait=0.5, retry_after=1, clock=lambda: now[0])
    for _ in range(3):  # each request holds its slot for 1 s: the pace the queue is judged by
        ticket = admission.enter()
        now[0] += 1.0
        admission.leave(ticket)
    holder = admission.enter()
    with pytest.raises(OverloadedError) as refused:
        admission.enter()  # one slot freeing up about every second: 0.5 s is not enough
    assert refused.value.cause == "queue_full" and admission.waiting == 0
    admission.leave(holder)


def test_a_quick_pace_lets_a_request_wait_for_its_slot() -> None:
    now = [0.0]
    admission = Admission(
        concurrency=1, queue=8, max_wait=PATIENCE, retry_after=1, clock=lambda: now[0]
    )
    for _ in range(3):
        ticket = admission.enter()
        now[0] += 0.01
        admission.leave(ticket)
    holder = admission.enter()
    order: list[str] = []
    waiter = Waiting(admission, "next", order)
    waiter.start()
    _wait_for(lambda: admission.waiting == 1)
    admission.leave(holder)
    waiter.join(PATIENCE)
    assert order == ["next"] and waiter.ticket is not None
    admission.leave(waiter.ticket)


def test_the_slot_block_gives_its_slot_back_even_when_it_fails() -> None:
    admission = Admission(concurrency=1, queue=0, max_wait=1.0, retry_after=1)
    with pytest.raises(RuntimeError, match="bug"), admission.slot():
        assert admission.active == 1
        raise RuntimeError("bug")
    assert admission.active == 0
    with admission.slot():
        pass


def test_leave_without_enter_is_a_bug_not_a_free_slot() -> None:
    admission = Admission(concurrency=1, queue=0, max_wait=1.0, retry_after=1)
    with pytest.raises(RuntimeError):
        admission.leave(Ticket(0.0))


@pytest.mark.parametrize(
    "arguments",
    [
        {"concurrency": 0, "queue": 0, "max_wait": 1.0, "retry_after": 1},
        {"concurrency": 1, "queue": -1, "max_wait": 1.0, "retry_after": 1},
        {"concurrency": 1, "queue": 0, "max_wait": 0.0, "retry_after": 1},
        {"concurrency": 1, "queue": 0, "max_wait": 1.0, "retry_after": 0},
        {"concurrency": 1, "queue": 0, "max_wait": 1.0, "retry_after": 1, "late_after": 0.5},
    ],
)
def test_nonsense_limits_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Admission(**arguments)  # type: ignore[arg-type]
