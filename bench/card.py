"""Card read benchmark: connect → raw files over pyscard → pcscd → vpcd → virtual card, then the
center's C03 check (verified CardRead).

Prints the median of 20 reads (target ≤ 50 ms, design.md §5), the same work with the
in-process virtual card as the baseline (ratio = cost of the PC/SC transport), and a few reads
with TCP_QUICKACK disabled in the card to show the stall it prevents (card.md §10.3, ~0.66 s).
Starts pcscd (or reuses a running one with a vpcd slot) and stops what it started by PID.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vaxcert import pki, residents
from vaxcert.card import CardReader, ca_key_table, cards, verify_card_files
from vaxcert.card.harness import READER_SLOT0, VirtualCardProcess, stack_available, start_pcscd
from vaxcert.card.inprocess import InProcessCardReader
from vaxcert.card.models import CardRead
from vaxcert.config import load_settings

RUNS = 20
SLOW_RUNS = 3
TARGET_MS = 50.0


def timed(read: Callable[[], CardRead], runs: int) -> list[float]:
    """Milliseconds of ``runs`` calls; each must return a verified read."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = read()
        samples.append((time.perf_counter() - start) * 1000)
        assert result.verified, "the read did not pass C03"
    return samples


def main() -> int:
    """Run the benchmark; exit 1 when the target is missed (0 with a notice if pcscd is absent)."""
    # The dev J-LIS CA says UNSAFE at every card it verifies: right for a service, noise here.
    logging.disable(logging.WARNING)
    missing = stack_available()
    if missing:
        print(f"card bench skipped: {missing}")
        return 0
    pin = residents.CANARY.pin
    with tempfile.TemporaryDirectory(prefix="vaxcert-card-bench-") as temp:
        work = Path(temp)
        pki_dir = work / "pki"
        pki.init(pki_dir, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"])
        settings = load_settings(pki_dir=pki_dir, environment="test")
        ca_keys = ca_key_table(settings)

        def read_and_verify(reader: CardReader) -> CardRead:
            return verify_card_files(reader.read_files(pin), ca_keys)

        baseline_reader = InProcessCardReader(
            cards.make_card("canary", cards.CardIssuer.from_pki(pki_dir))
        )
        timed(lambda: read_and_verify(baseline_reader), 3)
        baseline = statistics.median(timed(lambda: read_and_verify(baseline_reader), RUNS))

        from vaxcert.card.pcsc import PcscCardReader

        pcscd = start_pcscd(work / "pcscd")
        reader = PcscCardReader(READER_SLOT0, timeout=10.0)
        try:
            results: dict[bool, list[float]] = {}
            for quickack, runs in ((True, RUNS), (False, SLOW_RUNS)):
                card = VirtualCardProcess(
                    "canary", pcscd.port, pki_dir, work / "cards", quickack=quickack
                ).start()
                try:
                    card.wait_powered()
                    if not reader.wait_for_card(10.0):
                        raise RuntimeError("pcscd did not report the virtual card")
                    timed(lambda: read_and_verify(reader), 2)  # warm-up
                    results[quickack] = timed(lambda: read_and_verify(reader), runs)
                finally:
                    card.stop()
                    reader.wait_for_removal(10.0)
        finally:
            pcscd.stop()

    fast = results[True]
    median = statistics.median(fast)
    slow = statistics.median(results[False])
    print(f"in-process virtual card, read + verify (baseline): median {baseline:.2f} ms")
    print(
        f"pcscd + vpcd, connect -> verified CardRead: median {median:.2f} ms of {RUNS} "
        f"(min {min(fast):.2f}, max {max(fast):.2f}); target <= {TARGET_MS:.0f} ms"
    )
    print(f"ratio pcscd+vpcd / in-process: {median / baseline:.1f}x")
    print(
        f"without TCP_QUICKACK in the card: median {slow:.0f} ms of {SLOW_RUNS} "
        f"({slow / median:.0f}x slower)"
    )
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
