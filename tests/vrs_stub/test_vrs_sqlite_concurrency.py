"""SQLite under the relay's load: writers of all threads and processes queue instead of colliding,
and the write-ahead log stays bounded while readers never pause."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from vaxcert.config import Settings
from vaxcert.lgcode import KAGOSHIMA_CITY as KAGOSHIMA
from vrs_stub import schema
from vrs_stub.store import Store

WRITER_THREADS = 4
WRITES_PER_THREAD = 60


def _impatient(store: Store) -> Store:
    """Make SQLite fail at once on a lock collision instead of sleeping in its busy handler."""

    @event.listens_for(store.engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    store.engine.dispose()
    return store


def _write_many(store: Store, tag: str) -> list[str]:
    errors: list[str] = []

    def writer(n: int) -> None:
        for i in range(WRITES_PER_THREAD):
            try:
                if i % 2:
                    store.log_operation_alone("cli", tag, KAGOSHIMA, "test", "ok", f"{n}/{i}")
                else:  # an autocommit write, as the relay's provision record
                    with store.autocommit() as conn, store.write_turn():
                        store.log_operation(conn, "cli", tag, KAGOSHIMA, "test", "ok", f"{n}/{i}")
            except Exception as exc:  # collected: the assertion names them
                errors.append(type(exc).__name__ + ": " + str(exc).splitlines()[0])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _other_process(settings: Settings, queue: Any) -> None:
    store = _impatient(Store.from_settings(settings))
    try:
        queue.put(_write_many(store, "child"))
    finally:
        store.dispose()


def _operations(store: Store) -> int:
    with store.transaction(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(schema.operation)).scalar_one())


def test_writers_of_two_processes_never_collide(settings: Settings) -> None:
    store = Store.from_settings(settings)
    store.migrate()
    _impatient(store)
    before = _operations(store)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_other_process, args=(settings, queue))
    child.start()
    try:
        mine = _write_many(store, "parent")
        theirs = queue.get(timeout=120)
    finally:
        child.join(timeout=60)
    assert mine == [] and theirs == []
    assert _operations(store) - before == 2 * WRITER_THREADS * WRITES_PER_THREAD
    store.dispose()


def test_write_turn_is_reentrant(settings: Settings) -> None:
    """A refusal logs in its own transaction while the refused one is still open (C15)."""
    store = Store.from_settings(settings)
    store.migrate()
    finished = threading.Event()

    def nested() -> None:
        with store.transaction() as conn:
            conn.rollback()
            store.log_operation_alone("cli", "t", KAGOSHIMA, "test", "refused")
        finished.set()

    threading.Thread(target=nested, daemon=True).start()
    assert finished.wait(10)
    store.dispose()


def _wal_frames(store: Store) -> int:
    with store.engine.connect() as conn:
        conn.execution_options(vrs_begin="NONE")
        row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return int(row[1])


def test_wal_is_rewound_while_readers_never_pause(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Store, "CHECKPOINT_SECONDS", 0.05)
    store = Store.from_settings(settings)
    store.migrate()
    stop = threading.Event()

    def reader() -> None:
        # Overlapping read transactions: at every moment some reader holds a WAL snapshot.
        while not stop.is_set():
            with store.transaction(write=False) as conn:
                conn.execute(select(func.count()).select_from(schema.operation)).scalar_one()
                time.sleep(0.003)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    commits = 0
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            store.log_operation_alone("cli", "wal", KAGOSHIMA, "test", "ok", "x" * 150)
            commits += 1
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    frames = _wal_frames(store)
    store.dispose()
    # Every commit appends at least one frame (two here: table and index); without rewinding,
    # the WAL holds them all. With it, only those since the last rewind.
    assert commits > 200
    assert frames < commits, (frames, commits)


def test_wal_file_is_gone_after_dispose(settings: Settings) -> None:
    store = Store.from_settings(settings)
    store.migrate()
    store.log_operation_alone("cli", "wal", KAGOSHIMA, "test", "ok")
    database = Path(store.engine.url.database or "")
    store.dispose()
    wal = database.with_name(database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
