"""Shared ephemeral state (design.md §6): nonces, replay guards, rate limits, aggregate counters.

Never personal data (C08): keys are built from opaque ids (kiosk id, nonce, municipality code).
:class:`RedisStore` is production and tests; :class:`MemoryStore` is the embedded default, valid
only inside one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import redis

from vaxcert.errors import VaxcertError


@dataclass(frozen=True, slots=True)
class Tally:
    """One counter step of :meth:`KeyValueStore.tally`: add ``amount`` to ``counter``, unless
    ``marker`` is given and was already set (a "first time this pair is seen" count).
    ``amount=0`` reads the counter."""

    counter: str
    marker: str | None = None
    amount: int = 1


class Tallied(NamedTuple):
    """A counter's value after its :class:`Tally` step, and whether the step was taken (False
    when its marker was already set)."""

    value: int
    counted: bool


class KeyValueStore(Protocol):
    """What services may keep in shared ephemeral state."""

    def add(self, key: str, ttl_seconds: int) -> bool:
        """Set ``key`` if absent (with a TTL); False when it already existed (a replay)."""
        ...

    def incr(self, key: str, ttl_seconds: int | None = None, amount: int = 1) -> int:
        """Add ``amount`` to a counter and return the new value; a TTL starts with the first add."""
        ...

    def get_int(self, key: str) -> int:
        """A counter's value, 0 when absent."""
        ...

    def tally(self, ops: Sequence[Tally], ttl_seconds: int) -> list[Tallied]:
        """Apply ``ops`` in order, atomically, and return each counter's value after its step;
        counters and markers touched get ``ttl_seconds`` when they have none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        ...

    def put(self, key: str, value: bytes, ttl_seconds: int | None = None) -> None:
        """Store an opaque value (a public key, a purpose tag; never personal data, C08)."""
        ...

    def get(self, key: str) -> bytes | None:
        """The value :meth:`put` stored under ``key``, None when absent or expired."""
        ...

    def take(self, key: str) -> bytes | None:
        """Remove ``key`` and return its value, atomically: at most one caller ever gets it
        (single-use challenges)."""
        ...

    def ping(self) -> bool:
        """True when the store answers."""
        ...


class MemoryStore:
    """In-process store with the same semantics as :class:`RedisStore` (one process only)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._values: dict[str, tuple[int, float | None]] = {}
        self._blobs: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()
        self._now = clock

    def _live(self, key: str) -> tuple[int, float | None] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= self._now():
            del self._values[key]
            return None
        return entry

    def add(self, key: str, ttl_seconds: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (1, self._now() + ttl_seconds)
            return True

    def incr(self, key: str, ttl_seconds: int | None = None, amount: int = 1) -> int:
        with self._lock:
            entry = self._live(key)
            if entry is None:
                expiry = self._now() + ttl_seconds if ttl_seconds else None
                entry = (0, expiry)
            value = entry[0] + amount
            self._values[key] = (value, entry[1])
            return value

    def get_int(self, key: str) -> int:
        with self._lock:
            entry = self._live(key)
            return entry[0] if entry else 0

    def tally(self, ops: Sequence[Tally], ttl_seconds: int) -> list[Tallied]:
        with self._lock:
            expiry = self._now() + ttl_seconds
            values: list[Tallied] = []
            for op in ops:
                counted = True
                if op.marker is not None:
                    if self._live(op.marker) is not None:
                        counted = False
                    else:
                        self._values[op.marker] = (1, expiry)
                entry = self._live(op.counter) or (0, expiry)
                value = entry[0] + (op.amount if counted else 0)
                self._values[op.counter] = (value, entry[1])
                values.append(Tallied(value, counted))
            return values

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)
            self._blobs.pop(key, None)

    def put(self, key: str, value: bytes, ttl_seconds: int | None = None) -> None:
        with self._lock:
            self._blobs[key] = (bytes(value), self._now() + ttl_seconds if ttl_seconds else None)

    def _blob(self, key: str) -> bytes | None:
        entry = self._blobs.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= self._now():
            del self._blobs[key]
            return None
        return entry[0] if entry else None

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._blob(key)

    def take(self, key: str) -> bytes | None:
        with self._lock:
            value = self._blob(key)
            self._blobs.pop(key, None)
            return value

    def ping(self) -> bool:
        return True


_INCR_WITH_TTL = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX') end
return value
"""


# KEYS: the counters, then the markers; ARGV: ttl, then per counter its step and the index in
# KEYS of its marker (0: none).
_TALLY = """
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, (#ARGV - 1) / 2 do
  local step = tonumber(ARGV[2 * i])
  local marker = tonumber(ARGV[2 * i + 1])
  local counted = 1
  if marker > 0 and not redis.call('SET', KEYS[marker], 1, 'NX', 'EX', ttl) then
    step = 0
    counted = 0
  end
  out[2 * i - 1] = redis.call('INCRBY', KEYS[i], step)
  out[2 * i] = counted
  redis.call('EXPIRE', KEYS[i], ttl, 'NX')
end
return out
"""


class RedisStore:
    """Redis-backed store; every key gets ``prefix`` so deployments and test runs don't collide.

    Redis being down or slow is an outage like any peer's: ``service_unavailable``, never a 500.
    """

    def __init__(self, url: str, prefix: str = "vaxcert:") -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._incr = self._redis.register_script(_INCR_WITH_TTL)
        self._tally = self._redis.register_script(_TALLY)

    def add(self, key: str, ttl_seconds: int) -> bool:
        with _outage_is_unavailable():
            return bool(self._redis.set(self._prefix + key, 1, nx=True, ex=ttl_seconds))

    def incr(self, key: str, ttl_seconds: int | None = None, amount: int = 1) -> int:
        # One round trip, atomic: a counter never lives on without its TTL.
        with _outage_is_unavailable():
            return int(self._incr(keys=[self._prefix + key], args=[amount, ttl_seconds or 0]))

    def get_int(self, key: str) -> int:
        with _outage_is_unavailable():
            value = self._redis.get(self._prefix + key)
        return int(value) if value is not None else 0

    def delete(self, key: str) -> None:
        with _outage_is_unavailable():
            self._redis.delete(self._prefix + key)

    def put(self, key: str, value: bytes, ttl_seconds: int | None = None) -> None:
        with _outage_is_unavailable():
            self._redis.set(self._prefix + key, value, ex=ttl_seconds or None)

    def get(self, key: str) -> bytes | None:
        with _outage_is_unavailable():
            value: bytes | None = self._redis.get(self._prefix + key)  # type: ignore[assignment]
        return bytes(value) if value is not None else None

    def take(self, key: str) -> bytes | None:
        # GETDEL: one atomic step, so two replicas never both consume one challenge.
        with _outage_is_unavailable():
            value: bytes | None = self._redis.getdel(self._prefix + key)  # type: ignore[assignment]
        return bytes(value) if value is not None else None

    def tally(self, ops: Sequence[Tally], ttl_seconds: int) -> list[Tallied]:
        # One round trip for the whole sequence, atomic like every Lua script.
        keys = [self._prefix + op.counter for op in ops]
        args: list[int] = [ttl_seconds]
        for op in ops:
            marker = 0
            if op.marker is not None:
                keys.append(self._prefix + op.marker)
                marker = len(keys)
            args += [op.amount, marker]
        with _outage_is_unavailable():
            flat = [int(value) for value in self._tally(keys=keys, args=args)]
        return [Tallied(flat[i], bool(flat[i + 1])) for i in range(0, len(flat), 2)]

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


@contextmanager
def _outage_is_unavailable() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise VaxcertError("service_unavailable", f"redis: {type(exc).__name__}") from None


def from_url(url: str | None, prefix: str = "vaxcert:") -> KeyValueStore:
    """Redis when a URL is configured, otherwise the in-process store."""
    return RedisStore(url, prefix) if url else MemoryStore()
