"""`vaxcert signer ...` driven through the real click entry point."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from launch.cli import main
from signer.services import SignerService
from tests.signer.conftest import verify_shc, verify_vdsnc
from tests.support.qr import read_qr
from vaxcert.config import load_settings
from vaxcert.formats import shc


@pytest.fixture
def env(tmp_path: Path, own_pki: Path) -> dict[str, str]:
    return {"VAXCERT_PKI_DIR": str(own_pki), "VAXCERT_SIGNER__STATE_DIR": str(tmp_path / "state")}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["signer", *args], env=env, catch_exceptions=False)


def _service(env: dict[str, str]) -> SignerService:
    return SignerService(
        load_settings(
            pki_dir=env["VAXCERT_PKI_DIR"], signer={"state_dir": env["VAXCERT_SIGNER__STATE_DIR"]}
        )
    )


def _decode(path: Path) -> str:
    results = read_qr(path.read_bytes())
    assert len(results) == 1
    text: str = results[0].text
    return text


@pytest.mark.parametrize("kind", ["domestic", "overseas"])
def test_issue_writes_every_file_and_they_verify(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    content = tmp_path / "content.json"
    example = run(env, "example-content", "--kind", kind, "--doses", "7")
    assert example.exit_code == 0
    content.write_text(example.output)
    out = tmp_path / "out"
    result = run(env, "issue", "--input", str(content), "--out", str(out))
    assert result.exit_code == 0, result.output
    expected = {"card.jws", "card.qr.txt", "card.qr.png", "card.smart-health-card"}
    if kind == "overseas":
        expected |= {"vdsnc.json", "vdsnc.qr.png"}
    assert {p.name for p in out.iterdir()} == expected
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the holder's data
    jws = (out / "card.jws").read_text()
    assert (out / "card.qr.txt").read_text() == shc.jws_to_numeric(jws)
    assert _decode(out / "card.qr.png") == shc.jws_to_numeric(jws)
    assert shc.parse_file((out / "card.smart-health-card").read_text()) == [jws]
    service = _service(env)
    verify_shc(jws, service.jwks())
    if kind == "overseas":
        document = (out / "vdsnc.json").read_text()
        assert _decode(out / "vdsnc.qr.png") == document
        verify_vdsnc(document, service.csca_der())


def test_invalid_content_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    content = tmp_path / "content.json"
    data = json.loads(run(env, "example-content", "--kind", "overseas").output)
    data["kind"] = "domestic"  # a domestic certificate with passport data: refused (C04)
    content.write_text(json.dumps(data))
    out = tmp_path / "out"
    result = run(env, "issue", "--input", str(content), "--out", str(out))
    assert result.exit_code != 0
    assert "invalid content" in result.output
    assert "TZ9990001" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("dose", "change"),
    [
        (0, {"date": "2021-07-01"}),  # dose 1 after dose 2
        (2, {"dose_number": 1, "date": "2021-05-01"}),  # a "first" dose dated before dose 1
        (1, {"date": "2021-06-07"}),  # doses 1 and 2 on the same day
    ],
)
def test_doses_out_of_date_order_are_refused_and_nothing_is_written(
    env: dict[str, str], tmp_path: Path, dose: int, change: dict[str, object]
) -> None:
    data = json.loads(run(env, "example-content", "--kind", "overseas", "--doses", "3").output)
    if change.get("dose_number") == 1:
        data["doses"][0]["dose_number"] = 3  # keep the numbers distinct: only the order is wrong
    data["doses"][dose].update(change)
    content = tmp_path / "content.json"
    content.write_text(json.dumps(data))
    out = tmp_path / "out"
    result = run(env, "issue", "--input", str(content), "--out", str(out))
    assert result.exit_code == 1
    assert "dose_order_invalid" in result.output
    assert not out.exists()
    assert "TZ9990001" not in result.output


def test_the_input_order_of_consistent_doses_does_not_matter(
    env: dict[str, str], tmp_path: Path
) -> None:
    data = json.loads(run(env, "example-content", "--kind", "overseas", "--doses", "3").output)
    data["doses"].reverse()
    content = tmp_path / "content.json"
    content.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert run(env, "issue", "--input", str(content), "--out", str(out)).exit_code == 0
    document = json.loads((out / "vdsnc.json").read_text())
    assert [ve["vd"][0]["seq"] for ve in document["data"]["msg"]["ve"]] == [1, 2, 3]


def test_rotate_revoke_compromise_and_status(env: dict[str, str]) -> None:
    assert run(env, "init").exit_code == 0
    first = json.loads(run(env, "status").output)
    old_kid = first["shc_active"]
    assert first["shc_rotation_due"] is False
    rotated = run(env, "rotate", "--format", "both")
    assert rotated.exit_code == 0, rotated.output
    status = json.loads(run(env, "status").output)
    assert status["shc_active"] != old_kid
    assert [k["status"] for k in status["shc_keys"]] == ["retired", "active"]
    assert [k["status"] for k in status["bsc_keys"]] == ["retired", "active"]
    revoked = run(env, "revoke", "--certificate-id", "9SAMPLE00001")
    assert revoked.exit_code == 0 and revoked.output.count("listed") == 2
    status = json.loads(run(env, "status").output)
    assert [k["crl_ctr"] for k in status["shc_keys"]] == [2, 2]
    withdrawn = run(env, "compromise", "--kid", old_kid)
    assert withdrawn.exit_code == 0
    assert old_kid not in [k["kid"] for k in _service(env).jwks()["keys"]]
    bsc = run(env, "compromise", "--bsc")
    assert bsc.exit_code == 0 and "new BSC" in bsc.output
    assert run(env, "compromise").exit_code != 0
    unknown = run(env, "compromise", "--kid", "nope")
    assert unknown.exit_code != 0 and "not_found" in unknown.output
