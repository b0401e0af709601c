"""vaxcert verifier: checks SMART Health Cards and ICAO VDS-NC certificates offline, with reasons.

Public names: :func:`verify`, :func:`verify_all`, :class:`Result` (with its ``verdict``),
:class:`Revocation`, :class:`Dose`, :class:`Finding`, :class:`TrustStore`, :func:`load_trust_store`,
:class:`TrustStoreError`. Everything prefixed with an underscore may change.
"""

from vaxcert.policy import Finding
from verifier.models import Dose, Result, Revocation
from verifier.services import verify, verify_all
from verifier.trust import TrustStore, TrustStoreError, load_trust_store

__all__ = [
    "Dose",
    "Finding",
    "Result",
    "Revocation",
    "TrustStore",
    "TrustStoreError",
    "load_trust_store",
    "verify",
    "verify_all",
]
