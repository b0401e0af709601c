"""The reference client of the app API: plays the smartphone app (docs/app-api.md).

Public names: :class:`AppClient` (the protocol: registration, challenges, signed applications),
:class:`InstanceState` (the instance key pair and id), :class:`DevPlatform` (the development
stand-in for the platform's attestation service) and :func:`run` (`vaxcert app-client`).
"""

from app_client.client import AppClient, DevPlatform, InstanceState
from app_client.flow import run

__all__ = ["AppClient", "DevPlatform", "InstanceState", "run"]
