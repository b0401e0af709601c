"""Signing cost against raw ECDSA, measured in one run (design.md §5).

Prints the median µs of a raw ECDSA P-256 sign and verify with ``cryptography``, of issuing one
SMART Health Card (content model → ``shc:/`` numeric text) and one ICAO VDS-NC (content model →
JCS document), and the ratios against the raw sign. Targets: SHC ≤ 8×, VDS-NC ≤ 4×. With SoftHSM2
installed it also prints the PKCS#11 path (informational: a token sign is not a raw sign).

    .venv/bin/python bench/signing.py [--rounds N]   (or: make bench)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signer import shc_issue, vdsnc_issue
from signer.interfaces import KeySigner
from signer.keys import Pkcs11KeySigner, Pkcs11Token
from signer.samples import example_content
from signer.services import SignerService
from vaxcert import pki
from vaxcert.config import load_settings
from vaxcert.contracts.signing import CertificateContent
from vaxcert.residents import CANARY

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


def measure(
    operations: dict[str, Callable[[], object]], rounds: int, batch: int = 50
) -> tuple[dict[str, float], dict[str, float]]:
    """Median µs per call of each operation and its median ratio to the first one.

    The operations are interleaved round by round (``batch`` calls each), and every ratio is
    taken within one round, so load from other processes on the machine shifts all of them alike.
    """
    clock = time.perf_counter_ns
    for operation in operations.values():
        for _ in range(max(20, batch)):
            operation()
    per_call: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(rounds):
        for name, operation in operations.items():
            start = clock()
            for _ in range(batch):
                operation()
            per_call[name].append((clock() - start) / batch / 1000)
    base = next(iter(operations))
    medians = {name: statistics.median(values) for name, values in per_call.items()}
    ratios = {
        name: statistics.median(v / b for v, b in zip(values, per_call[base], strict=True))
        for name, values in per_call.items()
    }
    return medians, ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=300, help="interleaved rounds (10 calls each)"
    )
    args = parser.parse_args()
    rounds: int = args.rounds

    with tempfile.TemporaryDirectory(prefix="vaxcert-bench-") as temp:
        directory = Path(temp)
        pki.init(directory / "pki", "https://127.0.0.1:8446/issuer", [], ["127.0.0.1"])
        settings = load_settings(
            environment="test", pki_dir=directory / "pki", signer={"state_dir": directory / "st"}
        )
        service = SignerService(settings)
        service.init()
        active = service.active()
        active_barcode = active.barcode
        assert active_barcode is not None  # the dev PKI's CSCA certifies one at init
        domestic = example_content(CANARY, "domestic", 3)
        overseas = example_content(CANARY, "overseas", 3)
        overseas7 = example_content(CANARY, "overseas", 7)

        raw_key = ec.generate_private_key(ec.SECP256R1())
        raw_public = raw_key.public_key()
        message = b"x" * 700  # about an SHC signing input
        signature = raw_key.sign(message, ec.ECDSA(hashes.SHA256()))

        def shc_with(key: KeySigner, content: CertificateContent) -> Callable[[], object]:
            return lambda: (
                shc_issue.issue(
                    content,
                    key,
                    service.vaccines,
                    service.shc_profile,
                    time.time(),
                    active.rid_secret,
                ).numeric
            )

        def vdsnc_with(
            barcode: vdsnc_issue.BarcodeSigner, content: CertificateContent
        ) -> Callable[[], object]:
            return lambda: (
                vdsnc_issue.issue(
                    content, barcode, service.vaccines, service.vdsnc_profile
                ).document
            )

        operations: dict[str, Callable[[], object]] = {
            "raw ECDSA P-256 sign (cryptography)": lambda: raw_key.sign(
                message, ec.ECDSA(hashes.SHA256())
            ),
            "raw ECDSA P-256 verify (cryptography)": lambda: raw_public.verify(
                signature, message, ec.ECDSA(hashes.SHA256())
            ),
            SHC_ROW: shc_with(active.shc, domestic),
            "SHC issue, 3 doses overseas": shc_with(active.shc, overseas),
            "SHC issue, 7 doses overseas": shc_with(active.shc, overseas7),
            VDSNC_ROW: vdsnc_with(active_barcode, overseas),
            "VDS-NC issue, 7 doses": vdsnc_with(active_barcode, overseas7),
            "SignerService.issue_shc (+ audit line, state check)": lambda: service.issue_shc(
                domestic
            ),
        }
        token = _softhsm_token(directory)
        if token is not None:
            key = Pkcs11KeySigner(token, token.generate("bench"))
            # Timing only: this BSC certifies another key.
            barcode = vdsnc_issue.BarcodeSigner(key, active_barcode.certificate_der, 0)
            digest = b"\x01" * 32
            operations["PKCS#11 (SoftHSM2) CKM_ECDSA sign of a digest"] = lambda: token.sign_digest(
                key.key_id, digest
            )
            operations["PKCS#11 SHC issue, 3 doses domestic"] = shc_with(key, domestic)
            operations["PKCS#11 VDS-NC issue, 3 doses"] = vdsnc_with(barcode, overseas)
        medians, ratios = measure(operations, rounds)
        if token is not None:
            token.close()

    print(f"{'operation':56} {'median µs':>10} {'× raw sign':>11}")
    for name in operations:
        print(f"{name:56} {medians[name]:10.1f} {ratios[name]:10.2f}×")
    print()
    for name, target in ((SHC_ROW, 8), (VDSNC_ROW, 4)):
        verdict = "met" if ratios[name] <= target else "MISSED"
        print(f"{name}: {ratios[name]:.2f}× raw sign (target ≤ {target}×: {verdict})")
    return 0


SHC_ROW = "SHC issue, 3 doses domestic (content -> shc:/ text)"
VDSNC_ROW = "VDS-NC issue, 3 doses overseas (content -> JCS doc)"


def _softhsm_token(directory: Path) -> Pkcs11Token | None:
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM.exists():
        print("(SoftHSM2 not installed: PKCS#11 rows skipped)\n")
        return None
    tokens = directory / "tokens"
    tokens.mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--so-pin",
            "12345678",
            "--pin",
            "1234",
        ],
        check=True,
        capture_output=True,
    )
    return Pkcs11Token(SOFTHSM, "bench", "1234")


if __name__ == "__main__":
    sys.exit(main())
