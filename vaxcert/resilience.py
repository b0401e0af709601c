"""A circuit breaker for calls to other services (VRS, signer).

After ``failure_threshold`` consecutive failures the breaker opens and calls fail fast for
``reset_seconds``; then one trial call is let through (half-open) and its outcome closes or
reopens it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

State = Literal["closed", "open", "half_open"]
T = TypeVar("T")


class CircuitOpenError(Exception):
    """The breaker is open: the call was not attempted."""


class CircuitBreaker:
    """Thread-safe consecutive-failure breaker."""

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, State], None] | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._state: State = "closed"
        self._trial_running = False

    @property
    def state(self) -> State:
        """The current state (open turns half-open once the reset time has passed)."""
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_seconds:
            self._set("half_open")
        return self._state

    def _set(self, state: State) -> None:
        if state != self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(self.name, state)

    def call(self, operation: Callable[[], T], is_failure: Callable[[BaseException], bool]) -> T:
        """Run ``operation`` unless open; exceptions for which ``is_failure`` holds count."""
        with self._lock:
            state = self._current()
            if state == "open" or (state == "half_open" and self._trial_running):
                raise CircuitOpenError(self.name)
            if state == "half_open":
                self._trial_running = True
        try:
            result = operation()
        except BaseException as exc:
            with self._lock:
                self._trial_running = False
                if is_failure(exc):
                    self._failures += 1
                    if self._state == "half_open" or self._failures >= self.failure_threshold:
                        self._opened_at = self._clock()
                        self._set("open")
            raise
        with self._lock:
            self._trial_running = False
            self._failures = 0
            self._set("closed")
        return result
