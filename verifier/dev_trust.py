"""The development trust store: trusts our own dev issuer, built from the dev PKI directory.

Nothing is committed: the SHC JWKS is derived from ``shc-issuer`` (public key, kid = thumbprint,
x5c chain) and the CSCA + CRL are ``vdsnc-csca`` and ``vdsnc-crl.der`` of ``vaxcert certs init``.
A key derived from the PKI says nothing about revocation, so the store counts as never fetched:
the page and `vaxcert verify` use it *live* (:mod:`verifier.live`), fetching the signer's
published JWKS, rid CRLs and CSCA CRL while verifying, and say "revocation not checked" while the
signer's public surface cannot be reached.

Trusting the development PKI is unsafe, so it is loud: :func:`check_development_trust` refuses any
store that holds a development anchor in production and, elsewhere, the verifier logs
:func:`warn_development_trust` at every verification against one.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.formats import jose
from verifier import _x509
from verifier.clients import TrustFetcher
from verifier.trust import INDEX, STATE, TrustStore, TrustStoreError

DEV_ISSUER_NAME = "vaxcert 開発用発行者 / vaxcert development issuer"
DEV_CSCA_NAME = "日本 (開発用 CSCA) / Japan (development CSCA)"
DEV_COUNTRY = "JPN"

log = logging.getLogger(__name__)


def _is_development(cert: _x509.Certificate) -> bool:
    try:
        return pki.is_development_certificate(x509.load_der_x509_certificate(cert.der))
    except ValueError:
        return False


def development_anchors(store: TrustStore) -> list[str]:
    """The names of the issuers and CSCAs of ``store`` that belong to the development PKI: by the
    organisation of their certificates, or by the names this module gives them."""
    found: dict[str, None] = {}
    for issuer in store.shc.values():
        chains = [cert for key in issuer.keys.values() for cert in key.x5c]
        if issuer.name == DEV_ISSUER_NAME or any(
            _is_development(cert) for cert in (*issuer.x5c_roots, *chains)
        ):
            found[issuer.name] = None
    for csca in store.cscas:
        if csca.name == DEV_CSCA_NAME or _is_development(csca.cert):
            found[csca.name] = None
    return list(found)


def warn_development_trust(anchors: list[str]) -> None:
    """Say, every time, that a verification trusts the development PKI."""
    log.warning(
        "UNSAFE development trust: verifying against %s (development PKI); never in production",
        ", ".join(anchors),
    )


def check_development_trust(store: TrustStore, settings: Settings) -> list[str]:
    """The development anchors ``store`` holds; in production, any of them is refused.

    Raises :class:`TrustStoreError` in production; elsewhere warns once and returns them, so the
    caller can warn again at each verification.
    """
    anchors = development_anchors(store)
    if anchors and settings.environment == "production":
        raise TrustStoreError(
            f"development trust anchors are refused in production: {', '.join(anchors)}"
        )
    if anchors:
        warn_development_trust(anchors)
    return anchors


def dev_jwks(pki_dir: Path) -> dict[str, Any]:
    """The public JWKS of the dev SHC issuer key: ``kty, crv, x, y, kid, use, alg, x5c``."""
    cert_file = pki.cert_path(pki_dir, "shc-issuer")
    if not cert_file.is_file():
        raise TrustStoreError(f"{cert_file} missing: run `vaxcert certs init` first")
    public_key = pki.load_cert(cert_file).public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise TrustStoreError("the dev SHC issuer key is not an EC key")
    jwk: dict[str, Any] = dict(jose.public_jwk(public_key))
    jwk.update(kid=jose.ec_thumbprint(jwk), use="sig", alg="ES256")
    chain = pki_dir / "shc-issuer.chain.pem"
    if chain.is_file():
        jwk["x5c"] = [
            base64.b64encode(der).decode("ascii") for der in _x509.pem_blocks(chain.read_bytes())
        ]
    return {"keys": [jwk]}


def _root_der(pki_dir: Path) -> list[bytes]:
    root = pki.cert_path(pki_dir, "shc-root")
    return [_x509.der_from(root.read_bytes())] if root.is_file() else []


def csca_crl_url(issuer_url: str) -> str:
    """Where the demo's signer publishes the CSCA CRL: its public surface's ``/vdsnc/crl.der``,
    the default CRL distribution point of the barcode signers it makes (docs/signer.md §4)."""
    parts = urlsplit(issuer_url)
    return f"{parts.scheme}://{parts.netloc}/vdsnc/crl.der"


def uvci_list_url(issuer_url: str) -> str:
    """Where our signer publishes its list of revoked certificate ids (VDS-NC uvci), beside its
    SHC CRLs (docs/signer.md §4)."""
    return f"{issuer_url}/.well-known/crl/vdsnc-uvci.jws"


def dev_trust_store(pki_dir: Path, issuer_url: str, *, live: bool = False) -> TrustStore:
    """An in-memory trust store for the demo, built from ``pki_dir``.

    Nothing in it counts as fetched: the SHC key carries no revocation data and the CSCA CRL is
    as recent as its thisUpdate. With ``live`` the store fetches the signer's published keys and
    revocation lists while verifying (pinned to the dev public CA, a short timeout).
    """
    store = TrustStore()
    store.add_shc_issuer(
        issuer_url, DEV_ISSUER_NAME, dev_jwks(pki_dir), x5c_roots=_root_der(pki_dir)
    )
    csca = pki.cert_path(pki_dir, "vdsnc-csca")
    if not csca.is_file():
        raise TrustStoreError(f"{csca} missing: run `vaxcert certs init` first")
    store.add_csca(
        csca.read_bytes(),
        DEV_CSCA_NAME,
        DEV_COUNTRY,
        crl_url=csca_crl_url(issuer_url),
        uvci_list_url=uvci_list_url(issuer_url),
    )
    crl = pki_dir / "vdsnc-crl.der"
    if crl.is_file():
        store.add_crl(crl.read_bytes(), crl.name)
    store.tls_ca = pki_dir / "public-bundle.pem"
    if live:
        from verifier.live import DEFAULT_TIMEOUT, LiveRevocation

        store.live = LiveRevocation(TrustFetcher(store.tls_ca, DEFAULT_TIMEOUT))
    return store


def write_dev_trust_store(pki_dir: Path, issuer_url: str, out: Path) -> Path:
    """Write the dev trust store as a directory (``trust.toml`` + files); returns trust.toml."""
    dev_trust_store(pki_dir, issuer_url)  # validates the material before anything is written
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "shc" / "dev").mkdir(parents=True)
    (staging / "csca" / "JPN").mkdir(parents=True)
    (staging / "shc" / "dev" / "jwks.json").write_text(json.dumps(dev_jwks(pki_dir), indent=2))
    shutil.copyfile(pki.cert_path(pki_dir, "shc-root"), staging / "shc" / "dev" / "root.pem")
    csca_der = pki.load_cert(pki.cert_path(pki_dir, "vdsnc-csca")).public_bytes(
        serialization.Encoding.DER
    )
    (staging / "csca" / "JPN" / "csca.der").write_bytes(csca_der)
    if (pki_dir / "vdsnc-crl.der").is_file():
        shutil.copyfile(pki_dir / "vdsnc-crl.der", staging / "csca" / "JPN" / "crl.der")
    tls_ca = (pki_dir / "public-bundle.pem").resolve()
    index = "\n".join(
        [
            "# vaxcert verifier trust store (development): generated by `vaxcert trust init-dev`.",
            "stale_after_days = 7",
            f"tls_ca = {json.dumps(str(tls_ca))}",
            "",
            "[[shc]]",
            f"iss = {json.dumps(issuer_url)}",
            f"name = {json.dumps(DEV_ISSUER_NAME, ensure_ascii=False)}",
            'jwks = "shc/dev/jwks.json"',
            'x5c_roots = ["shc/dev/root.pem"]',
            "",
            "[[csca]]",
            f"name = {json.dumps(DEV_CSCA_NAME, ensure_ascii=False)}",
            f'country = "{DEV_COUNTRY}"',
            'certificates = ["csca/JPN/csca.der"]',
            'crls = ["csca/JPN/crl.der"]',
            f"uvci_list_url = {json.dumps(uvci_list_url(issuer_url))}",
            'uvci_list = "csca/JPN/uvci.jws"',
            f"crl_url = {json.dumps(csca_crl_url(issuer_url))}",
            "",
        ]
    )
    (staging / INDEX).write_text(index, encoding="utf-8")
    # Nothing here was fetched from the issuer (the JWKS is derived from the PKI, without
    # crlVersion): until `trust refresh` records a time, results say revocation was not checked.
    (staging / STATE).write_text("{}\n")
    # Swap the finished directory in: a reader never sees a half-written store.
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, out)
    return out / INDEX
