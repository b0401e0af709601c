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
from typing import NamedTuple, Protocol, cast

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


class Taken(NamedTuple):
    """What :meth:`KeyValueStore.take` found: the value (None when there was none to take) and,
    when there was none, whether its marker says an earlier caller took it."""

    value: str | None
    taken_before: bool


@dataclass(frozen=True, slots=True)
class FieldCount:
    """One step of :meth:`KeyValueStore.count_fields`: add ``amount`` to ``field`` of the hash
    ``key``, which expires at ``expire_at`` (Unix time)."""

    key: str
    field: str
    amount: int
    expire_at: int


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

    def ping(self) -> bool:
        """True when the store answers."""
        ...

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        """Set ``key`` to a text ``value`` for ``ttl_seconds``."""
        ...

    def get_texts(self, keys: Sequence[str]) -> list[str | None]:
        """The text values of ``keys`` (None where absent), in one round trip."""
        ...

    def take(self, key: str, marker: str, marker_ttl_seconds: int) -> Taken:
        """Remove the text value of ``key`` and return it, atomically: at most one caller ever
        gets it (single-use app challenges, C06). The taker leaves ``marker`` (if absent) for
        ``marker_ttl_seconds``, so a later caller learns the value was taken rather than never
        there. One round trip."""
        ...

    def count_fields(self, steps: Sequence[FieldCount]) -> None:
        """Apply every :class:`FieldCount` step (hash counters) in one round trip."""
        ...

    def count_fields_once(self, marker: str, ttl_seconds: int, steps: Sequence[FieldCount]) -> bool:
        """Set ``marker`` (with a TTL) and apply ``steps`` in one atomic step, unless the marker
        is already set: then nothing is counted and the answer is False (a repeat)."""
        ...

    def read_fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        """Every field of each hash in ``keys`` ({} where absent), in one round trip."""
        ...

    def push(self, key: str, value: str, ttl_seconds: int, keep: int) -> None:
        """Put ``value`` at the head of the list ``key``, keep its ``keep`` newest items, and let
        the list expire ``ttl_seconds`` after this push."""
        ...

    def items(self, key: str) -> list[str]:
        """The items of the list ``key``, newest first."""
        ...

    def window(self, key: str, amount: int, now: float, span_seconds: int, slots: int) -> int:
        """Add ``amount`` (0: just read) to a sliding-window counter and return its total over
        the last ``span_seconds`` before ``now``, counted in ``slots`` time slots (the oldest
        slot leaves the window whole, so the span is between ``span - span/slots`` and
        ``span``). Atomic, one round trip."""
        ...


def window_slots(key: str, now: float, span_seconds: int, slots: int) -> list[str]:
    """The slot keys of a sliding window at ``now``, current slot first."""
    width = max(1, -(-span_seconds // slots))
    current = int(now // width)
    return [f"{key}:{slot}" for slot in range(current, current - slots, -1)]


def _window_ttl(span_seconds: int, slots: int) -> int:
    return span_seconds + max(1, -(-span_seconds // slots)) + 1


class MemoryStore:
    """In-process store with the same semantics as :class:`RedisStore` (one process only)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._values: dict[str, tuple[int, float | None]] = {}
        self._texts: dict[str, tuple[str, float]] = {}
        self._lists: dict[str, tuple[list[str], float]] = {}
        # Hash counters expire at a Unix time (their bucket's end plus retention).
        self._hashes: dict[str, tuple[dict[str, int], float]] = {}
        self._lock = threading.RLock()
        self._now = clock
        self._wall = wall

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
            self._texts.pop(key, None)

    def ping(self) -> bool:
        return True

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        with self._lock:
            self._texts[key] = (value, self._now() + ttl_seconds)

    def _text(self, key: str) -> str | None:
        entry = self._texts.get(key)
        if entry is None or entry[1] <= self._now():
            self._texts.pop(key, None)
            return None
        return entry[0]

    def get_texts(self, keys: Sequence[str]) -> list[str | None]:
        with self._lock:
            return [self._text_or_counter(key) for key in keys]

    def _text_or_counter(self, key: str) -> str | None:
        # As in Redis, a counter reads as its decimal text.
        text = self._text(key)
        if text is not None:
            return text
        entry = self._live(key)
        return None if entry is None else str(entry[0])

    def take(self, key: str, marker: str, marker_ttl_seconds: int) -> Taken:
        with self._lock:
            value = self._text(key)
            self._texts.pop(key, None)
            if value is None:
                return Taken(None, self._live(marker) is not None)
            if self._live(marker) is None:
                self._values[marker] = (1, self._now() + marker_ttl_seconds)
            return Taken(value, False)

    def _hash(self, key: str) -> dict[str, int] | None:
        entry = self._hashes.get(key)
        if entry is None or entry[1] <= self._wall():
            self._hashes.pop(key, None)
            return None
        return entry[0]

    def count_fields(self, steps: Sequence[FieldCount]) -> None:
        with self._lock:
            for step in steps:
                fields = self._hash(step.key)
                if fields is None:
                    fields = {}
                fields[step.field] = fields.get(step.field, 0) + step.amount
                self._hashes[step.key] = (fields, float(step.expire_at))

    def count_fields_once(self, marker: str, ttl_seconds: int, steps: Sequence[FieldCount]) -> bool:
        with self._lock:
            if self._live(marker) is not None:
                return False
            self._values[marker] = (1, self._now() + ttl_seconds)
            self.count_fields(steps)
            return True

    def read_fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        with self._lock:
            return [dict(self._hash(key) or {}) for key in keys]

    def push(self, key: str, value: str, ttl_seconds: int, keep: int) -> None:
        with self._lock:
            entry = self._lists.get(key)
            values = entry[0] if entry is not None and entry[1] > self._now() else []
            self._lists[key] = ([value, *values][:keep], self._now() + ttl_seconds)

    def items(self, key: str) -> list[str]:
        with self._lock:
            entry = self._lists.get(key)
            if entry is None or entry[1] <= self._now():
                self._lists.pop(key, None)
                return []
            return list(entry[0])

    def window(self, key: str, amount: int, now: float, span_seconds: int, slots: int) -> int:
        keys = window_slots(key, now, span_seconds, slots)
        ttl = _window_ttl(span_seconds, slots)
        total = self.incr(keys[0], ttl, amount) if amount else self.get_int(keys[0])
        return total + sum(self.get_int(slot) for slot in keys[1:])


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


# KEYS: the marker, then one hash per step; ARGV: the marker's ttl, then per step its field,
# amount and expiry (Unix time). 0 when the marker was already set (nothing counted).
_COUNT_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
for i = 2, #KEYS do
  local at = (i - 2) * 3 + 2
  redis.call('HINCRBY', KEYS[i], ARGV[at], ARGV[at + 1])
  redis.call('EXPIREAT', KEYS[i], ARGV[at + 2])
end
return 1
"""

# KEYS: the value, its marker; ARGV: the marker's ttl. {1, value} when taken, else {0, whether
# the marker is set}.
_TAKE = """
local value = redis.call('GETDEL', KEYS[1])
if value then
  redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[1])
  return {1, value}
end
return {0, redis.call('EXISTS', KEYS[2])}
"""

# KEYS: the current slot, then the earlier ones; ARGV: amount, ttl.
_WINDOW = """
local total = 0
if tonumber(ARGV[1]) ~= 0 then
  total = redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
else
  total = tonumber(redis.call('GET', KEYS[1]) or '0')
end
for i = 2, #KEYS do
  total = total + tonumber(redis.call('GET', KEYS[i]) or '0')
end
return total
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
        self._window = self._redis.register_script(_WINDOW)
        self._count_once = self._redis.register_script(_COUNT_ONCE)
        self._take = self._redis.register_script(_TAKE)

    def add(self, key: str, ttl_seconds: int) -> bool:
        with _outage_is_unavailable():
            return bool(self._redis.set(self._prefix + key, 1, nx=True, ex=ttl_seconds))

    def incr(self, key: str, ttl_seconds: int | None = None, amount: int = 1) -> int:
        # One round trip, atomic: a counter never lives on without its TTL.
        with _outage_is_unavailable():
            return int(self._incr(keys=[self._prefix + key], args=[amount, ttl_seconds or 0]))

    def get_int(self, key: str) -> int:
        with _outage_is_unavailable():
            value = cast("bytes | None", self._redis.get(self._prefix + key))
        return int(value) if value is not None else 0

    def delete(self, key: str) -> None:
        with _outage_is_unavailable():
            self._redis.delete(self._prefix + key)

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

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        with _outage_is_unavailable():
            self._redis.set(self._prefix + key, value.encode(), ex=ttl_seconds)

    def get_texts(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        with _outage_is_unavailable():
            values = cast("list[bytes | None]", self._redis.mget([self._prefix + k for k in keys]))
        return [None if value is None else bytes(value).decode() for value in values]

    def take(self, key: str, marker: str, marker_ttl_seconds: int) -> Taken:
        # One Lua script: GETDEL and the marker in one atomic step and one round trip, so two
        # replicas never both consume one challenge.
        keys = [self._prefix + key, self._prefix + marker]
        with _outage_is_unavailable():
            taken, found = self._take(keys=keys, args=[marker_ttl_seconds])
        if int(taken):
            return Taken(bytes(found).decode(), False)
        return Taken(None, bool(int(found)))

    def count_fields(self, steps: Sequence[FieldCount]) -> None:
        # One round trip (a pipeline, not a transaction: each HINCRBY is atomic on its own).
        pipe = self._redis.pipeline(transaction=False)
        expiries: dict[str, int] = {}
        for step in steps:
            pipe.hincrby(self._prefix + step.key, step.field, step.amount)
            expiries[step.key] = step.expire_at
        for key, at in expiries.items():
            pipe.expireat(self._prefix + key, at)
        with _outage_is_unavailable():
            pipe.execute()

    def count_fields_once(self, marker: str, ttl_seconds: int, steps: Sequence[FieldCount]) -> bool:
        keys = [self._prefix + marker, *(self._prefix + step.key for step in steps)]
        args: list[int | str] = [ttl_seconds]
        for step in steps:
            args += [step.field, step.amount, step.expire_at]
        with _outage_is_unavailable():
            return bool(self._count_once(keys=keys, args=args))

    def read_fields(self, keys: Sequence[str]) -> list[dict[str, int]]:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._prefix + key)
        with _outage_is_unavailable():
            found = pipe.execute()
        return [{bytes(k).decode(): int(v) for k, v in fields.items()} for fields in found]

    def push(self, key: str, value: str, ttl_seconds: int, keep: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        name = self._prefix + key
        pipe.lpush(name, value.encode())
        pipe.ltrim(name, 0, keep - 1)
        pipe.expire(name, ttl_seconds)
        with _outage_is_unavailable():
            pipe.execute()

    def items(self, key: str) -> list[str]:
        with _outage_is_unavailable():
            values = cast("list[bytes]", self._redis.lrange(self._prefix + key, 0, -1))
        return [bytes(value).decode() for value in values]

    def window(self, key: str, amount: int, now: float, span_seconds: int, slots: int) -> int:
        keys = [self._prefix + slot for slot in window_slots(key, now, span_seconds, slots)]
        with _outage_is_unavailable():
            return int(self._window(keys=keys, args=[amount, _window_ttl(span_seconds, slots)]))


@contextmanager
def _outage_is_unavailable() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise VaxcertError("service_unavailable", f"redis: {type(exc).__name__}") from None


def from_url(url: str | None, prefix: str = "vaxcert:") -> KeyValueStore:
    """Redis when a URL is configured, otherwise the in-process store."""
    return RedisStore(url, prefix) if url else MemoryStore()
