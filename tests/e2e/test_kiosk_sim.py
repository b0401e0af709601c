"""`vaxcert kiosk-sim`: the kiosk flow without a browser, one JSON object on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from launch.stack import Stack
from tests.support.qr import pdf_qr_texts
from vaxcert.card.harness import Pcscd
from vaxcert.residents import CANARY

pytestmark = pytest.mark.slow


def _sim(stack: Stack, *args: str, out: Path | None = None) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "launch.cli", "kiosk-sim", *args]
    if out is not None:
        command += ["--out", str(out)]
    done = subprocess.run(
        command, env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, (done.stdout, done.stderr)
    return done.returncode, json.loads(lines[0])


def test_refused_application_prints_the_reason_and_writes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    code, result = _sim(
        stack,
        "--resident",
        "no-records",
        "--pin",
        "5555",
        "--municipality",
        "462012",
        "--kind",
        "domestic",
        out=tmp_path / "out",
    )
    assert (code, result) == (
        1,
        {"outcome": "refused", "reason": "no_vaccination_record", "certificate_id": None},
    )
    assert not (tmp_path / "out" / "certificate.pdf").exists()


def test_wrong_pin_is_a_refusal(stack: Stack) -> None:
    code, result = _sim(
        stack,
        "--resident",
        "canary",
        "--pin",
        "0000",
        "--municipality",
        "462012",
        "--kind",
        "domestic",
    )
    assert code == 1 and result["reason"] == "pin_incorrect"


def test_a_municipality_the_center_does_not_list_is_refused(stack: Stack) -> None:
    code, result = _sim(
        stack,
        "--resident",
        "canary",
        "--pin",
        CANARY.pin,
        "--municipality",
        "462039",
        "--kind",
        "domestic",
    )
    assert code == 1 and result["reason"] == "municipality_not_participating"


@pytest.mark.pcsc
def test_pcsc_reader_refusal_through_pcscd(stack: Stack, pcscd: Pcscd) -> None:
    code, result = _sim(
        stack,
        "--resident",
        "support-measure",
        "--pin",
        "1111",
        "--municipality",
        "462012",
        "--kind",
        "domestic",
        "--reader",
        "pcsc",
    )
    assert (code, result["reason"]) == (1, "counter_required")


def test_issued_overseas_certificate_is_written_only_with_out(stack: Stack, tmp_path: Path) -> None:
    from pypdf import PdfReader

    from verifier import verify
    from verifier.dev_trust import dev_trust_store

    out = tmp_path / "out"
    code, result = _sim(
        stack,
        "--resident",
        "canary",
        "--pin",
        CANARY.pin,
        "--municipality",
        "462012",
        "--kind",
        "overseas",
        "--copies",
        "2",
        out=out,
    )
    assert code == 0 and result["outcome"] == "issued" and result["reason"] is None
    certificate_id = result["certificate_id"]
    assert isinstance(certificate_id, str) and len(certificate_id) == 12
    assert sorted(p.name for p in out.iterdir()) == ["certificate.pdf"]
    pdf = (out / "certificate.pdf").read_bytes()
    assert len(PdfReader(str(out / "certificate.pdf")).pages) == 2
    trust = dev_trust_store(stack.settings.pki_dir, stack.settings.issuer_url)
    texts = pdf_qr_texts(pdf)
    assert len(texts) == 2
    assert all(verify(text, trust).valid for text in texts)


@pytest.mark.pcsc
def test_pcsc_reader_issues_through_pcscd_without_writing(
    stack: Stack, pcscd: Pcscd, tmp_path: Path
) -> None:
    code, result = _sim(
        stack,
        "--resident",
        "elder",
        "--pin",
        "5678",
        "--municipality",
        "462012",
        "--kind",
        "domestic",
        "--reader",
        "pcsc",
    )
    assert code == 0 and result["outcome"] == "issued"
