"""Admission control: a bounded number of requests at work, a bounded queue, a bounded wait.

On its launch day Japan's app told residents they had 0 doses while its back end was overloaded.
Here a request that cannot be served in time is refused fast and honestly instead: ``overloaded``
(503) with ``Retry-After``, before anything of it has run.

:class:`Admission` holds ``concurrency`` slots. A request takes a free slot at once; otherwise it
may wait in a first-come, first-served queue of at most ``queue`` requests, for at most
``max_wait`` seconds counted from when it *arrived* (the edge worker stamps that before the
request waits for a thread, ``launch/edge.py``). It is refused at once when the queue is full,
when it has already waited that long, or when the requests ahead of it would, at the recent pace
of the slots, take longer than the time it has left; it is refused when its wait runs out. A
request that finds a slot free takes it even if it came a little late (a busy machine delays
threads by tens of milliseconds), but not after ``late_after`` seconds: then the process is
hopelessly behind, and answering quickly drains its backlog. So no request waits in the queue
past ``max_wait`` from its arrival, none waits without bound, and most refusals are immediate.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Literal, NewType

from vaxcert.errors import VaxcertError

# Why a request was refused: the queue holds more than can be served in its time (or is full);
# it already waited too long before it reached the application (in the server's own queue); or
# its time ran out while it waited in the queue.
ShedCause = Literal["queue_full", "arrived_late", "wait_expired"]

# When a request took its slot, on the admission's clock: what :meth:`Admission.leave` needs.
Ticket = NewType("Ticket", float)

# Weight of the newest slot time in the running average of the pace.
_PACE_WEIGHT = 0.1


class OverloadedError(VaxcertError):
    """Refused by admission control: ``overloaded`` with a ``Retry-After``; nothing was done."""

    def __init__(self, cause: ShedCause, retry_after: int) -> None:
        super().__init__("overloaded", cause, retry_after=retry_after)
        self.cause: ShedCause = cause


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.granted = False


class Admission:
    """Thread-safe slots with a bounded first-come, first-served queue and a bounded wait."""

    def __init__(
        self,
        concurrency: int,
        queue: int,
        max_wait: float,
        retry_after: int,
        late_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1 or queue < 0 or max_wait <= 0 or retry_after < 1:
            raise ValueError("needs concurrency >= 1, queue >= 0, max_wait > 0, retry_after >= 1")
        # Default: a second, or max_wait if longer.
        late_after = max(1.0, max_wait) if late_after is None else late_after
        if late_after < max_wait:
            raise ValueError("late_after must be at least max_wait")
        self.concurrency = concurrency
        self.queue = queue
        self.max_wait = max_wait
        self.retry_after = retry_after
        self.late_after = late_after
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._waiting: deque[_Waiter] = deque()
        self._slot_seconds = 0.0  # running average of how long a request holds its slot

    @property
    def active(self) -> int:
        """Requests holding a slot now."""
        with self._lock:
            return self._active

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        with self._lock:
            return len(self._waiting)

    def enter(self, arrived_at: float | None = None) -> Ticket:
        """Take a slot, waiting for one within the request's time; else :class:`OverloadedError`.

        ``arrived_at`` is the request's arrival on this admission's clock (default: now). Every
        ticket must be given back once with :meth:`leave`.
        """
        now = self._clock()
        waited = now - arrived_at if arrived_at is not None else 0.0
        left = self.max_wait - waited
        with self._lock:
            if waited >= self.late_after:
                # Even with a slot free now: the process is far behind its arrivals, and work
                # that starts this late eats the time its caller has left.
                raise OverloadedError("arrived_late", self.retry_after)
            if self._active < self.concurrency and not self._waiting:
                self._active += 1
                return Ticket(now)
            if left <= 0:
                raise OverloadedError("arrived_late", self.retry_after)
            ahead = len(self._waiting) + 1
            if ahead > self.queue or self._expected_wait(ahead) > left:
                raise OverloadedError("queue_full", self.retry_after)
            waiter = _Waiter()
            self._waiting.append(waiter)
        waiter.event.wait(left)
        with self._lock:
            if waiter.granted:
                return Ticket(self._clock())
            self._waiting.remove(waiter)
        raise OverloadedError("wait_expired", self.retry_after)

    def _expected_wait(self, ahead: int) -> float:
        """How long until ``ahead`` slots free up, with a margin (caller holds the lock).

        Slots free up about every ``slot time / concurrency``; the spread of ``ahead`` such
        waits grows with its square root, and two spreads more make waits that end in a refusal
        rare: a request is better refused at once than after its wait.
        """
        return (ahead + 2 * math.sqrt(ahead)) * self._slot_seconds / self.concurrency

    def leave(self, ticket: Ticket) -> None:
        """Give the slot back: to the longest waiter if there is one."""
        held = max(0.0, self._clock() - ticket)
        with self._lock:
            if self._slot_seconds == 0.0:
                self._slot_seconds = held
            else:
                self._slot_seconds += _PACE_WEIGHT * (held - self._slot_seconds)
            if self._waiting:
                # Handed over directly: a newcomer can never take it first.
                waiter = self._waiting.popleft()
                waiter.granted = True
                waiter.event.set()
                return
            if self._active <= 0:
                raise RuntimeError("leave() without enter()")
            self._active -= 1

    @contextlib.contextmanager
    def slot(self, arrived_at: float | None = None) -> Iterator[None]:
        """``with admission.slot(): ...`` runs the block in a slot (see :meth:`enter`)."""
        ticket = self.enter(arrived_at)
        try:
            yield
        finally:
            self.leave(ticket)
