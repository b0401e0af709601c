"""Staff CSV import files for tests: a valid line of one resident, and a file of lines."""

from __future__ import annotations

import csv
import io

from vaxcert import mynumber
from vrs_stub import csvio


def my_number(first_eleven: str) -> str:
    """A valid My Number: ``first_eleven`` digits and their check digit."""
    return first_eleven + str(mynumber.check_digit(first_eleven))


def csv_line(**values: str) -> dict[str, str]:
    """One dose line of a valid import file, with ``values`` replaced."""
    row = {
        "address_number": "5000000001",
        "my_number": my_number("30000000001"),
        "family_kanji": "取込",
        "given_kanji": "一子",
        "family_kana": "トリコミ",
        "given_kana": "カズコ",
        "birth_date": "1970-01-01",
        "sex": "2",
        "address": "鹿児島県鹿児島市試験町９－９",
        "classification": "一般",
        "support_measure": "0",
        "dose_number": "1",
        "ticket_number": "1234567890",
        "ticket_issued_on": "2021-05-01",
        "status": "done",
        "vaccinated_on": "2021-06-01",
        "product_key": "pfizer-comirnaty-original",
        "lot_number": "FC9880",
        "place": "鹿児島市集団接種会場",
        "doctor": "見本\u3000医師",
        "adverse_reaction_reported": "0",
    }
    row.update(values)
    return row


def csv_file(lines: list[dict[str, str]]) -> bytes:
    """An import file: the header and ``lines``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csvio.IMPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for line in lines:
        writer.writerow(line)
    return out.getvalue().encode()
