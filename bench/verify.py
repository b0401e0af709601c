"""Verifier speed (design.md §5): median µs to verify one SHC from its ``shc:/`` text and one
VDS-NC from its JSON, against one raw ECDSA P-256 verify with ``cryptography`` in the same run.

Target: ≤ 4× for each. Steady state: the trust store is loaded once and a verifier sees the same
barcode signer certificates again and again (their parse and chain check are cached).

Run: .venv/bin/python bench/verify.py
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import DATA_DIR  # noqa: E402
from tests.verifier import issuance  # noqa: E402
from vaxcert import pki  # noqa: E402
from verifier import TrustStore, verify  # noqa: E402
from verifier.dev_trust import dev_trust_store  # noqa: E402

TARGET = 4.0


def _batch(action: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - start) / count * 1e6


def paired(
    baseline: Callable[[], object],
    action: Callable[[], object],
    rounds: int = 31,
    per_round: int = 100,
) -> tuple[float, float, float]:
    """Median µs of ``baseline`` and ``action`` and the median of their per-round ratios.

    Rounds alternate between the two so that load from other processes on this shared machine
    hits both alike; the ratio is what design.md §5 sets a target for.
    """
    for _ in range(per_round):  # warm-up (caches, allocator)
        baseline()
        action()
    base, case, ratios = [], [], []
    for _ in range(rounds):
        b = _batch(baseline, per_round)
        c = _batch(action, per_round)
        base.append(b)
        case.append(c)
        ratios.append(c / b)
    return statistics.median(base), statistics.median(case), statistics.median(ratios)


def main() -> int:
    testdata = DATA_DIR
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    message = b"x" * 700  # about a JWS signing input
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))

    def raw_verify() -> None:
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    with tempfile.TemporaryDirectory() as tmp:
        pki_dir = Path(tmp)
        pki.init(pki_dir, issuance.ISSUER_URL, [], [])
        dev = dev_trust_store(pki_dir, issuance.ISSUER_URL)
        our_shc = issuance.issue_shc(pki_dir)
        our_vds = issuance.issue_vdsnc(pki_dir)

        spec = testdata / "shc" / "spec-examples"
        well_known = spec / "issuer" / ".well-known"
        official = TrustStore()
        official.add_shc_issuer(
            "https://spec.smarthealth.cards/examples/issuer",
            "spec",
            json.loads((well_known / "jwks.json").read_text()),
            [json.loads(p.read_text()) for p in (well_known / "crl").glob("*.json")],
        )
        aus = testdata / "vdsnc" / "aus"
        official.add_csca((aus / "csca-aus-16f2.der").read_bytes(), "Australia", "AUS")
        official.add_crl((aus / "crl-aus.der").read_bytes())
        spec_text = (spec / "example-00-f-qr-code-numeric-value-0.txt").read_text().strip()
        john = (aus / "john.json").read_text()
        aus_at = dt.datetime(2021, 10, 15, tzinfo=dt.UTC)

        cases: list[tuple[str, Callable[[], object]]] = [
            ("SHC  spec example 00 (shc:/ text, rid CRL)", lambda: verify(spec_text, official)),
            ("SHC  our 日本国内用 card (shc:/ text, x5c)", lambda: verify(our_shc, dev)),
            ("VDS-NC AUS john.json (RSA CSCA, CRL)", lambda: verify(john, official, aus_at)),
            ("VDS-NC our 海外用 document (P-384 CSCA, CRL)", lambda: verify(our_vds, dev)),
        ]
        for _, action in cases:
            result = action()
            assert getattr(result, "valid", False), result
        worst = 0.0
        for name, action in cases:
            base, micros, ratio = paired(raw_verify, action)
            worst = max(worst, ratio)
            flag = "ok" if ratio <= TARGET else "OVER TARGET"
            print(
                f"{name:46} {micros:7.1f} µs vs raw P-256 verify {base:6.1f} µs: "
                f"{ratio:4.2f}x (target ≤ {TARGET:.0f}x) {flag}"
            )
        base, cold, _ = paired(raw_verify, lambda: _cold_vdsnc(our_vds, pki_dir), 5, 10)
        print(f"{'VDS-NC cold (store load + BSC parse + chain)':46} {cold:7.1f} µs (not a target)")
    return 0 if worst <= TARGET else 1


def _cold_vdsnc(text: str, pki_dir: Path) -> None:
    from verifier import _vdsnc

    _vdsnc._BSC_CACHE.clear()
    verify(text, dev_trust_store(pki_dir, issuance.ISSUER_URL))


if __name__ == "__main__":
    raise SystemExit(main())
