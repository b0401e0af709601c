"""Golden layouts of what we sign: the SHC payload (type list, name order, one Immunization per
dose in date order) and the VDS-NC ``data`` (one ``ve`` per dose in date order, ``seq`` the
cumulative dose number), for 国内用 and 海外用, 1 to 7 doses of several brands, and a certificate
whose first doses were given in another municipality.

The goldens are in ``goldens/layouts.json``. After a deliberate profile change, rewrite them with
``VAXCERT_WRITE_GOLDENS=1 pytest tests/signer/test_goldens.py`` (the run then fails on purpose)
and review the diff. Japan's real document is pinned separately, by hand, below.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from signer import shc_issue, vdsnc_issue
from signer.samples import example_content
from vaxcert.contracts.signing import CertificateContent
from vaxcert.formats import shc, vdsnc
from vaxcert.residents import CANARY
from vaxcert.vaccines import VaccineTable

GOLDENS = Path(__file__).parent / "goldens" / "layouts.json"
ISSUER = "https://127.0.0.1:8446/issuer"
NBF = 1_703_030_400  # 2023-12-20T00:00:00Z, fixed so the payload is reproducible
RID = "MKyCxh7p6uQ"


def _with_doses(content: CertificateContent, doses: list[dict[str, Any]]) -> CertificateContent:
    data = json.loads(content.model_dump_json())
    data["doses"] = doses
    return CertificateContent.model_validate_json(json.dumps(data))


def _cases() -> dict[str, CertificateContent]:
    cases: dict[str, CertificateContent] = {}
    for kind in ("domestic", "overseas"):
        for count in range(1, 8):
            cases[f"{kind}-{count}-doses"] = example_content(CANARY, kind, count)  # type: ignore[arg-type]
    overseas = example_content(CANARY, "overseas", 5)
    five = json.loads(overseas.model_dump_json())["doses"]
    # Doses 1-2 were given where the holder lived before: this municipality's certificate lists
    # doses 3-5 only, never renumbered. The input order does not matter (here newest first).
    cases["overseas-doses-3-to-5-after-a-move"] = _with_doses(overseas, five[:1:-1])
    cases["domestic-doses-3-to-5-after-a-move"] = _with_doses(
        example_content(CANARY, "domestic", 5), five[:1:-1]
    )
    # Brands beyond Pfizer and Moderna, including codes older verifiers may not know (500).
    brands = [
        ("2021-05-10", "astrazeneca-vaxzevria", "N040A", 1),
        ("2021-06-07", "astrazeneca-vaxzevria", "N041B", 2),
        ("2022-07-01", "takeda-nuvaxovid-original", "NVX0001", 3),
        ("2022-12-01", "moderna-spikevax-bivalent-ba1", "000400C", 4),
        ("2023-12-15", "daiichisankyo-daichirona-xbb15", "DS0001", 5),
    ]
    cases["overseas-five-brands"] = _with_doses(
        overseas,
        [
            {"date": date, "product": product, "lot": lot, "dose_number": number}
            for date, product, lot, number in brands
        ],
    )
    return cases


def _layout(content: CertificateContent) -> dict[str, Any]:
    table = VaccineTable()
    minified = shc_issue.minified_payload(
        content, table, shc_issue.ShcProfile(iss=ISSUER), NBF, RID
    )
    layout: dict[str, Any] = {"shc_payload": shc.parse_payload(minified)}
    if content.kind == "overseas":
        profile = vdsnc_issue.VdsncProfile()
        data = {
            "hdr": {"t": vdsnc.DOCUMENT_TYPE, "v": 1, "is": profile.issuing_country},
            "msg": vdsnc_issue.message(content, table, profile),
        }
        layout["vdsnc_data"] = json.loads(vdsnc.canonical(data))
    return layout


def test_layouts_equal_the_goldens() -> None:
    layouts = {name: _layout(content) for name, content in _cases().items()}
    if os.environ.get("VAXCERT_WRITE_GOLDENS") == "1":
        GOLDENS.parent.mkdir(exist_ok=True)
        text = json.dumps(layouts, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        GOLDENS.write_text(text, encoding="utf-8")
        pytest.fail("goldens rewritten: review the diff and run again without the variable")
    goldens = json.loads(GOLDENS.read_text(encoding="utf-8"))
    assert sorted(layouts) == sorted(goldens)
    for name, layout in layouts.items():
        assert layout == goldens[name], name


def test_the_goldens_say_what_the_profile_promises() -> None:
    """Reads the goldens as a verifier would, so a rewrite cannot quietly change the profile."""
    goldens = json.loads(GOLDENS.read_text(encoding="utf-8"))
    for name, layout in goldens.items():
        payload = layout["shc_payload"]
        assert payload["vc"]["type"] == [
            "https://smarthealth.cards#health-card",
            "https://smarthealth.cards#immunization",
            "https://smarthealth.cards#covid19",
        ]
        entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        names = entries[0]["resource"]["name"]
        if name.startswith("overseas"):
            assert names == [
                {"family": "SHIKEN", "given": ["HANAKO"]},
                {"family": "試験", "given": ["花子"]},
            ]
        else:
            assert names == [{"family": "試験", "given": ["花子"]}]
        shc_dates = [entry["resource"]["occurrenceDateTime"] for entry in entries[1:]]
        assert shc_dates == sorted(shc_dates) and len(set(shc_dates)) == len(shc_dates)
        for entry in entries[1:]:
            dose = entry["resource"]
            # What a verifier without the CVX code can still show: date, lot and who gave it.
            assert dose["occurrenceDateTime"] and dose["lotNumber"]
            assert dose["performer"] == [{"actor": {"display": "MHLW_Gov_of_JAPAN"}}]
            assert "display" not in dose["vaccineCode"]["coding"][0]  # SHC QR profile
        if "vdsnc_data" not in layout:
            continue
        events = layout["vdsnc_data"]["msg"]["ve"]
        assert [len(event["vd"]) for event in events] == [1] * len(events)
        assert [event["vd"][0]["dvc"] for event in events] == shc_dates
        seqs = [event["vd"][0]["seq"] for event in events]
        assert seqs == sorted(seqs)
        assert seqs[0] == (3 if "after-a-move" in name else 1)


def test_our_vdsnc_has_the_layout_of_japans_real_document() -> None:
    """The same content as a specimen signed by Japan's production BSC (KDE khealthcertificate
    autotests/data/icao/jpn-triple-vaccine.txt; also WHO ddcc-validator ICAOJPQR1Contents.txt)
    gives the same ``data``, except ``pid.ai``, an identifier of Japan's system we do not have."""
    content = CertificateContent.model_validate(
        {
            "kind": "overseas",
            "certificate_id": "6U5RSWMBASG2",
            "issue_date": dt.date(2021, 12, 9),
            "municipality": {"code": "131016", "name_ja": "千代田区"},
            "holder": {
                "name": {"family": "三宅", "given": "翔太"},
                "name_roman": {"family": "MIYAKE", "given": "SHOTA"},
                "birth_date": dt.date(1991, 2, 18),
                "nationality": "JPN",
                "passport_number": "TK0000000",
            },
            "doses": [
                # Given out of order on purpose: the document lists them by date.
                {
                    "date": dt.date(2021, 12, 1),
                    "product": "pfizer-comirnaty-original",
                    "lot": "FE9787",
                    "dose_number": 3,
                },
                {
                    "date": dt.date(2021, 3, 1),
                    "product": "pfizer-comirnaty-original",
                    "lot": "FC9880",
                    "dose_number": 1,
                },
                {
                    "date": dt.date(2021, 3, 23),
                    "product": "pfizer-comirnaty-original",
                    "lot": "FE8206",
                    "dose_number": 2,
                },
            ],
        }
    )
    profile = vdsnc_issue.VdsncProfile()
    data = {
        "hdr": {"t": "icao.vacc", "v": 1, "is": "JPN"},
        "msg": vdsnc_issue.message(content, VaccineTable(), profile),
    }

    def event(dvc: str, lot: str, seq: int) -> dict[str, Any]:
        return {
            "des": "XM0GQ8",
            "dis": "RA01.0",
            "nam": "COMIRNATY",
            "vd": [{"adm": "MHLW_Gov_of_JAPAN", "ctr": "JPN", "dvc": dvc, "lot": lot, "seq": seq}],
        }

    japan = {
        "hdr": {"is": "JPN", "t": "icao.vacc", "v": 1},
        "msg": {
            "pid": {"dob": "1991-02-18", "i": "TK0000000", "n": "MIYAKE SHOTA"},
            "uvci": "6U5RSWMBASG2",
            "ve": [
                event("2021-03-01", "FC9880", 1),
                event("2021-03-23", "FE8206", 2),
                event("2021-12-01", "FE9787", 3),
            ],
        },
    }
    assert vdsnc.canonical(data) == vdsnc.canonical(japan)
