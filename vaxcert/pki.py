"""The development PKI: every CA, server and client certificate and signing key the product uses.

``vaxcert certs init`` calls :func:`init`; it is idempotent (existing, still valid material is kept)
and writes private keys with mode 0600. ``vaxcert certs check`` calls :func:`check`.
certs_dev/README.md explains each file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

KeyType = Literal["ec256", "ec384", "rsa2048"]
Role = Literal["ca", "server", "client", "shc-leaf", "bsc"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# ICAO Doc 9303 part 13: barcode signer EKU for VDS-NC and the document-type-list extension.
VDSNC_BSC_EKU = ObjectIdentifier("2.23.136.1.1.14.2")
ICAO_DOCUMENT_TYPE_LIST = ObjectIdentifier("2.23.136.1.1.6.2")
# SEQUENCE { INTEGER 0, SET { PrintableString "NV" } }
NV_DOCUMENT_TYPE_DER = bytes.fromhex("300902010031041302") + b"NV"

JLIS_TEST_KEY_ID = "9000033/001"
# The organisation of every development certificate: what lets production recognise and refuse it.
DEV_ORGANISATION = "vaxcert development"
_DAY = dt.timedelta(days=1)
_WARN_DAYS = 30


def jlis_key_id_bytes(label: str) -> bytes:
    """The 16-byte CVC key id for ``"NNNNNNN/NNN"``: 7 digits, 08 05, 3 digits, 4 zero bytes."""
    head, _, tail = label.partition("/")
    if len(head) != 7 or len(tail) != 3 or not (head + tail).isdigit():
        raise ValueError(f"key id {label!r} is not of the form 7 digits / 3 digits")
    return head.encode() + b"\x08\x05" + tail.encode() + b"\x00" * 4


@dataclass(frozen=True)
class Spec:
    """One key and certificate of the development PKI."""

    name: str
    cn: str
    role: Role
    issuer: str | None  # None: self-signed
    key_type: KeyType = "ec256"
    days: int = 825
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    uri: str | None = None
    organisation: str = DEV_ORGANISATION
    country: str | None = None
    purpose: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def specs(issuer_url: str, kiosk_ids: Iterable[str], hosts: Iterable[str] = ()) -> list[Spec]:
    """Every item of the development PKI, CAs before what they sign."""
    hosts = list(hosts)
    ips = tuple(sorted({"127.0.0.1", *[h for h in hosts if _is_ip(h)]}))
    dns = tuple(sorted({"localhost", *[h for h in hosts if not _is_ip(h)]}))

    def server(name: str, issuer: str, purpose: str) -> Spec:
        return Spec(name, name, "server", issuer, dns=dns, ips=ips, purpose=purpose)

    items = [
        Spec(
            "dedicated-ca",
            "vaxcert dev dedicated-line CA",
            "ca",
            None,
            days=3650,
            purpose="C09 kiosk <-> center dedicated line: signs the kiosk-API server cert and "
            "one client cert per kiosk",
        ),
        server("center-kiosk-api", "dedicated-ca", "center kiosk API server (8443)"),
        *[
            Spec(f"kiosk-{kid}", kid, "client", "dedicated-ca", purpose=f"kiosk {kid} client")
            for kid in kiosk_ids
        ],
        Spec(
            "lgwan-ca",
            "vaxcert dev LGWAN CA",
            "ca",
            None,
            days=3650,
            purpose="C09 center <-> VRS (LGWAN)",
        ),
        server("vrs", "lgwan-ca", "VRS stub server (8441)"),
        Spec(
            "center-lgwan-client",
            "cert-center",
            "client",
            "lgwan-ca",
            purpose="the center's client cert towards VRS",
        ),
        Spec(
            "internal-ca",
            "vaxcert dev internal CA",
            "ca",
            None,
            days=3650,
            purpose="center <-> signer",
        ),
        server("signer-api", "internal-ca", "signer API server (8442)"),
        Spec(
            "center-internal-client",
            "cert-center",
            "client",
            "internal-ca",
            purpose="the center's client cert towards the signer",
        ),
        Spec(
            "public-ca",
            "vaxcert dev public TLS CA",
            "ca",
            None,
            days=3650,
            purpose="C10 stands in for a public web PKI: app API, issuer endpoints, ops console",
        ),
        server("center-app-api", "public-ca", "center app API server (8444)"),
        server("center-ops", "public-ca", "center ops console server (8445)"),
        server("signer-public", "public-ca", "signer public issuer endpoints (8446)"),
        # Browsers give a camera only to a secure page: the verifier is served over TLS.
        server("verifier", "public-ca", "verifier page (8090)"),
        Spec(
            "shc-root",
            "vaxcert dev SHC root",
            "ca",
            None,
            key_type="ec384",
            days=3650,
            purpose="root of the SHC issuer key's x5c chain",
        ),
        Spec(
            "shc-issuer",
            "vaxcert dev SHC issuer",
            "shc-leaf",
            "shc-root",
            days=730,
            uri=issuer_url,
            purpose="SHC issuer key (ES256); SAN URI = iss",
        ),
        Spec(
            "vdsnc-csca",
            "JP dev CSCA",
            "ca",
            None,
            key_type="ec384",
            days=5475,
            country="JP",
            purpose="VDS-NC country signing CA",
        ),
        Spec(
            "vdsnc-bsc",
            "JP dev VDS-NC signer",
            "bsc",
            "vdsnc-csca",
            days=3650,
            country="JP",
            purpose="VDS-NC barcode signer (EKU 2.23.136.1.1.14.2, document type NV)",
        ),
        Spec(
            "attest-ca",
            "vaxcert dev app attestation CA",
            "ca",
            None,
            days=3650,
            purpose="C06 signs app-instance attestation keys",
        ),
    ]
    return items


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP384R1() if key_type == "ec384" else ec.SECP256R1())


def key_path(directory: Path, name: str) -> Path:
    """Where the private key of ``name`` lives."""
    return directory / f"{name}.key.pem"


def cert_path(directory: Path, name: str) -> Path:
    """Where the PEM certificate of ``name`` lives."""
    return directory / f"{name}.crt.pem"


def write_private(path: Path, data: bytes) -> None:
    """Write secret material with mode 0600 from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _write_key(path: Path, key: PrivateKey) -> None:
    write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def load_key(path: Path) -> PrivateKey:
    """Load an unencrypted PEM private key of one of our types."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError(f"{path}: unsupported key type")
    return key


def load_cert(path: Path) -> x509.Certificate:
    """Load a PEM certificate."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def is_development_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` belongs to the development PKI (it, or its issuer, is ours)."""
    return any(
        attribute.value == DEV_ORGANISATION
        for name in (cert.subject, cert.issuer)
        for attribute in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )


def development_material(directory: Path) -> list[str]:
    """The names of development certificates and of the dev J-LIS CA found in ``directory``.

    Production refuses to start on any of them; a directory of real certificates yields ``[]``.
    """
    found = []
    for path in sorted(directory.glob("*.crt.pem")):
        try:
            development = is_development_certificate(load_cert(path))
        except ValueError:
            continue  # not a certificate of ours to judge; TLS set-up reports it
        if development:
            found.append(path.name.removesuffix(".crt.pem"))
    if (directory / "jlis-ca.json").is_file():
        found.append("jlis-ca")
    return found


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _name(spec: Spec) -> x509.Name:
    attributes = []
    if spec.country:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, spec.country))
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.organisation))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.cn))
    return x509.Name(attributes)


def build_certificate(
    spec: Spec,
    key: PrivateKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: PrivateKey | None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """Issue the certificate for ``spec`` (self-signed when no issuer is given)."""
    now = dt.datetime.now(dt.UTC)
    start = not_before or now - _DAY
    end = not_after or now + spec.days * _DAY
    signing_key = issuer_key or key
    issuer_name = issuer_cert.subject if issuer_cert is not None else _name(spec)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec))
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer_cert is not None:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    if spec.role == "ca":
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        ).add_extension(_key_usage(cert_sign=True), critical=True)
    else:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        ).add_extension(_key_usage(cert_sign=False), critical=True)
    if spec.role == "server":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    elif spec.role == "client":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    elif spec.role == "bsc":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([VDSNC_BSC_EKU]), critical=False
        ).add_extension(
            x509.UnrecognizedExtension(ICAO_DOCUMENT_TYPE_LIST, NV_DOCUMENT_TYPE_DER),
            critical=False,
        )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in spec.dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.ips]
    if spec.uri:
        sans.append(x509.UniformResourceIdentifier(spec.uri))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signing_key, _hash_for(signing_key))


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    directory: Path,
    spec: Spec,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """Issue ``spec`` with its CA from ``directory`` and write key (0600) and certificate.

    A leaf keeps its key when re-issued; a CA that is re-made gets a new one.
    """
    kp = key_path(directory, spec.name)
    key = load_key(kp) if kp.exists() and spec.role != "ca" else _new_key(spec.key_type)
    issuer_cert = load_cert(cert_path(directory, spec.issuer)) if spec.issuer else None
    issuer_key = load_key(key_path(directory, spec.issuer)) if spec.issuer else None
    cert = build_certificate(spec, key, issuer_cert, issuer_key, not_before, not_after)
    _write_key(kp, key)
    cert_path(directory, spec.name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def issue_terminal_cert(directory: Path, name: str) -> x509.Certificate:
    """Issue (or re-issue, keeping its key) an LGWAN-CA client certificate ``name``.

    Development only: a municipal terminal's certificate comes from the real LGWAN CA in
    production.
    """
    return issue(
        directory, Spec(name, name, "client", "lgwan-ca", purpose="municipal LGWAN terminal")
    )


def _still_good(directory: Path, spec: Spec, issuer: x509.Certificate | None) -> bool:
    kp, cp = key_path(directory, spec.name), cert_path(directory, spec.name)
    if not (kp.exists() and cp.exists()):
        return False
    try:
        cert, key = load_cert(cp), load_key(kp)
    except (ValueError, TypeError):
        return False
    if not _same_public_key(cert, key):
        return False
    if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC) + _WARN_DAYS * _DAY:
        return False
    if spec.uri and spec.uri not in _uris(cert):
        return False
    if issuer is not None:
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError):
            return False
    return True


def _same_public_key(cert: x509.Certificate, key: PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt)


def _uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def init(
    directory: Path, issuer_url: str, kiosk_ids: Iterable[str], hosts: Iterable[str] = ()
) -> list[str]:
    """Create whatever is missing or no longer valid; returns the names (re)generated."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    made: list[str] = []
    for spec in specs(issuer_url, kiosk_ids, hosts):
        issuer_cert = load_cert(cert_path(directory, spec.issuer)) if spec.issuer else None
        if _still_good(directory, spec, issuer_cert):
            continue
        issue(directory, spec)
        made.append(spec.name)
    if made or not (directory / "public-bundle.pem").exists():
        _write_bundles(directory)
    for name in ("vdsnc-csca", "vdsnc-bsc"):
        der = load_cert(cert_path(directory, name)).public_bytes(serialization.Encoding.DER)
        (directory / f"{name}.der").write_bytes(der)
    crl_file = directory / "vdsnc-crl.der"
    if "vdsnc-csca" in made or not crl_file.exists():
        write_vdsnc_crl(directory, revoked_serials=())
        made.append("vdsnc-crl")
    else:
        crl = x509.load_der_x509_crl(crl_file.read_bytes())
        next_update = crl.next_update_utc
        if next_update is None or next_update <= dt.datetime.now(dt.UTC) + _WARN_DAYS * _DAY:
            # Re-sign before it goes stale, keeping what it revokes.
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            write_vdsnc_crl(directory, [entry.serial_number for entry in crl], number + 1)
            made.append("vdsnc-crl")
    if _init_jlis(directory):
        made.append("jlis-ca")
    return made


def _write_bundles(directory: Path) -> None:
    # The SHC x5c chain, leaf first (formats.md §1).
    chain = [cert_path(directory, "shc-issuer"), cert_path(directory, "shc-root")]
    (directory / "shc-issuer.chain.pem").write_bytes(b"".join(p.read_bytes() for p in chain))
    (directory / "public-bundle.pem").write_bytes(cert_path(directory, "public-ca").read_bytes())


def write_vdsnc_crl(directory: Path, revoked_serials: Iterable[int], number: int = 1) -> None:
    """(Re)sign the CSCA's CRL listing ``revoked_serials`` (BSC compromise)."""
    crl = sign_crl(directory, "vdsnc-csca", revoked_serials, number)
    (directory / "vdsnc-crl.der").write_bytes(crl.public_bytes(serialization.Encoding.DER))


def sign_crl(
    directory: Path, ca: str, revoked_serials: Iterable[int], number: int = 1
) -> x509.CertificateRevocationList:
    """A CRL of the CA ``ca`` listing ``revoked_serials``, valid 90 days."""
    ca_cert = load_cert(cert_path(directory, ca))
    ca_key = load_key(key_path(directory, ca))
    now = dt.datetime.now(dt.UTC)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + 90 * _DAY)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(ca_key, _hash_for(ca_key))


def _init_jlis(directory: Path) -> bool:
    """The test J-LIS CA for virtual My Number cards (card.md §5, §8): a bare RSA-2048 key."""
    kp, meta = key_path(directory, "jlis-ca"), directory / "jlis-ca.json"
    if kp.exists() and meta.exists():
        return False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(kp, key)
    (directory / "jlis-ca.pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    meta.write_text(
        json.dumps(
            {
                "issuer_key_id": JLIS_TEST_KEY_ID,
                "issuer_key_id_hex": jlis_key_id_bytes(JLIS_TEST_KEY_ID).hex(),
                "public_key": "jlis-ca.pub.pem",
            },
            indent=2,
        )
        + "\n"
    )
    return True


@dataclass(frozen=True)
class Finding:
    """One line of ``certs check``: an item, its state and a human explanation."""

    name: str
    level: Literal["ok", "warning", "error"]
    text: str


def check(
    directory: Path, issuer_url: str, kiosk_ids: Iterable[str], hosts: Iterable[str] = ()
) -> list[Finding]:
    """Report every item's expiry, key/cert match, issuer signature and SAN."""
    findings: list[Finding] = []
    now = dt.datetime.now(dt.UTC)
    for spec in specs(issuer_url, kiosk_ids, hosts):
        kp, cp = key_path(directory, spec.name), cert_path(directory, spec.name)
        if not (kp.exists() and cp.exists()):
            findings.append(Finding(spec.name, "error", "missing (run `vaxcert certs init`)"))
            continue
        problems: list[str] = []
        cert, key = load_cert(cp), load_key(kp)
        if kp.stat().st_mode & 0o077:
            problems.append(f"private key mode {oct(kp.stat().st_mode & 0o777)} (want 0600)")
        if not _same_public_key(cert, key):
            problems.append("private key does not match certificate")
        if spec.issuer:
            try:
                cert.verify_directly_issued_by(load_cert(cert_path(directory, spec.issuer)))
            except (InvalidSignature, ValueError, TypeError):
                problems.append(f"not signed by {spec.issuer}")
        if spec.uri and spec.uri not in _uris(cert):
            problems.append(f"SAN URI {_uris(cert)} does not match configured {spec.uri}")
        days = (cert.not_valid_after_utc - now).days
        if cert.not_valid_after_utc <= now:
            problems.append(f"expired {cert.not_valid_after_utc:%Y-%m-%d}")
        if problems:
            findings.append(Finding(spec.name, "error", "; ".join(problems)))
        elif days < _WARN_DAYS:
            findings.append(Finding(spec.name, "warning", f"expires in {days} days"))
        else:
            findings.append(
                Finding(
                    spec.name,
                    "ok",
                    f"valid until {cert.not_valid_after_utc:%Y-%m-%d} ({days} days)",
                )
            )
    crl_file = directory / "vdsnc-crl.der"
    if crl_file.exists():
        crl = x509.load_der_x509_crl(crl_file.read_bytes())
        csca_pub = load_cert(cert_path(directory, "vdsnc-csca")).public_key()
        if not isinstance(csca_pub, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(
            csca_pub
        ):
            findings.append(Finding("vdsnc-crl", "error", "signature does not verify with CSCA"))
        elif crl.next_update_utc and crl.next_update_utc <= now:
            findings.append(Finding("vdsnc-crl", "error", "CRL is past its nextUpdate"))
        else:
            findings.append(
                Finding(
                    "vdsnc-crl",
                    "ok",
                    f"{len(list(crl))} revoked, next update {crl.next_update_utc:%Y-%m-%d}",
                )
            )
    else:
        findings.append(Finding("vdsnc-crl", "error", "missing"))
    meta = directory / "jlis-ca.json"
    if meta.exists() and key_path(directory, "jlis-ca").exists():
        findings.append(Finding("jlis-ca", "ok", f"RSA-2048, key id {JLIS_TEST_KEY_ID}"))
    else:
        findings.append(Finding("jlis-ca", "error", "missing"))
    return findings
