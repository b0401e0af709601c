"""A TLS scan (sslyze) of every TLS listener, as `vaxcert serve` runs them on loopback.

Each listener must refuse every protocol below TLS 1.2; accept only cipher suites with forward
secrecy and AEAD; refuse compression; allow no insecure or client-initiated renegotiation; present
a certificate chain that its clients' pinned CA verifies for the address they call; and, where it
is mutually authenticated (C09), complete no handshake without a client certificate. What was
checked, listener by listener, is printed at the end of the test run ("TLS scan").

The same scan of a deliberately weak listener shows that the checks fail when they should. The
kiosk page is plain http on loopback and is not scanned (the verifier page is TLS: scanned).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sslyze import (
    ClientAuthenticationCredentials,
    ClientAuthRequirementEnum,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerConnectivityStatusEnum,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
)
from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument

from launch.stack import Stack, remove, start_stack
from launch.surfaces import SERVICES
from tests.support.servers import start_server
from vaxcert import pki

# sslyze's bundled public trust stores hold a root with a negative serial number; they play no
# part here (the pinned CA is what counts), so their parsing warning is no news.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
)

HOST = "127.0.0.1"
TLS_LISTENERS = tuple(name for name, spec in SERVICES.items() if spec.tls != "plain")
LEGACY_PROTOCOLS = {
    ScanCommand.SSL_2_0_CIPHER_SUITES: "SSL 2.0",
    ScanCommand.SSL_3_0_CIPHER_SUITES: "SSL 3.0",
    ScanCommand.TLS_1_0_CIPHER_SUITES: "TLS 1.0",
    ScanCommand.TLS_1_1_CIPHER_SUITES: "TLS 1.1",
}
CURRENT_PROTOCOLS = {
    ScanCommand.TLS_1_2_CIPHER_SUITES: "TLS 1.2",
    ScanCommand.TLS_1_3_CIPHER_SUITES: "TLS 1.3",
}
COMMANDS = {
    *LEGACY_PROTOCOLS,
    *CURRENT_PROTOCOLS,
    ScanCommand.TLS_COMPRESSION,
    ScanCommand.SESSION_RENEGOTIATION,
    ScanCommand.CERTIFICATE_INFO,
}
# sslyze's name for the trust store made of the CA file it is given.
PINNED_STORE = "Supplied CA file"
CHECKS = (
    "protocols",
    "cipher suites",
    "compression",
    "renegotiation",
    "certificate",
    "client certificate",
)


@dataclass(frozen=True)
class Listener:
    """A TLS listener to scan, and what its clients pin and present."""

    name: str
    port: int
    pinned_ca: Path
    client: tuple[Path, Path] | None  # mTLS: a client certificate and key it accepts


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _forward_secret_aead(suite: str) -> bool:
    """TLS 1.3 suites are all forward secret AEAD; TLS 1.2 ones need (EC)DHE and GCM/ChaCha/CCM."""
    if suite.startswith("TLS_") and "_WITH_" not in suite:
        return True
    exchange, _, cipher = suite.partition("_WITH_")
    return exchange.startswith(("TLS_ECDHE_", "TLS_DHE_")) and (
        "_GCM_" in cipher or "CHACHA20_POLY1305" in cipher or "_CCM" in cipher
    )


def _attempt(result: ServerScanResult, command: ScanCommand) -> Any:
    """The result of one scan command; a command that did not complete is a failure of its own."""
    assert result.scan_result is not None
    attempt = getattr(result.scan_result, command.value)
    if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
        raise _IncompleteError(f"{command.value}: {attempt.status.value} {attempt.error_reason}")
    return attempt.result


class _IncompleteError(Exception):
    pass


def _checked(name: str, check: Any, *args: Any) -> Check:
    try:
        ok, detail = check(*args)
    except _IncompleteError as exc:
        return Check(name, False, f"scan did not complete: {exc}")
    return Check(name, ok, detail)


def _protocols(result: ServerScanResult) -> tuple[bool, str]:
    accepted = {
        label: [s.cipher_suite.name for s in _attempt(result, c).accepted_cipher_suites]
        for c, label in LEGACY_PROTOCOLS.items()
    }
    bad = {label: suites for label, suites in accepted.items() if suites}
    if bad:
        return False, f"accepted below TLS 1.2: {bad}"
    return True, "SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 refused"


def _ciphers(result: ServerScanResult) -> tuple[bool, str]:
    accepted = {
        label: [s.cipher_suite.name for s in _attempt(result, c).accepted_cipher_suites]
        for c, label in CURRENT_PROTOCOLS.items()
    }
    suites = [s for names in accepted.values() for s in names]
    weak = [s for s in suites if not _forward_secret_aead(s)]
    if not suites:
        return False, "no cipher suite accepted at all: nothing was scanned"
    if weak:
        return False, f"without forward secrecy or AEAD: {weak}"
    listed = "; ".join(
        f"{label}: {', '.join(names) or 'none'}" for label, names in accepted.items()
    )
    return True, f"all forward secret AEAD ({listed})"


def _compression(result: ServerScanResult) -> tuple[bool, str]:
    if _attempt(result, ScanCommand.TLS_COMPRESSION).supports_compression:
        return False, "TLS compression accepted (CRIME)"
    return True, "refused"


def _renegotiation(result: ServerScanResult) -> tuple[bool, str]:
    found = _attempt(result, ScanCommand.SESSION_RENEGOTIATION)
    problems = []
    if not found.supports_secure_renegotiation:
        problems.append("no secure renegotiation (RFC 5746)")
    if found.is_vulnerable_to_client_renegotiation_dos:
        problems.append("client-initiated renegotiation accepted")
    if problems:
        return False, "; ".join(problems)
    return True, "secure renegotiation only; client-initiated renegotiation refused"


def _certificate(result: ServerScanResult) -> tuple[bool, str]:
    info = _attempt(result, ScanCommand.CERTIFICATE_INFO)
    problems = []
    for deployment in info.certificate_deployments:
        pinned = [
            v for v in deployment.path_validation_results if v.trust_store.name == PINNED_STORE
        ]
        if not pinned or not pinned[0].was_validation_successful:
            error = pinned[0].validation_error if pinned else "not validated"
            problems.append(f"does not chain to the pinned CA for {HOST}: {error}")
        if deployment.verified_chain_has_sha1_signature:
            problems.append("SHA-1 signature in the chain")
        if deployment.received_chain_has_valid_order is False:
            problems.append("chain sent out of order")
    if not info.certificate_deployments:
        problems.append("no certificate")
    if problems:
        return False, "; ".join(problems)
    return True, f"chain verified by the pinned CA for {HOST}, no SHA-1, in order"


def _client_certificate(
    listener: Listener, without_certificate: ServerScanResult
) -> tuple[bool, str]:
    assert without_certificate.connectivity_result is not None
    requirement = without_certificate.connectivity_result.client_auth_requirement
    if listener.client is None:
        return True, f"not asked of clients (TLS listener; client auth {requirement.name})"
    if requirement != ClientAuthRequirementEnum.REQUIRED:
        return False, f"a handshake completes without a client certificate ({requirement.name})"
    return True, "no handshake completes without a client certificate"


def _request(listener: Listener, with_client: bool) -> ServerScanRequest:
    credentials = None
    if with_client and listener.client is not None:
        cert, key = listener.client
        credentials = ClientAuthenticationCredentials(certificate_chain_path=cert, key_path=key)
    return ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=HOST, port=listener.port, ip_address=HOST),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=HOST, tls_client_auth_credentials=credentials
        ),
        # Without a client certificate only the connection test runs: it tells whether the
        # server requires one.
        scan_commands=COMMANDS if with_client else set(),
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=listener.pinned_ca)
        )
        if with_client
        else ScanCommandsExtraArguments(),
    )


def scan(listeners: list[Listener]) -> dict[str, list[Check]]:
    """Scan every listener (together: sslyze runs them concurrently) and check the results."""
    by_port = {listener.port: listener for listener in listeners}
    scanner = Scanner()
    scanner.queue_scans(
        [_request(listener, True) for listener in listeners]
        + [_request(listener, False) for listener in listeners if listener.client]
    )
    full: dict[int, ServerScanResult] = {}
    bare: dict[int, ServerScanResult] = {}
    for result in scanner.get_results():
        port = result.server_location.port
        presented = result.network_configuration.tls_client_auth_credentials is not None
        # A TLS listener's one scan is made without a client certificate: it serves as both.
        if presented or by_port[port].client is None:
            full[port] = result
        if not presented:
            bare[port] = result
    return {listener.name: _checks(listener, full, bare) for listener in listeners}


def _checks(
    listener: Listener, full: dict[int, ServerScanResult], bare: dict[int, ServerScanResult]
) -> list[Check]:
    result, without = full.get(listener.port), bare.get(listener.port)
    unreachable = [
        r
        for r in (result, without)
        if r is None or r.connectivity_status != ServerConnectivityStatusEnum.COMPLETED
    ]
    if result is None or without is None or unreachable:
        errors = [str(r.connectivity_error_trace) if r else "no result" for r in unreachable]
        return [Check(name, False, f"could not connect: {errors}") for name in CHECKS]
    return [
        _checked("protocols", _protocols, result),
        _checked("cipher suites", _ciphers, result),
        _checked("compression", _compression, result),
        _checked("renegotiation", _renegotiation, result),
        _checked("certificate", _certificate, result),
        _checked("client certificate", _client_certificate, listener, without),
    ]


class _Report:
    """Prints what the scan checked at the end of the run (a pytest plugin)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, listener: Listener, checks: list[Check]) -> None:
        mode = "mTLS" if listener.client else "TLS"
        self.lines.append(f"{listener.name} ({mode}, {HOST}:{listener.port}):")
        for check in checks:
            verdict = "ok  " if check.ok else "FAIL"
            self.lines.append(f"  {verdict} {check.name}: {check.detail}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("TLS scan (sslyze)")
        for line in self.lines:
            terminalreporter.write_line(line)


def _listeners(stack: Stack) -> list[Listener]:
    listeners = []
    for name in TLS_LISTENERS:
        spec = SERVICES[name]
        pinned = spec.files(stack.settings)["server_ca"]
        assert pinned is not None
        client = None
        if spec.tls == "mtls":
            assert spec.probe_client is not None
            client = (
                pki.cert_path(stack.pki_dir, spec.probe_client),
                pki.key_path(stack.pki_dir, spec.probe_client),
            )
        port = getattr(stack.settings.listeners, spec.listener).port
        listeners.append(Listener(name, port, pinned, client))
    return listeners


@pytest.fixture(scope="module")
def scanned(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, tuple[Listener, list[Check]]]]:
    """Every TLS listener started as `vaxcert serve` runs it, scanned once."""
    stack = start_stack(
        tmp_path_factory.mktemp("tls-scan"),
        residents=2,
        workers=1,
        threads=4,
        processes=TLS_LISTENERS,
    )
    try:
        listeners = _listeners(stack)
        found = scan(listeners)
    finally:
        remove(stack)
    report = _Report()
    for listener in listeners:
        report.add(listener, found[listener.name])
    request.config.pluginmanager.register(report, "vaxcert-tls-scan-report")
    yield {listener.name: (listener, found[listener.name]) for listener in listeners}


@pytest.mark.parametrize("name", TLS_LISTENERS)
def test_c09_c10_every_tls_listener_passes_the_tls_scan(
    scanned: dict[str, tuple[Listener, list[Check]]], name: str
) -> None:
    _, checks = scanned[name]
    assert [check.name for check in checks] == list(CHECKS)
    failed = {check.name: check.detail for check in checks if not check.ok}
    assert not failed, f"{name}: {failed}"


def _weak_context(directory: Path, client_ca: Path) -> ssl.SSLContext:
    """What the product's listeners must never be: TLS 1.0 and RSA key exchange with CBC suites
    allowed, a self-signed RSA certificate, a client certificate asked for but not required."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "weak.crt.pem", directory / "weak.key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0")
    context.load_cert_chain(cert_path, key_path)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cafile=client_ca)
    return context


def _ok(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_the_tls_scan_finds_what_it_looks_for_on_a_weak_listener(
    dev_pki: Path, tmp_path: Path
) -> None:
    context = _weak_context(tmp_path, pki.cert_path(dev_pki, "lgwan-ca"))
    server = start_server(_ok, context)
    try:
        weak = Listener(
            "weak",
            server.port,
            pki.cert_path(dev_pki, "lgwan-ca"),
            (
                pki.cert_path(dev_pki, "center-lgwan-client"),
                pki.key_path(dev_pki, "center-lgwan-client"),
            ),
        )
        checks = {check.name: check for check in scan([weak])["weak"]}
    finally:
        server.stop()
    failed = {name for name, check in checks.items() if not check.ok}
    assert failed == {"protocols", "cipher suites", "certificate", "client certificate"}, checks
    assert "TLS 1.0" in checks["protocols"].detail
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in checks["cipher suites"].detail
    assert "does not chain to the pinned CA" in checks["certificate"].detail
    assert "OPTIONAL" in checks["client certificate"].detail
