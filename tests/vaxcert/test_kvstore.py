"""The shared ephemeral store: same behaviour in-process and on a real Redis (tests/conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from vaxcert.kvstore import KeyValueStore, MemoryStore, RedisStore, Tallied, Tally, from_url


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[KeyValueStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    # Redis starts only when a test runs on it (redis_url is a lazy session fixture).
    redis_url = request.getfixturevalue("redis_url")
    prefix = f"vaxcert-test-{uuid.uuid4().hex}:"
    yield RedisStore(redis_url, prefix)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_add_refuses_a_replay(store: KeyValueStore) -> None:
    assert store.add("nonce:abc", 60)
    assert not store.add("nonce:abc", 60)
    assert store.add("nonce:def", 60)


def test_counters_increment_and_expire(store: KeyValueStore) -> None:
    assert store.get_int("count") == 0
    assert store.incr("count") == 1
    assert store.incr("count", amount=4) == 5
    assert store.incr("rate", ttl_seconds=1) == 1
    assert store.incr("rate", ttl_seconds=1) == 2
    time.sleep(1.2)
    assert store.get_int("rate") == 0
    store.delete("count")
    assert store.get_int("count") == 0


def test_nonce_expires(store: KeyValueStore) -> None:
    assert store.add("nonce:short", 1)
    time.sleep(1.2)
    assert store.add("nonce:short", 1)


def test_ping_and_selection(redis_url: str) -> None:
    assert isinstance(from_url(None), MemoryStore)
    assert from_url(redis_url).ping()
    assert not RedisStore("redis://127.0.0.1:1/0").ping()


def test_tally_counts_a_marked_pair_once_and_expires(store: KeyValueStore) -> None:
    first = store.tally(
        [Tally("pairs", marker="seen:a"), Tally("uses"), Tally("reads", amount=0)], 1
    )
    assert first == [Tallied(1, True), Tallied(1, True), Tallied(0, True)]
    again = store.tally([Tally("pairs", marker="seen:a"), Tally("uses")], 1)
    assert again == [Tallied(1, False), Tallied(2, True)]
    other = store.tally([Tally("pairs", marker="seen:b")], 1)
    assert other == [Tallied(2, True)]
    time.sleep(1.2)
    assert store.get_int("pairs") == 0 and store.get_int("uses") == 0
    assert store.tally([Tally("pairs", marker="seen:a")], 1) == [Tallied(1, True)]


def test_values_are_kept_and_taken_once(store: KeyValueStore) -> None:
    assert store.get("challenge") is None and store.take("challenge") is None
    store.put("challenge", b"apply:abc", ttl_seconds=60)
    assert store.get("challenge") == b"apply:abc"
    assert store.take("challenge") == b"apply:abc"
    assert store.take("challenge") is None  # single use: the second taker gets nothing
    store.put("key", b"\x00\xffDER")
    store.delete("key")
    assert store.get("key") is None


def test_a_value_expires_with_its_ttl(store: KeyValueStore) -> None:
    store.put("short", b"x", ttl_seconds=1)
    time.sleep(1.2)
    assert store.get("short") is None and store.take("short") is None
