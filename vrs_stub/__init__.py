"""A stand-in for the national Vaccination Record System (VRS): records per municipality partition
(C12), encrypted personal columns (C13), the relay API for the center and the municipal staff API.

Public names: :func:`create_app`, :class:`Store` (SQLite or PostgreSQL), :class:`RelayService` and
:class:`StaffService`. The wire models the center shares are in :mod:`vaxcert.contracts.vrs_relay`.
The rest is internal.
"""

from vrs_stub.app import create_app
from vrs_stub.services import RelayService, StaffService
from vrs_stub.store import Store

__all__ = ["RelayService", "StaffService", "Store", "create_app"]
