"""Center processes in different containers share one metrics directory (compose's
center-metrics volume, a pod's in-memory volume): their files must never collide, though each
container numbers its processes from 1."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, values
from prometheus_client.multiprocess import MultiProcessCollector

from launch import serve


def test_two_replicas_with_the_same_pid_write_apart_and_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # restored afterwards
    for host in ("center-kiosk-api-1", "center-kiosk-api-2"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        serve._share_metric_files("center-kiosk-api")
        Counter("vaxcert_test_issued", "test", registry=None).inc()
    pid = os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"counter_center-kiosk-api-1-center-kiosk-api-{pid}.db",
        f"counter_center-kiosk-api-2-center-kiosk-api-{pid}.db",
    ]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(tmp_path))  # type: ignore[no-untyped-call]
    assert registry.get_sample_value("vaxcert_test_issued_total") == 2.0
