"""Helpers every test area shares: the official test material in ``tests/data``, private
Redis/PostgreSQL servers (:mod:`tests.support.services`) and real-TLS servers for WSGI apps on
a loopback port (:mod:`tests.support.servers`)."""

from __future__ import annotations

from pathlib import Path

# Unmodified copies of public specification examples and government samples (data/README.md).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
