"""`vaxcert verify`: exit codes 0/1/2/3, --json lines, one-off anchors, --at, images and stdin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from launch.cli import main
from tests.verifier import issuance

SPEC_JWKS_ARG = "https://spec.smarthealth.cards/examples/issuer={}"


def _run(*args: str, input: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *args], input=input)
    return result.exit_code, result.output


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_valid_inputs_without_current_revocation_data_exit_3_one_json_object_each(
    official_store_dir: Path, spec_dir: Path, aus_dir: Path
) -> None:
    # The spec issuer's keys were never fetched into this store, and the Australian CRL expired
    # in 2021: both certificates are sound, neither is a plain "valid".
    code, output = _run(
        str(spec_dir / "example-00-f-qr-code-numeric-value-0.txt"),
        str(aus_dir / "john.json"),
        "--trust",
        str(official_store_dir),
        "--at",
        "2023-07-01T00:00:00Z",
        "--json",
    )
    assert code == 3, output
    lines = _lines(output)
    assert [(o["format"], o["valid"], o["verdict"], o["reasons"]) for o in lines] == [
        ("shc", True, "valid_revocation_unchecked", []),
        ("vdsnc", True, "valid_revocation_unchecked", []),
    ]
    assert [o["revocation"]["status"] for o in lines] == ["not_checked", "not_checked"]  # type: ignore[index]
    assert [o["revocation"]["problem"]["code"] for o in lines] == ["crl_missing", "crl_stale"]  # type: ignore[index]
    assert lines[0]["input"] == str(spec_dir / "example-00-f-qr-code-numeric-value-0.txt")


def test_valid_with_current_revocation_data_exits_0(tmp_path: Path, dev_pki: Path) -> None:
    trust = tmp_path / "trust"
    CliRunner().invoke(
        main, ["trust", "init-dev", "--out", str(trust)], env={"VAXCERT_PKI_DIR": str(dev_pki)}
    )
    # The CSCA CRL of a fresh dev PKI was issued moments ago: the document signer is checked;
    # without the issuer's list of revoked certificate ids the document itself is not.
    code, output = _run(issuance.issue_vdsnc(dev_pki), "--trust", str(trust), "--json")
    assert code == 3, output
    (line,) = _lines(output)
    assert line["revocation"]["problem"]["code"] == "uvci_list_missing"  # type: ignore[index]
    # With the list in the file trust.toml names (as `trust refresh` keeps it): checked.
    (trust / "csca" / "JPN" / "uvci.jws").write_text(issuance.uvci_list(dev_pki))
    code, output = _run(issuance.issue_vdsnc(dev_pki), "--trust", str(trust), "--json")
    assert code == 0, output
    (line,) = _lines(output)
    assert line["verdict"] == "valid"
    assert line["revocation"]["status"] == "checked"  # type: ignore[index]
    assert line["revocation"]["scope"] == "certificate"  # type: ignore[index]
    # A list naming this certificate id revokes it.
    (trust / "csca" / "JPN" / "uvci.jws").write_text(
        issuance.uvci_list(dev_pki, ["JP0000000123"], ctr=2)
    )
    code, output = _run(issuance.issue_vdsnc(dev_pki), "--trust", str(trust), "--json")
    assert code == 1, output
    (line,) = _lines(output)
    assert [r["code"] for r in line["reasons"]] == ["revoked"]  # type: ignore[union-attr,index]


def test_any_invalid_input_exits_1_with_its_reasons(
    official_store_dir: Path, spec_dir: Path, aus_dir: Path
) -> None:
    code, output = _run(
        str(spec_dir / "example-00-d-jws.txt"),
        str(spec_dir / "example-03-d-jws.txt"),
        "--trust",
        str(official_store_dir),
        "--json",
    )
    assert code == 1
    first, second = _lines(output)
    assert first["valid"] is True
    assert second["valid"] is False
    assert {r["code"] for r in second["reasons"]} == {"expired", "revoked"}  # type: ignore[union-attr, index]
    assert all(r["ja"] and r["en"] for r in second["reasons"])  # type: ignore[union-attr, index]


def test_one_off_anchors_csca_crl_jwks(spec_dir: Path, aus_dir: Path) -> None:
    jwks = spec_dir / "issuer" / ".well-known" / "jwks.json"
    crl = next((spec_dir / "issuer" / ".well-known" / "crl").glob("*.json"))
    code, output = _run(
        str(aus_dir / "jane-sue.json"),
        str(spec_dir / "example-03-d-jws.txt"),
        "--csca",
        str(aus_dir / "csca-aus-16f2.der"),
        "--crl",
        str(aus_dir / "crl-aus.der"),
        "--jwks",
        SPEC_JWKS_ARG.format(jwks),
        "--crl",
        str(crl),
        "--at",
        "2021-10-15",
        "--json",
    )
    assert code == 1
    vds, card = _lines(output)
    assert vds["valid"] is True and vds["warnings"] == []
    assert [r["code"] for r in card["reasons"]] == ["revoked"]  # type: ignore[union-attr, index]


def test_at_selects_the_x5c_window_of_example_01(official_store_dir: Path, spec_dir: Path) -> None:
    path = str(spec_dir / "example-01-d-jws.txt")
    assert _run(path, "--trust", str(official_store_dir), "--at", "2022-01-01")[0] == 3
    code, output = _run(path, "--trust", str(official_store_dir))
    assert code == 1 and "x5c_expired" in output


def test_human_output_names_verdict_holder_and_reasons(
    official_store_dir: Path, aus_dir: Path
) -> None:
    code, output = _run(
        str(aus_dir / "john.json"), str(aus_dir / "john-tampered.json"),
        "--trust", str(official_store_dir), "--lang", "ja",
    )  # fmt: skip
    assert code == 1
    assert "有効（失効は未確認） VALID — REVOCATION NOT CHECKED" in output
    assert "無効 NOT VALID" in output
    assert "holder: CITIZEN JOHN" in output
    assert "CITIZEN JOHNX" not in output  # an invalid certificate's holder is not shown
    assert "signature_invalid: 署名が正しくありません" in output
    assert "warning crl_stale" in output


def test_an_image_with_two_codes_gives_two_lines(tmp_path: Path, dev_pki: Path) -> None:
    page = tmp_path / "page.png"
    overseas = issuance.issue_shc(dev_pki, issuance.overseas_shc_payload())  # one person
    page.write_bytes(issuance.certificate_page_png(overseas, issuance.issue_vdsnc(dev_pki)))
    trust = tmp_path / "trust"
    CliRunner().invoke(
        main, ["trust", "init-dev", "--out", str(trust)], env={"VAXCERT_PKI_DIR": str(dev_pki)}
    )
    code, output = _run(str(page), "--trust", str(trust), "--json")
    # The written store's SHC key was never fetched from the issuer, nor its list of revoked
    # certificate ids.
    assert code == 3, output
    assert [(o["format"], o["verdict"]) for o in _lines(output)] == [
        ("shc", "valid_revocation_unchecked"),
        ("vdsnc", "valid_revocation_unchecked"),
    ]


def test_stdin_and_literal_text(official_store_dir: Path, spec_dir: Path) -> None:
    numeric = (spec_dir / "example-00-f-qr-code-numeric-value-0.txt").read_bytes()
    assert _run("-", "--trust", str(official_store_dir), input=numeric)[0] == 3
    assert _run(numeric.decode().strip(), "--trust", str(official_store_dir))[0] == 3


def test_the_default_store_is_the_dev_store_from_the_pki(dev_pki: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["verify", issuance.issue_vdsnc(dev_pki)],
        env={"VAXCERT_PKI_DIR": str(dev_pki), "VAXCERT_ISSUER_URL": issuance.ISSUER_URL},
    )
    # Valid; no signer answers at the issuer URL, so its list of revoked ids was not fetched.
    assert result.exit_code == 3, result.output
    assert "JP dev CSCA" in result.output or "Japan (development CSCA)" in result.output


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["missing-file.txt", "--csca", "x"],
        ["shc:/56", "--at", "yesterday", "--jwks", "https://a.example=x"],
        ["shc:/56", "--jwks", "http://insecure.example=/dev/null"],
        ["shc:/56", "--jwks", "no-equals-sign"],
        ["shc:/56", "--csca", "/nonexistent.der"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert _run(*args)[0] == 2


def test_a_broken_trust_store_exits_2(tmp_path: Path) -> None:
    (tmp_path / "trust.toml").write_text("[[csca]]\ncertificates = ['none.der']\n")
    code, output = _run("shc:/56", "--trust", str(tmp_path))
    assert code == 2 and "trust store" in output


def test_trust_show_lists_anchors(official_store_dir: Path) -> None:
    result = CliRunner().invoke(main, ["trust", "show", "--trust", str(official_store_dir)])
    assert result.exit_code == 0
    assert "SHC  https://spec.smarthealth.cards/examples/issuer" in result.output
    assert "CSCA Australia (DFAT) [AUS]" in result.output
    assert "CRL 2021-08-19..2021-11-17, 0 revoked" in result.output
