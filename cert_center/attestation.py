"""The genuine app only (C06): instance registration, single-use challenges, signed requests.

Domain code without Flask. Everything kept is in the shared store (Redis in production, so every
worker and replica sees the same state; in-process without Redis), under ``app:`` keys, and none
of it is personal data (C08): instance public keys, challenge digests, revocation markers.

- ``app:instance:<id>``: the instance's public key (SubjectPublicKeyInfo DER, base64), TTL
  ``instance_ttl_days``;
- ``app:revoked:<id>``: set by ``vaxcert app instance revoke``, no TTL: a revoked key can never
  register again;
- ``app:challenge:<hex SHA-256>``: ``register`` or ``apply:<id>``, TTL ``challenge_ttl_seconds``,
  taken atomically (GETDEL, with the ``app:used:`` marker, in one Lua script) by the one request
  that uses it;
- ``app:used:<hex SHA-256>``: marks a used challenge for an hour, so a replay is named as one.

Every refusal is a 401 with its own reason code (docs/app-api.md lists them).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert import attestation, pki
from vaxcert.config import AppApiSettings, Settings
from vaxcert.contracts.app_api import (
    Challenge,
    ChallengeRequest,
    InstanceRegistered,
    InstanceRegistration,
)
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore

log = logging.getLogger(__name__)

_USED_SECONDS = 3600
_REGISTER = "register"
_SKEW = dt.timedelta(seconds=30)  # clocks of the platform and the center may differ a little


def _apply_tag(instance_id: str) -> str:
    return "apply:" + instance_id


def load_roots(settings: Settings) -> list[x509.Certificate]:
    """The attestation roots: the development attestation CA of ``pki_dir`` (a real deployment
    configures the platforms' roots instead; docs/app-api.md)."""
    path: Path = pki.cert_path(settings.pki_dir, "attest-ca")
    root = pki.load_cert(path)
    if pki.is_development_certificate(root):
        log.warning("UNSAFE development trust: app attestations of the dev attestation CA")
    return [root]


class AppAttestation:
    """Registers instances, hands out challenges and checks signed application requests."""

    def __init__(
        self,
        settings: AppApiSettings,
        roots: list[x509.Certificate],
        store: KeyValueStore,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.roots = roots
        self.store = store
        self.clock = clock

    # --- challenges --------------------------------------------------------------------------

    def new_challenge(self, request: ChallengeRequest) -> Challenge:
        """A single-use challenge; to apply, for a registered instance that is not revoked."""
        if request.purpose == "apply":
            assert request.instance_id is not None  # the model requires it
            self.instance_key(request.instance_id)
            tag = _apply_tag(request.instance_id)
        else:
            tag = _REGISTER
        challenge = attestation.new_challenge()
        ttl = self.settings.challenge_ttl_seconds
        self.store.put(self._challenge_key(challenge), tag, ttl)
        return Challenge(challenge=challenge, expires_in_seconds=ttl)

    @staticmethod
    def _challenge_key(challenge: str) -> str:
        return "app:challenge:" + attestation.challenge_digest(challenge).hex()

    def _take_challenge(self, challenge: str, expected: str) -> None:
        """Consume ``challenge`` (once, whatever happens next) or refuse it."""
        digest = attestation.challenge_digest(challenge).hex()
        # One atomic round trip: the challenge is taken and its used marker left together.
        tag, taken_before = self.store.take(
            "app:challenge:" + digest, "app:used:" + digest, _USED_SECONDS
        )
        if tag is None:
            if taken_before:
                raise VaxcertError("app_challenge_reused")
            raise VaxcertError("app_challenge_invalid", "unknown or expired")
        if tag != expected:
            raise VaxcertError("app_challenge_invalid", "issued for another purpose or instance")

    # --- instances ---------------------------------------------------------------------------

    def register(self, registration: InstanceRegistration) -> InstanceRegistered:
        """Check the platform's statement (chain, app id, freshness, challenge) and keep the key."""
        self._take_challenge(registration.challenge, _REGISTER)
        try:
            leaf = self._verified_leaf(registration.attestation)
            self._check_statement(leaf, registration.challenge)
            key = leaf.public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # A certificate that parses but whose extensions, key or signature algorithm do not.
            raise VaxcertError("app_attestation_invalid", "unreadable statement") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise VaxcertError("app_attestation_invalid", "the instance key is not P-256")
        instance = attestation.instance_id(key)
        if self.store.get_int("app:revoked:" + instance):
            raise VaxcertError("app_instance_revoked")
        days = self.settings.instance_ttl_days
        der = base64.b64encode(attestation.public_key_der(key)).decode("ascii")
        self.store.put("app:instance:" + instance, der, days * 86_400)
        log.info("app instance registered", extra={"instance": instance})
        return InstanceRegistered(instance_id=instance, expires_in_days=days)

    def _verified_leaf(self, chain_b64: list[str]) -> x509.Certificate:
        try:
            chain = [
                x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
                for c in chain_b64
            ]
        except (ValueError, binascii.Error):
            raise VaxcertError("app_attestation_invalid", "not base64 DER certificates") from None
        now = self.clock()
        for child, parent in zip(chain, [*chain[1:], None], strict=True):
            issuer = parent or self._root_of(child)
            try:
                child.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                raise VaxcertError("app_attestation_invalid", "chain does not verify") from None
            if not child.not_valid_before_utc - _SKEW <= now <= child.not_valid_after_utc:
                raise VaxcertError("app_attestation_stale", "outside its validity")
        return chain[0]

    def _root_of(self, cert: x509.Certificate) -> x509.Certificate:
        for root in self.roots:
            if root.subject == cert.issuer:
                return root
        raise VaxcertError("app_attestation_invalid", "not issued by a trusted platform root")

    def _check_statement(self, leaf: x509.Certificate, challenge: str) -> None:
        age = self.clock() - leaf.not_valid_before_utc
        if age > dt.timedelta(seconds=self.settings.attestation_max_age_seconds):
            raise VaxcertError("app_attestation_stale", "statement too old")
        app_id = _extension(leaf, attestation.APP_ID_OID)
        if app_id is None:
            raise VaxcertError("app_attestation_invalid", "no app id")
        if app_id != self.settings.app_id.encode():
            raise VaxcertError("app_id_mismatch")
        if _extension(leaf, attestation.CHALLENGE_OID) != attestation.challenge_digest(challenge):
            raise VaxcertError("app_attestation_invalid", "statement is for another challenge")

    def instance_key(self, instance: str) -> ec.EllipticCurvePublicKey:
        """The registered key of ``instance``, or ``app_instance_revoked`` / ``_unknown``."""
        # One round trip for both, read on every call: a revocation holds at once, everywhere.
        revoked, der = self.store.get_texts(["app:revoked:" + instance, "app:instance:" + instance])
        if revoked is not None and int(revoked):
            raise VaxcertError("app_instance_revoked")
        if der is None:
            raise VaxcertError("app_instance_unknown")
        key = serialization.load_der_public_key(base64.b64decode(der))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    def revoke(self, instance: str) -> bool:
        """Revoke ``instance`` for good, on every replica; False if it was not registered."""
        known = self.store.get_texts(["app:instance:" + instance])[0] is not None
        self.store.incr("app:revoked:" + instance)
        self.store.delete("app:instance:" + instance)
        return known

    # --- signed requests ---------------------------------------------------------------------

    def verify_request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> str:
        """The instance id of a genuinely signed request; its challenge is used up (C06)."""
        instance = headers.get(attestation.INSTANCE_HEADER, "")
        challenge = headers.get(attestation.CHALLENGE_HEADER, "")
        signature = headers.get(attestation.SIGNATURE_HEADER, "")
        if not (instance and challenge and signature):
            raise VaxcertError("app_attestation_missing")
        if not (_is_b64url(instance, 43) and _is_b64url(challenge, 43) and _is_b64url(signature)):
            raise VaxcertError("app_signature_invalid", "malformed header")
        key = self.instance_key(instance)
        message = attestation.signing_input(method, path, challenge, body)
        try:
            key.verify(attestation.b64url_decode(signature), message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise VaxcertError("app_signature_invalid") from None
        # Only a genuine signature may use up a challenge: nobody else can burn one.
        self._take_challenge(challenge, _apply_tag(instance))
        return instance


def _is_b64url(text: str, length: int | None = None) -> bool:
    if length is not None and len(text) != length:
        return False
    return 0 < len(text) <= 200 and text.isascii() and all(c.isalnum() or c in "-_" for c in text)


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None
