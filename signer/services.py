"""The signer's domain service: issuing both formats with the active keys, publishing public keys
and revocation lists, and the key operations (init, rotate, revoke, compromise).

No Flask here: the API blueprints and the CLI both call :class:`SignerService`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer import certificates
from signer import shc_issue as shc_format
from signer import vdsnc_issue as vdsnc_format
from signer.interfaces import KeySigner
from signer.keys import FileKeySigner, Pkcs11KeySigner, Pkcs11Token
from signer.state import BscKey, KeyRef, KeyState, PendingBscKey, ShcKey, StateStore
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose, shc, uvci_list
from vaxcert.vaccines import VaccineTable

log = logging.getLogger(__name__)
_CERTIFICATE_ID = re.compile(r"[0-9A-Z]{1,12}")
ROTATE_AFTER_DAYS = 365
UVCI_LIST_RESIGN_SECONDS = 3600
# C08: the audit trail holds time (the record's), kid, certificate id and a digest; no content.
audit = logging.getLogger("signer.audit")


@dataclass(frozen=True)
class _Active:
    """The keys issuance uses, loaded for one version of the state file."""

    stamp: tuple[int, int, int, int] | None
    shc: KeySigner
    barcode: vdsnc_format.BarcodeSigner | None  # None until a BSC is imported (production)
    rid_secret: str


@dataclass(frozen=True)
class Issued:
    """What one issuance produced: always an SHC, and a VDS-NC for 海外用."""

    shc: shc_format.IssuedShc
    vdsnc: vdsnc_format.IssuedVdsnc | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SignerService:
    """Issues certificates with the active keys and runs the key life cycle over the state dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = StateStore(settings.signer_state_dir())
        self.vaccines = VaccineTable(settings.signer.vaccines)
        profile = settings.signer.shc
        self.shc_profile = shc_format.ShcProfile(
            iss=settings.issuer_url,
            passport_identifier_system=profile.passport_identifier_system,
            validity_days=profile.validity_days,
            revocation=profile.revocation,
        )
        vdsnc = settings.signer.vdsnc
        self.vdsnc_profile = vdsnc_format.VdsncProfile(
            issuing_country=vdsnc.issuing_country,
            emit_sex=vdsnc.emit_sex,
        )
        origin = urlsplit(settings.issuer_url)
        self.bsc_profile = certificates.DocumentSignerProfile(
            subject=x509.Name.from_rfc4514_string(vdsnc.signer_subject),
            crl_distribution_points=tuple(
                vdsnc.crl_distribution_points
                if vdsnc.crl_distribution_points is not None
                # Our public surface serves the CSCA's CRL beside the issuer keys (docs/signer.md).
                else [f"{origin.scheme}://{origin.netloc}/vdsnc/crl.der"]
            ),
            key_usage_days=vdsnc.private_key_usage_days,
        )
        self._lock = threading.Lock()
        self._token: Pkcs11Token | None = None
        self._state: tuple[tuple[int, int, int, int] | None, KeyState] | None = None
        self._active: _Active | None = None
        self._uvci_list: tuple[tuple[int, int], int, str] | None = None

    # -- keys -------------------------------------------------------------------------------

    @property
    def token(self) -> Pkcs11Token:
        """The configured PKCS#11 token (opened on first use)."""
        if self._token is None:
            cfg = self.settings.signer.pkcs11
            self._token = Pkcs11Token(cfg.library, cfg.label, cfg.user_pin.get_secret_value())
        return self._token

    def _signer(self, ref: KeyRef, expected_kid: str) -> KeySigner:
        signer: KeySigner
        if ref.custody == "file":
            if ref.path is None:
                raise VaxcertError("signer_state_invalid", "a file key without a path")
            signer = FileKeySigner.from_file(self.store.path(ref.path))
        else:
            if ref.key_id is None:
                raise VaxcertError("signer_state_invalid", "a PKCS#11 key without an id")
            signer = Pkcs11KeySigner(self.token, bytes.fromhex(ref.key_id))
        if signer.kid != expected_kid:
            raise VaxcertError("signer_state_invalid", f"key for {expected_kid} has another kid")
        return signer

    def _new_key(self, purpose: str) -> tuple[KeySigner, KeyRef]:
        stamp = _now().strftime("%Y%m%dT%H%M%S")
        if self.settings.signer.custody == "pkcs11":
            label = f"vaxcert-{purpose}-{stamp}"
            key_id = self.token.generate(label)
            signer: KeySigner = Pkcs11KeySigner(self.token, key_id)
            return signer, KeyRef(custody="pkcs11", key_id=key_id.hex(), label=label)
        self.store.prepare()
        path = self.store.keys_dir / f"{purpose}-{stamp}-{secrets.token_hex(4)}.key.pem"
        signer = FileKeySigner.generate(path)
        return signer, KeyRef(custody="file", path=self.store.relative(path))

    def state(self) -> KeyState:
        """The current key state (re-read whenever the state file was replaced)."""
        stamp = self.store.stamp()
        cached = self._state
        if cached is not None and cached[0] == stamp and stamp is not None:
            return cached[1]
        state = self.store.load()
        self._state = (stamp, state)
        return state

    def active(self) -> _Active:
        """The active SHC key and BSC, reloaded after a rotation by another process."""
        stamp = self.store.stamp()
        current = self._active
        if current is not None and current.stamp == stamp:
            return current
        with self._lock:
            current = self._active
            if current is not None and current.stamp == stamp:
                return current
            state = self.state()
            shc_record = state.shc(state.shc_active)
            barcode = None
            if state.bsc_active is not None:
                bsc_record = state.bsc(state.bsc_active)
                barcode = vdsnc_format.BarcodeSigner.of(
                    self._signer(bsc_record.key, bsc_record.kid),
                    self.store.path(bsc_record.certificate).read_bytes(),
                )
            current = _Active(
                stamp=stamp,
                shc=self._signer(shc_record.key, shc_record.kid),
                barcode=barcode,
                rid_secret=self.store.rid_secret() if self.shc_profile.revocation else "",
            )
            self._active = current
            return current

    # -- issuing ----------------------------------------------------------------------------

    def issue_shc(
        self, content: CertificateContent, now: float | None = None
    ) -> shc_format.IssuedShc:
        """Sign the SMART Health Card of ``content`` with the active key (audited, C08)."""
        active = self.active()
        issued = shc_format.issue(
            content,
            active.shc,
            self.vaccines,
            self.shc_profile,
            time.time() if now is None else now,
            active.rid_secret,
        )
        signed = issued.jws.rpartition(".")[0].encode("ascii")
        audit.info(
            "SHC signed",
            extra={
                "event": "shc_signed",
                "kid": issued.kid,
                "certificate_id": content.certificate_id,
                "signed_sha256": hashlib.sha256(signed).hexdigest(),
            },
        )
        return issued

    def issue_vdsnc(self, content: CertificateContent) -> vdsnc_format.IssuedVdsnc:
        """Sign the VDS-NC of an overseas ``content`` with the active BSC (audited, C08)."""
        barcode = self.active().barcode
        if barcode is None:
            raise VaxcertError(
                "signer_key_unavailable",
                "no barcode signer yet: import the CSCA's certificate for a requested key",
            )
        issued = vdsnc_format.issue(content, barcode, self.vaccines, self.vdsnc_profile)
        audit.info(
            "VDS-NC signed",
            extra={
                "event": "vdsnc_signed",
                "kid": barcode.key.kid,
                "bsc_serial": format(issued.bsc_serial, "x"),
                "certificate_id": content.certificate_id,
                "signed_sha256": hashlib.sha256(issued.signed_bytes).hexdigest(),
            },
        )
        return issued

    def issue(self, content: CertificateContent, now: float | None = None) -> Issued:
        """Both formats a certificate of this kind carries."""
        card = self.issue_shc(content, now)
        return Issued(card, self.issue_vdsnc(content) if content.kind == "overseas" else None)

    # -- publishing -------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The issuer's public keys: active first, then retired; compromised keys never."""
        state = self.state()
        keys = sorted(
            (key for key in state.shc_keys if key.status != "compromised"),
            key=lambda key: (key.status != "active", -key.created),
        )
        published = []
        for key in keys:
            jwk: dict[str, Any] = {
                **key.jwk,
                "kid": key.kid,
                "use": "sig",
                "alg": "ES256",
            }
            if key.chain:
                jwk["x5c"] = self._x5c(key.chain)
            if self.shc_profile.revocation:
                jwk["crlVersion"] = key.crl_ctr
            published.append(jwk)
        return {"keys": published}

    def _x5c(self, chain: str) -> list[str]:
        path = self.store.path(chain)
        try:
            certs = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError):
            log.warning("x5c chain unreadable; published without it", extra={"chain": path.name})
            return []
        return [
            base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            for cert in certs
        ]

    def crl(self, kid: str) -> dict[str, Any] | None:
        """The rid CRL of a published key, or None."""
        if not self.shc_profile.revocation:
            return None
        try:
            key = self.state().shc(kid)
        except KeyError:
            return None
        if key.status == "compromised":
            return None
        return {"kid": key.kid, "method": "rid", "ctr": key.crl_ctr, "rids": list(key.crl_rids)}

    def uvci_revocations(self, now: float | None = None) -> str | None:
        """The signed list of revoked certificate ids for VDS-NC (docs/signer.md §4), a compact
        JWS by the active document signer with its certificate in ``x5c``; None without a BSC.

        Re-signed when the list changed or after :data:`UVCI_LIST_RESIGN_SECONDS`, so its ``iat``
        tells verifiers how current it is while repeated fetches get the same bytes (ETag).
        """
        state = self.state()
        barcode = self.active().barcode
        if barcode is None:
            return None
        moment = int(time.time() if now is None else now)
        key = (state.revoked_ctr, barcode.serial)
        cached = self._uvci_list
        if (
            cached is not None
            and cached[0] == key
            and moment - cached[1] < UVCI_LIST_RESIGN_SECONDS
        ):
            return cached[2]
        jws = uvci_list.signed_list(
            self.settings.issuer_url,
            state.revoked_ctr,
            moment,
            state.revoked_certificate_ids,
            barcode.certificate_der,
            barcode.key.sign,
        )
        self._uvci_list = (key, moment, jws)
        return jws

    def csca_der(self) -> bytes:
        """The CSCA certificate (DER) that verifiers trust for our VDS-NC and every BSC we use
        must chain to: ``<pki_dir>/vdsnc-csca.der``, the dev CSCA or the one the CSCA holder
        hands over."""
        return (self.settings.pki_dir / "vdsnc-csca.der").read_bytes()

    def csca_crl_der(self) -> bytes:
        """The CSCA's CRL (DER): BSC serials revoked after a key compromise."""
        return (self.settings.pki_dir / "vdsnc-crl.der").read_bytes()

    # -- operations -------------------------------------------------------------------------

    def init(self) -> bool:
        """Create the key state on first use; returns False when it already existed.

        ``file`` custody adopts the development PKI's ``shc-issuer`` and ``vdsnc-bsc`` keys;
        ``pkcs11`` custody generates both keys on the token and certifies them with the PKI's
        ``shc-root`` and ``vdsnc-csca``. Without the CSCA's private key (production: another
        ministry holds it) there is no barcode signer until :meth:`request_bsc` and
        :meth:`import_bsc` have made one; SHC issuance works from the start.
        """
        if self.store.exists():
            return False
        self._check_prerequisites()  # before anything is created: a refusal leaves no trace
        with self.store.locked():
            if self.store.exists():
                return False
            self.store.create_rid_secret()
            now = int(time.time())
            bsc_key: BscKey | None
            if self.settings.signer.custody == "file":
                shc_key, bsc_key = self._adopt_dev_keys(now)
            else:
                shc_key = self._make_shc_key(now)
                bsc_key = self._make_bsc_key(now) if self._ca("vdsnc-csca") else None
            self.store.save(
                KeyState(
                    shc_active=shc_key.kid,
                    shc_keys=[shc_key],
                    bsc_active=bsc_key.serial if bsc_key else None,
                    bsc_keys=[bsc_key] if bsc_key else [],
                )
            )
        log.info("signer key state initialised", extra={"custody": self.settings.signer.custody})
        if bsc_key is None:
            log.warning(
                "no CSCA key here: VDS-NC signing starts once `vaxcert signer csr` and "
                "`vaxcert signer import-certificate` have made a barcode signer"
            )
        return True

    def _check_prerequisites(self) -> None:
        directory = self.settings.pki_dir
        if self.settings.signer.custody == "file":
            needed = [pki.key_path(directory, "shc-issuer"), pki.key_path(directory, "vdsnc-bsc")]
        else:
            # The CSCA's certificate at least: every BSC, made here or imported, must chain to it.
            needed = [directory / "vdsnc-csca.der"]
        if not all(path.exists() for path in needed):
            raise VaxcertError(
                "signer_state_invalid", f"no development PKI in {directory} (`vaxcert certs init`)"
            )
        if self.settings.environment == "production" and pki.development_material(directory):
            # Issuer keys of the development PKI would sign certificates nobody may trust.
            raise VaxcertError(
                "signer_state_invalid",
                f"{directory} is the development PKI: refused in production (`vaxcert --dev`)",
            )

    def _adopt_dev_keys(self, now: int) -> tuple[ShcKey, BscKey]:
        directory = self.settings.pki_dir
        shc_path = pki.key_path(directory, "shc-issuer")
        bsc_path = pki.key_path(directory, "vdsnc-bsc")
        shc_signer = FileKeySigner.from_file(shc_path)
        bsc_signer = FileKeySigner.from_file(bsc_path)
        csca = self._ca("vdsnc-csca")
        if csca is not None:
            # The dev key gets a certificate of our document signer profile (Doc 9303 Part 12),
            # so the demo's documents carry what production ones do.
            certificate = certificates.barcode_signer_certificate(
                bsc_signer.public_key, csca[0], csca[1], self.bsc_profile
            )
            bsc_file = self._store_bsc_certificate(certificate)
        else:
            bsc_file = str(directory / "vdsnc-bsc.der")
            certificate = x509.load_der_x509_certificate((directory / "vdsnc-bsc.der").read_bytes())
        serial = certificate.serial_number
        return (
            ShcKey(
                kid=shc_signer.kid,
                jwk=shc_signer.jwk,
                key=KeyRef(custody="file", path=str(shc_path)),
                chain=str(directory / "shc-issuer.chain.pem"),
                created=now,
                status="active",
            ),
            BscKey(
                serial=format(serial, "x"),
                kid=bsc_signer.kid,
                key=KeyRef(custody="file", path=str(bsc_path)),
                certificate=bsc_file,
                created=now,
                status="active",
            ),
        )

    def _ca(self, name: str) -> tuple[x509.Certificate, pki.PrivateKey] | None:
        cert, key = (
            pki.cert_path(self.settings.pki_dir, name),
            pki.key_path(self.settings.pki_dir, name),
        )
        if not (cert.exists() and key.exists()):
            return None
        return pki.load_cert(cert), pki.load_key(key)

    def _make_shc_key(self, now: int) -> ShcKey:
        signer, ref = self._new_key("shc")
        chain: str | None = None
        root = self._ca("shc-root")
        if root is not None:
            leaf = certificates.shc_issuer_certificate(
                signer.public_key, root[0], root[1], self.settings.issuer_url
            )
            pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, root[0]))
            path = self.store.keys_dir / f"shc-{signer.kid[:16]}.chain.pem"
            self.store.write_atomic(path, pem)
            chain = self.store.relative(path)
        else:
            log.warning("no shc-root in the PKI directory: the new key is published without x5c")
        return ShcKey(
            kid=signer.kid, jwk=signer.jwk, key=ref, chain=chain, created=now, status="active"
        )

    def _make_bsc_key(self, now: int) -> BscKey:
        csca = self._ca("vdsnc-csca")
        if csca is None:
            raise VaxcertError(
                "signer_state_invalid",
                "no CSCA key here: request a certificate with `vaxcert signer csr` and activate "
                "it with `vaxcert signer import-certificate`",
            )
        signer, ref = self._new_key("bsc")
        certificate = certificates.barcode_signer_certificate(
            signer.public_key, csca[0], csca[1], self.bsc_profile
        )
        return BscKey(
            serial=format(certificate.serial_number, "x"),
            kid=signer.kid,
            key=ref,
            certificate=self._store_bsc_certificate(certificate),
            created=now,
            status="active",
        )

    def _store_bsc_certificate(self, certificate: x509.Certificate) -> str:
        path = self.store.keys_dir / f"bsc-{certificate.serial_number:x}.der"
        self.store.write_atomic(path, certificate.public_bytes(serialization.Encoding.DER))
        return self.store.relative(path)

    def request_bsc(self) -> tuple[str, bytes]:
        """A new barcode signer key (in the configured custody) and its CSR for the CSCA.

        The key waits in the state as pending: it signs nothing until :meth:`import_bsc` has
        checked the certificate the CSCA returns. Returns the key's kid and the PEM request.
        """
        with self.store.locked():
            state = self.store.load()
            signer, ref = self._new_key("bsc")
            request = certificates.document_signer_csr(signer, self.bsc_profile)
            path = self.store.keys_dir / f"bsc-{signer.kid[:16]}.csr.pem"
            self.store.write_atomic(path, request)
            state.bsc_pending.append(
                PendingBscKey(
                    kid=signer.kid,
                    key=ref,
                    created=int(time.time()),
                    csr=self.store.relative(path),
                )
            )
            self.store.save(state)
        log.info("barcode signer key made; CSR written", extra={"kid": signer.kid})
        return signer.kid, request

    def import_bsc(self, data: bytes, now: dt.datetime | None = None) -> str:
        """Activate the certificate the CSCA returned for a pending key; returns its hex serial.

        Refused, with the state unchanged, unless it certifies a pending key of ours
        (``signer_certificate_mismatch``) and chains to the configured CSCA with the BSC profile
        verifiers check (``signer_certificate_untrusted``). The previous BSC is retired: its
        documents stay valid (a VDS-NC names its own BSC).
        """
        certificate = certificates.load_certificate(data)
        try:
            public_key = certificate.public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise VaxcertError("signer_certificate_untrusted", "its key cannot be read") from None
        if not (
            isinstance(public_key, ec.EllipticCurvePublicKey)
            and isinstance(public_key.curve, ec.SECP256R1)
        ):
            raise VaxcertError("signer_certificate_untrusted", "not an EC P-256 key (ES256)")
        kid = jose.ec_thumbprint(jose.public_jwk(public_key))
        try:
            csca = x509.load_der_x509_certificate(self.csca_der())
        except (OSError, ValueError):
            raise VaxcertError(
                "signer_state_invalid", "the CSCA certificate (vdsnc-csca.der) is missing"
            ) from None
        crl_file = self.settings.pki_dir / "vdsnc-crl.der"
        revoked = (
            certificates.csca_serials_revoked(crl_file.read_bytes(), csca)
            if crl_file.is_file()
            else frozenset()
        )
        with self.store.locked():
            state = self.store.load()
            pending = next((key for key in state.bsc_pending if key.kid == kid), None)
            if pending is None:
                raise VaxcertError(
                    "signer_certificate_mismatch",
                    "no pending signer key has this certificate's public key",
                )
            certificates.check_document_signer(certificate, csca, revoked, now)
            serial = format(certificate.serial_number, "x")
            if any(key.serial == serial for key in state.bsc_keys):
                raise VaxcertError("signer_certificate_mismatch", "this BSC is already known")
            # The key must really be there (token object or key file), not only in the state.
            self._signer(pending.key, pending.kid)
            for key in state.bsc_keys:
                if key.status == "active":
                    key.status = "retired"
            state.bsc_keys.append(
                BscKey(
                    serial=serial,
                    kid=kid,
                    key=pending.key,
                    certificate=self._store_bsc_certificate(certificate),
                    created=int(time.time()),
                    status="active",
                )
            )
            state.bsc_active = serial
            state.bsc_pending = [key for key in state.bsc_pending if key.kid != kid]
            self.store.save(state)
        log.info("BSC imported and active", extra={"bsc_serial": serial, "kid": kid})
        return serial

    def rotate_shc(self) -> str:
        """Make a new SHC key active; the old public key stays published (retired)."""
        with self.store.locked():
            state = self.store.load()
            new = self._make_shc_key(int(time.time()))
            self._retire_shc(state)
            state.shc_keys.append(new)
            state.shc_active = new.kid
            self.store.save(state)
        log.info("SHC key rotated", extra={"kid": new.kid})
        return new.kid

    def _retire_shc(self, state: KeyState) -> None:
        for key in state.shc_keys:
            if key.status == "active":
                key.status = "retired"

    def rotate_bsc(self) -> str:
        """Make a new barcode signer (key + BSC from the CSCA) active; returns its hex serial."""
        with self.store.locked():
            state = self.store.load()
            new = self._make_bsc_key(int(time.time()))
            for key in state.bsc_keys:
                if key.status == "active":
                    key.status = "retired"
            state.bsc_keys.append(new)
            state.bsc_active = new.serial
            self.store.save(state)
        log.info("BSC rotated", extra={"bsc_serial": new.serial})
        return new.serial

    def revoke(
        self, certificate_id: str, kid: str | None = None, now: float | None = None
    ) -> list[tuple[str, str]]:
        """Revoke the cards of ``certificate_id`` issued until now, under every published key
        (or only ``kid``): adds ``RID.TS`` to each CRL and bumps its ``ctr`` (= ``crlVersion``)."""
        if not self.shc_profile.revocation:
            raise VaxcertError("config_invalid", "signer.shc.revocation is off")
        if not _CERTIFICATE_ID.fullmatch(certificate_id):
            raise VaxcertError("invalid_field", "a certificate ID is 1-12 of [0-9A-Z]")
        cutoff = int(time.time() if now is None else now) + 1  # cards with nbf < cutoff
        revoked: list[tuple[str, str]] = []
        with self.store.locked():
            state = self.store.load()
            secret = self.store.rid_secret()
            targets = [k for k in state.shc_keys if k.status != "compromised"]
            if kid is not None:
                targets = [k for k in targets if k.kid == kid]
                if not targets:
                    raise VaxcertError("not_found", "no published SHC key with that kid")
            for key in targets:
                rid = shc.rid(secret, key.kid, certificate_id)
                if rid in key.crl_rids:  # already revoked without a time limit
                    continue
                kept = [entry for entry in key.crl_rids if entry.partition(".")[0] != rid]
                key.crl_rids = [*kept, f"{rid}.{cutoff}"]
                key.crl_ctr += 1
                revoked.append((key.kid, rid))
            if certificate_id not in state.revoked_certificate_ids:
                # VDS-NC: the same certificate id is its uvci (published as a digest).
                state.revoked_certificate_ids.append(certificate_id)
                state.revoked_ctr += 1
            self.store.save(state)
        log.info(
            "certificate revoked", extra={"certificate_id": certificate_id, "keys": len(revoked)}
        )
        return revoked

    def compromise_shc(self, kid: str) -> str | None:
        """Withdraw a compromised SHC key from the JWKS at once; an active one is replaced."""
        with self.store.locked():
            state = self.store.load()
            try:
                key = state.shc(kid)
            except KeyError:
                raise VaxcertError("not_found", "no SHC key with that kid") from None
            replacement = None
            if key.status == "active":
                new = self._make_shc_key(int(time.time()))
                state.shc_keys.append(new)
                state.shc_active = replacement = new.kid
            key.status = "compromised"
            self.store.save(state)
        log.warning("SHC key withdrawn as compromised", extra={"kid": kid})
        return replacement

    def holds_csca_key(self) -> bool:
        """Whether the CSCA's private key is at hand (development) or held elsewhere."""
        return self._ca("vdsnc-csca") is not None

    def compromise_bsc(self, serial: str | None = None) -> str | None:
        """Stop using a compromised BSC at once; returns the replacement's serial, if any.

        With the CSCA key at hand (development) the serial goes into the CSCA's CRL and a new
        BSC replaces an active one. Without it (production) the BSC is withdrawn and VDS-NC
        signing stops until a new certificate is imported; the CSCA holder must revoke it.
        """
        with self.store.locked():
            state = self.store.load()
            target_serial = serial or state.bsc_active
            if target_serial is None:
                raise VaxcertError("not_found", "no active BSC")
            try:
                key = state.bsc(target_serial.lower())
            except KeyError:
                raise VaxcertError("not_found", "no BSC with that serial") from None
            replacement = None
            if self.holds_csca_key():
                self._revoke_in_csca_crl(int(key.serial, 16))
                if key.status == "active":
                    new = self._make_bsc_key(int(time.time()))
                    state.bsc_keys.append(new)
                    state.bsc_active = replacement = new.serial
            elif key.status == "active":
                state.bsc_active = None
            key.status = "compromised"
            self.store.save(state)
        log.warning("BSC withdrawn as compromised", extra={"bsc_serial": key.serial})
        return replacement

    def _revoke_in_csca_crl(self, serial: int) -> None:
        directory = self.settings.pki_dir
        crl = x509.load_der_x509_crl((directory / "vdsnc-crl.der").read_bytes())
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        serials = [entry.serial_number for entry in crl]
        if serial not in serials:
            serials.append(serial)
        pki.write_vdsnc_crl(directory, serials, number + 1)

    def status(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """A summary of the key state for operators (no secrets, no key material)."""
        moment = now or _now()
        state = self.store.load()
        active_age = moment.timestamp() - state.shc(state.shc_active).created
        return {
            "state_dir": str(self.store.directory),
            "custody_for_new_keys": self.settings.signer.custody,
            "shc_active": state.shc_active,
            # formats.md §1: rotate the SHC key at least yearly.
            "shc_rotation_due": active_age > ROTATE_AFTER_DAYS * 86400,
            "shc_keys": [
                {
                    "kid": k.kid,
                    "status": k.status,
                    "custody": k.key.custody,
                    "created": dt.datetime.fromtimestamp(k.created, dt.UTC).isoformat(),
                    "crl_ctr": k.crl_ctr,
                    "revoked_rids": len(k.crl_rids),
                }
                for k in state.shc_keys
            ],
            "bsc_active": state.bsc_active,
            # Doc 9303 Part 12: past its private key usage period the BSC key must not sign.
            "bsc_rotation_due": self._bsc_usage_ended(state, moment),
            "bsc_keys": [
                {"serial": k.serial, "status": k.status, "custody": k.key.custody}
                for k in state.bsc_keys
            ],
            "bsc_pending": [
                {
                    "kid": k.kid,
                    "custody": k.key.custody,
                    "created": dt.datetime.fromtimestamp(k.created, dt.UTC).isoformat(),
                    "csr": str(self.store.path(k.csr)),
                }
                for k in state.bsc_pending
            ],
        }

    def _bsc_usage_ended(self, state: KeyState, now: dt.datetime) -> bool:
        if state.bsc_active is None:
            return False
        path = self.store.path(state.bsc(state.bsc_active).certificate)
        try:
            certificate = x509.load_der_x509_certificate(path.read_bytes())
            period = certificate.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod)
        except (OSError, ValueError, x509.ExtensionNotFound):
            return False
        ends = period.value.not_after
        return ends is not None and ends.replace(tzinfo=dt.UTC) < now
