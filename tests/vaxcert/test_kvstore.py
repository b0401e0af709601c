"""The shared ephemeral store: same behaviour in-process and on a real Redis (tests/conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from vaxcert.kvstore import (
    FieldCount,
    KeyValueStore,
    MemoryStore,
    RedisStore,
    Taken,
    Tallied,
    Tally,
    from_url,
)


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


def test_texts_are_kept_and_read_many_at_once(store: KeyValueStore) -> None:
    store.put("fleet:a", "one", 60)
    store.put("fleet:a", "two", 60)
    store.put("fleet:b", "日本", 60)
    assert store.get_texts(["fleet:a", "fleet:missing", "fleet:b"]) == ["two", None, "日本"]
    assert store.get_texts([]) == []


def test_hash_counters_count_in_one_call_and_expire_at_their_time(store: KeyValueStore) -> None:
    later = int(time.time()) + 3600
    store.count_fields(
        [
            FieldCount("h:1", "462012|issued", 1, later),
            FieldCount("h:1", "462012|issued", 2, later),
            FieldCount("d:1", "462012|issued", 3, later),
        ]
    )
    store.count_fields([FieldCount("gone", "x", 1, int(time.time()) - 1)])
    assert store.read_fields(["h:1", "d:1", "h:2", "gone"]) == [
        {"462012|issued": 3},
        {"462012|issued": 3},
        {},
        {},
    ]


def test_hash_counters_under_a_marker_count_once(store: KeyValueStore) -> None:
    # A receipt's repeat check and its fee count are one step: a repeat counts nothing.
    later = int(time.time()) + 3600
    steps = [FieldCount("d:1", "462012|fee_yen", 120, later), FieldCount("h:1", "x", 1, later)]
    assert store.count_fields_once("receipt:K:1", 60, steps) is True
    assert store.count_fields_once("receipt:K:1", 60, steps) is False
    assert store.count_fields_once("receipt:K:2", 60, steps[:1]) is True
    assert store.read_fields(["d:1", "h:1"]) == [{"462012|fee_yen": 240}, {"x": 1}]


def test_lists_keep_the_newest_items_first(store: KeyValueStore) -> None:
    for value in ("a", "b", "c"):
        store.push("recent", value, 60, keep=2)
    assert store.items("recent") == ["c", "b"]
    assert store.items("none") == []


def test_a_sliding_window_forgets_what_left_it(store: KeyValueStore) -> None:
    start = 1_800_000_000.0
    assert store.window("w", 2, start, 60, 6) == 2
    assert store.window("w", 1, start + 30, 60, 6) == 3
    assert store.window("w", 0, start + 30, 60, 6) == 3  # a read adds nothing
    assert store.window("w", 1, start + 61, 60, 6) == 2  # the first slot left the window
    assert store.window("w", 0, start + 200, 60, 6) == 0
    assert store.window("other", 0, start, 60, 6) == 0


def test_a_text_is_taken_once(store: KeyValueStore) -> None:
    assert store.take("challenge", "used", 60) == Taken(None, False)
    store.put("challenge", "apply:abc", 60)
    assert store.take("challenge", "used", 60) == Taken("apply:abc", False)
    # Single use: the second taker gets nothing, and the marker says it was taken.
    assert store.take("challenge", "used", 60) == Taken(None, True)
    assert store.get_texts(["challenge"]) == [None]
    store.put("short", "x", 1)
    time.sleep(1.2)
    assert store.take("short", "short-used", 60) == Taken(None, False)


def test_the_taken_marker_expires(store: KeyValueStore) -> None:
    store.put("challenge", "register", 60)
    assert store.take("challenge", "used", 1).value == "register"
    time.sleep(1.2)
    assert store.take("challenge", "used", 1) == Taken(None, False)


def test_a_counter_reads_as_its_text(store: KeyValueStore) -> None:
    store.incr("revoked")
    assert store.get_texts(["revoked", "absent"]) == ["1", None]


def test_delete_removes_a_text(store: KeyValueStore) -> None:
    store.put("instance", "MFkwEwYH", 60)
    store.delete("instance")
    assert store.get_texts(["instance"]) == [None]
