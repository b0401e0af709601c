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
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signer import certificates
from signer import shc_issue as shc_format
from signer import vdsnc_issue as vdsnc_format
from signer.interfaces import KeySigner
from signer.keys import FileKeySigner, Pkcs11KeySigner, Pkcs11Token
from signer.state import BscKey, KeyRef, KeyState, ShcKey, StateStore
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.formats import shc
from vaxcert.vaccines import VaccineTable

log = logging.getLogger(__name__)
_CERTIFICATE_ID = re.compile(r"[0-9A-Z]{1,12}")
ROTATE_AFTER_DAYS = 365
# C08: the audit trail holds time (the record's), kid, certificate id and a digest; no content.
audit = logging.getLogger("signer.audit")


@dataclass(frozen=True)
class _Active:
    """The keys issuance uses, loaded for one version of the state file."""

    stamp: tuple[int, int, int, int] | None
    shc: KeySigner
    barcode: vdsnc_format.BarcodeSigner
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
            group_doses_by_product=vdsnc.group_doses_by_product,
            emit_sex=vdsnc.emit_sex,
        )
        self._lock = threading.Lock()
        self._token: Pkcs11Token | None = None
        self._state: tuple[tuple[int, int, int, int] | None, KeyState] | None = None
        self._active: _Active | None = None

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
        active = self.active()
        issued = vdsnc_format.issue(content, active.barcode, self.vaccines, self.vdsnc_profile)
        audit.info(
            "VDS-NC signed",
            extra={
                "event": "vdsnc_signed",
                "kid": active.barcode.key.kid,
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

    def csca_der(self) -> bytes:
        """The CSCA certificate (DER) that verifiers trust for our VDS-NC."""
        return (self.settings.pki_dir / "vdsnc-csca.der").read_bytes()

    def csca_crl_der(self) -> bytes:
        """The CSCA's CRL (DER): BSC serials revoked after a key compromise."""
        return (self.settings.pki_dir / "vdsnc-crl.der").read_bytes()

    # -- operations -------------------------------------------------------------------------

    def init(self) -> bool:
        """Create the key state on first use; returns False when it already existed.

        ``file`` custody adopts the development PKI's ``shc-issuer`` and ``vdsnc-bsc`` keys;
        ``pkcs11`` custody generates both keys on the token and certifies them with the PKI's
        ``shc-root`` and ``vdsnc-csca``.
        """
        if self.store.exists():
            return False
        self._check_prerequisites()  # before anything is created: a refusal leaves no trace
        with self.store.locked():
            if self.store.exists():
                return False
            self.store.create_rid_secret()
            now = int(time.time())
            if self.settings.signer.custody == "file":
                shc_key, bsc_key = self._adopt_dev_keys(now)
            else:
                shc_key = self._make_shc_key(now)
                bsc_key = self._make_bsc_key(now)
            self.store.save(
                KeyState(
                    shc_active=shc_key.kid,
                    shc_keys=[shc_key],
                    bsc_active=bsc_key.serial,
                    bsc_keys=[bsc_key],
                )
            )
        log.info("signer key state initialised", extra={"custody": self.settings.signer.custody})
        return True

    def _check_prerequisites(self) -> None:
        directory = self.settings.pki_dir
        if self.settings.signer.custody == "file":
            needed = [pki.key_path(directory, "shc-issuer"), pki.key_path(directory, "vdsnc-bsc")]
        else:
            needed = [pki.key_path(directory, "vdsnc-csca"), pki.cert_path(directory, "vdsnc-csca")]
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
        bsc_der = directory / "vdsnc-bsc.der"
        serial = x509.load_der_x509_certificate(bsc_der.read_bytes()).serial_number
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
                certificate=str(bsc_der),
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
            raise VaxcertError("signer_state_invalid", "a new BSC needs the CSCA (vdsnc-csca)")
        signer, ref = self._new_key("bsc")
        certificate = certificates.barcode_signer_certificate(signer.public_key, csca[0], csca[1])
        serial = format(certificate.serial_number, "x")
        path = self.store.keys_dir / f"bsc-{serial}.der"
        self.store.write_atomic(path, certificate.public_bytes(serialization.Encoding.DER))
        return BscKey(
            serial=serial,
            kid=signer.kid,
            key=ref,
            certificate=self.store.relative(path),
            created=now,
            status="active",
        )

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

    def compromise_bsc(self, serial: str | None = None) -> str | None:
        """Revoke a compromised BSC in the CSCA's CRL; a new BSC replaces an active one."""
        with self.store.locked():
            state = self.store.load()
            target_serial = (serial or state.bsc_active).lower()
            try:
                key = state.bsc(target_serial)
            except KeyError:
                raise VaxcertError("not_found", "no BSC with that serial") from None
            self._revoke_in_csca_crl(int(target_serial, 16))
            replacement = None
            if key.status == "active":
                new = self._make_bsc_key(int(time.time()))
                state.bsc_keys.append(new)
                state.bsc_active = replacement = new.serial
            key.status = "compromised"
            self.store.save(state)
        log.warning("BSC revoked as compromised", extra={"bsc_serial": target_serial})
        return replacement

    def _revoke_in_csca_crl(self, serial: int) -> None:
        directory = self.settings.pki_dir
        if self._ca("vdsnc-csca") is None:
            raise VaxcertError("signer_state_invalid", "revoking a BSC needs the CSCA key")
        crl = x509.load_der_x509_crl((directory / "vdsnc-crl.der").read_bytes())
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        serials = [entry.serial_number for entry in crl]
        if serial not in serials:
            serials.append(serial)
        pki.write_vdsnc_crl(directory, serials, number + 1)

    def status(self) -> dict[str, Any]:
        """A summary of the key state for operators (no secrets, no key material)."""
        state = self.store.load()
        active_age = time.time() - state.shc(state.shc_active).created
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
            "bsc_keys": [
                {"serial": k.serial, "status": k.status, "custody": k.key.custody}
                for k in state.bsc_keys
            ],
        }


def read_content(path: Path) -> CertificateContent:
    """Load a content JSON file (strict, unknown fields refused)."""
    return CertificateContent.model_validate_json(path.read_bytes())
