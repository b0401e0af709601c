"""CSV import and export of a municipality's records (municipal staff API).

One line per dose (or per ticket, or one bare line for a person without either); the person's
columns repeat on each of their lines and must agree. Import validates every line and reports
errors by line number and column, never by value; export leaves out the My Number (C18).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from vaxcert import mynumber, vaccines
from vaxcert.spreadsheet import FORMULA_PREFIXES, spreadsheet_safe
from vrs_stub.models import (
    CLASSIFICATIONS,
    MOVE_REASONS,
    SEXES,
    Identity,
    Move,
    PassportData,
    PersonRecord,
    Ticket,
    Vaccination,
)

PERSON_COLUMNS = (
    "address_number",
    "my_number",
    "family_kanji",
    "given_kanji",
    "family_kana",
    "given_kana",
    "birth_date",
    "sex",
    "address",
    "alias_name",
    "classification",
    "support_measure",
    "moves",
    "passport_family_roman",
    "passport_given_roman",
    "passport_nationality",
    "passport_number",
)
DOSE_COLUMNS = (
    "dose_number",
    "ticket_number",
    "ticket_issued_on",
    "status",
    "vaccinated_on",
    "product_key",
    "lot_number",
    "place",
    "doctor",
    "adverse_reaction_reported",
    "note",
)
IMPORT_COLUMNS = PERSON_COLUMNS + DOSE_COLUMNS
# C18: the export has no My Number column; the record id identifies the row instead.
EXPORT_COLUMNS = ("record_id", *(c for c in IMPORT_COLUMNS if c != "my_number"))
MAX_REPORTED_ERRORS = 200

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_ROMAN = re.compile(r"^[A-Z][A-Z '\-]{0,38}$")
_NATIONALITY = re.compile(r"^[A-Z]{3}$")
_PASSPORT_NO = re.compile(r"^[A-Z0-9]{1,11}$")
_LOT = re.compile(r"^[0-9A-Z\-]{1,20}$")
_BOOLS = {"": False, "0": False, "1": True, "false": False, "true": True}


@dataclass(frozen=True)
class LineError:
    """One problem: the line (1 is the header), the column and a problem code (no values)."""

    line: int
    column: str
    problem: str

    def as_json(self) -> dict[str, object]:
        """The error as the API reports it."""
        return {"line": self.line, "column": self.column, "problem": self.problem}


@dataclass
class ParsedRecord:
    """A record built from one or more lines; ``line`` is its first line."""

    record: PersonRecord
    line: int
    person_values: tuple[str, ...]
    dose_lines: dict[int, int] = field(default_factory=dict)


@dataclass
class Parsed:
    """The outcome of parsing: records when there are no errors."""

    records: list[ParsedRecord]
    errors: list[LineError]


_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _text(value: str, limit: int) -> bool:
    # No control or format characters (category C*); U+3000 between names is fine. No value may
    # start like a formula: staff open these files in spreadsheets.
    return (
        0 < len(value) <= limit
        and not value.startswith(FORMULA_PREFIXES)
        and not any(unicodedata.category(ch).startswith("C") for ch in value)
    )


def _is_kana(value: str) -> bool:
    return (
        bool(value)
        and len(value) <= 50
        and all("\u30a0" <= ch <= "\u30ff" or ch in " \u3000" for ch in value)
    )


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _moves(value: str) -> list[Move] | None:
    moves: list[Move] = []
    if not value:
        return moves
    for part in value.split(";"):
        day, _, reason = part.partition(":")
        parsed = _date(day)
        if parsed is None or reason not in MOVE_REASONS:
            return None
        moves.append(Move(parsed, reason))
    return moves


class _Line:
    """Validation of one CSV line, collecting errors."""

    def __init__(self, number: int, values: dict[str, str], errors: list[LineError]) -> None:
        self.number = number
        self.values = values
        self.errors = errors

    def fail(self, column: str, problem: str) -> None:
        self.errors.append(LineError(self.number, column, problem))

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()

    def required(self, column: str, limit: int = 50) -> str:
        value = self.get(column)
        if not value:
            self.fail(column, "required")
        elif not _text(value, limit):
            self.fail(column, "invalid")
        return value

    def boolean(self, column: str) -> bool:
        value = self.get(column).lower()
        if value not in _BOOLS:
            self.fail(column, "invalid")
            return False
        return _BOOLS[value]


def _person(line: _Line, code: str, today: dt.date) -> PersonRecord | None:
    before = len(line.errors)
    address_number = line.get("address_number")
    if not _DIGITS.match(address_number):
        line.fail("address_number", "required" if not address_number else "invalid")
    my_number = line.get("my_number")
    if not my_number:
        line.fail("my_number", "required")
    elif not (my_number.isascii() and mynumber.is_valid(my_number)):
        line.fail("my_number", "invalid_check_digit")
    family_kanji = line.required("family_kanji")
    given_kanji = line.required("given_kanji")
    family_kana, given_kana = line.get("family_kana"), line.get("given_kana")
    for column, value in (("family_kana", family_kana), ("given_kana", given_kana)):
        if not _is_kana(value):
            line.fail(column, "required" if not value else "not_katakana")
    birth = _date(line.get("birth_date"))
    if birth is None or not dt.date(1890, 1, 1) <= birth <= today:
        line.fail("birth_date", "invalid_date")
    sex = line.get("sex")
    if sex not in SEXES:
        line.fail("sex", "invalid")
    address = line.required("address", 200)
    alias = line.get("alias_name")
    if alias and not _text(alias, 50):
        line.fail("alias_name", "invalid")
    classification = line.get("classification") or "一般"
    if classification not in CLASSIFICATIONS:
        line.fail("classification", "invalid")
    support = line.boolean("support_measure")
    moves = _moves(line.get("moves"))
    if moves is None:
        line.fail("moves", "invalid")
    passport_values = [
        line.get(c)
        for c in (
            "passport_family_roman",
            "passport_given_roman",
            "passport_nationality",
            "passport_number",
        )
    ]
    passport = None
    if any(passport_values):
        checks = (
            ("passport_family_roman", _ROMAN),
            ("passport_given_roman", _ROMAN),
            ("passport_nationality", _NATIONALITY),
            ("passport_number", _PASSPORT_NO),
        )
        for (column, pattern), value in zip(checks, passport_values, strict=True):
            if not pattern.match(value):
                line.fail(column, "required" if not value else "invalid")
        passport = PassportData(*passport_values)
    if len(line.errors) > before or birth is None or moves is None:
        return None
    return PersonRecord(
        record_id=secrets.token_hex(8),
        municipality_code=code,
        address_number=address_number,
        identity=Identity(
            my_number=my_number,
            family_kanji=family_kanji,
            given_kanji=given_kanji,
            family_kana=family_kana,
            given_kana=given_kana,
            birth_date=birth,
            sex=sex,
            address=address,
            alias_name=alias or None,
        ),
        classification=classification,
        support_measure=support,
        moves=moves,
        passport=passport,
        passport_source="import",
    )


def _dose(line: _Line) -> tuple[int, Ticket | None, Vaccination | None] | None:
    before = len(line.errors)
    raw = line.get("dose_number")
    dose_fields = [c for c in DOSE_COLUMNS if c != "dose_number" and line.get(c)]
    if not raw:
        if dose_fields:
            line.fail("dose_number", "required")
        return None
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= vaccines.MAX_DOSES):
        line.fail("dose_number", "invalid")
        return None
    number = int(raw)
    ticket = None
    ticket_number = line.get("ticket_number")
    if ticket_number:
        if not _DIGITS.match(ticket_number):
            line.fail("ticket_number", "invalid")
        issued = _date(line.get("ticket_issued_on"))
        if issued is None:
            line.fail("ticket_issued_on", "invalid_date")
        else:
            ticket = Ticket(number, ticket_number, issued)
    elif line.get("ticket_issued_on"):
        line.fail("ticket_number", "required")
    status = line.get("status")
    vaccination = None
    adverse = line.boolean("adverse_reaction_reported")
    place, doctor, note = line.get("place"), line.get("doctor"), line.get("note")
    for column, value, limit in (
        ("place", place, 100),
        ("doctor", doctor, 50),
        ("note", note, 200),
    ):
        if value and not _text(value, limit):
            line.fail(column, "invalid")
    if status == "done":
        day = _date(line.get("vaccinated_on"))
        if day is None or not vaccines.PROGRAMME_START <= day <= vaccines.PROGRAMME_END:
            line.fail("vaccinated_on", "invalid_date")
        key = line.get("product_key")
        product = vaccines.VRS_PRODUCTS.get(key)
        if product is None:
            line.fail("product_key", "unknown_product" if key else "required")
        lot = line.get("lot_number")
        if not _LOT.match(lot):
            line.fail("lot_number", "required" if not lot else "invalid")
        if product is not None and day is not None:
            vaccination = Vaccination(
                dose_number=number,
                status="done",
                vaccinated_on=day,
                product_key=product.key,
                vaccine_type=product.vaccine_type,
                product_name=product.product_name,
                maker=product.maker,
                cvx=product.cvx,
                lot_number=lot,
                place=place or None,
                doctor=doctor or None,
                note=note or None,
                adverse_reaction_reported=adverse,
            )
    elif status == "not_done":
        vaccination = Vaccination(
            dose_number=number,
            status="not_done",
            vaccinated_on=None,
            product_key=None,
            vaccine_type=None,
            product_name=None,
            maker=None,
            cvx=None,
            lot_number=None,
            place=place or None,
            doctor=doctor or None,
            note=note or None,
            adverse_reaction_reported=adverse,
        )
    elif status:
        line.fail("status", "invalid")
    elif not ticket:
        line.fail("status", "required")
    if len(line.errors) > before:
        return None
    return number, ticket, vaccination


def parse(data: bytes, code: str, today: dt.date | None = None) -> Parsed:
    """Parse and validate a whole import file for municipality ``code``."""
    errors: list[LineError] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Parsed([], [LineError(0, "", "not_utf8")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return Parsed([], [LineError(1, "", "empty_file")])
    except csv.Error:
        return Parsed([], [LineError(1, "", "malformed_csv")])
    for column in header:
        if column not in IMPORT_COLUMNS:
            # A file without a header row has data here (a My Number, a birth date): name the
            # column only when it looks like a column name, never echo a value.
            shown = column if _COLUMN_NAME.fullmatch(column) else ""
            errors.append(LineError(1, shown, "unknown_column"))
    for column in IMPORT_COLUMNS:
        if column not in header:
            errors.append(LineError(1, column, "missing_column"))
    if len(set(header)) != len(header):
        errors.append(LineError(1, "", "duplicate_column"))
    if errors:
        return Parsed([], errors)
    today = today or dt.date.today()
    records: dict[str, ParsedRecord] = {}
    owner_of_number: dict[str, str] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            errors.append(LineError(reader.line_num, "", "malformed_csv"))
            break
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors.append(LineError(number, "", "field_count"))
            continue
        line = _Line(number, dict(zip(header, row, strict=True)), errors)
        person_values = tuple(line.get(c) for c in PERSON_COLUMNS)
        address_number = line.get("address_number")
        known = records.get(address_number)
        if known is None:
            record = _person(line, code, today)
            dose = _dose(line)
            if record is None:
                continue
            owner = owner_of_number.setdefault(record.identity.my_number, address_number)
            if owner != address_number:
                line.fail("my_number", "duplicate_in_file")
                continue
            known = ParsedRecord(record, number, person_values)
            records[address_number] = known
        else:
            for column, mine, theirs in zip(
                PERSON_COLUMNS, person_values, known.person_values, strict=True
            ):
                if mine != theirs:
                    line.fail(column, f"differs_from_line_{known.line}")
            dose = _dose(line)
        if dose is None:
            continue
        dose_number, ticket, vaccination = dose
        if dose_number in known.dose_lines:
            line.fail("dose_number", f"duplicate_of_line_{known.dose_lines[dose_number]}")
            continue
        known.dose_lines[dose_number] = number
        if ticket is not None:
            known.record.tickets.append(ticket)
        if vaccination is not None:
            known.record.vaccinations.append(vaccination)
    if errors:
        return Parsed([], sorted(errors, key=lambda e: (e.line, e.column)))
    return Parsed(list(records.values()), [])


def check_against_existing(
    records: Iterable[ParsedRecord],
    existing: dict[str, tuple[str, str]],
    by_address: dict[str, str],
) -> list[LineError]:
    """Address numbers already used by another record of the partition are errors."""
    errors = []
    for parsed in records:
        record = parsed.record
        holder = by_address.get(record.address_number)
        mine = existing.get(record.identity.my_number)
        if holder is not None and (mine is None or mine[0] != holder):
            errors.append(LineError(parsed.line, "address_number", "used_by_another_record"))
    return errors


def export(records: Iterable[PersonRecord]) -> tuple[str, int]:
    """CSV text of ``records`` in the import layout, minus the My Number (C18)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for record in records:
        count += 1
        ident = record.identity
        passport = record.passport
        person = {
            "record_id": record.record_id,
            "address_number": record.address_number,
            "family_kanji": ident.family_kanji,
            "given_kanji": ident.given_kanji,
            "family_kana": ident.family_kana,
            "given_kana": ident.given_kana,
            "birth_date": ident.birth_date.isoformat(),
            "sex": ident.sex,
            "address": ident.address,
            "alias_name": ident.alias_name or "",
            "classification": record.classification,
            "support_measure": "1" if record.support_measure else "0",
            "moves": ";".join(f"{m.moved_on.isoformat()}:{m.reason}" for m in record.moves),
            "passport_family_roman": passport.family_roman if passport else "",
            "passport_given_roman": passport.given_roman if passport else "",
            "passport_nationality": passport.nationality if passport else "",
            "passport_number": passport.number if passport else "",
        }
        tickets = {t.dose_number: t for t in record.tickets}
        doses = {v.dose_number: v for v in record.vaccinations}
        numbers = sorted(set(tickets) | set(doses))
        if not numbers:
            writer.writerow([spreadsheet_safe(person.get(c, "")) for c in EXPORT_COLUMNS])
            continue
        for number in numbers:
            ticket, dose = tickets.get(number), doses.get(number)
            line = dict(person)
            line["dose_number"] = str(number)
            if ticket is not None:
                line["ticket_number"] = ticket.ticket_number
                line["ticket_issued_on"] = ticket.issued_on.isoformat()
            if dose is not None:
                line.update(
                    status=dose.status,
                    vaccinated_on=dose.vaccinated_on.isoformat() if dose.vaccinated_on else "",
                    product_key=dose.product_key or "",
                    lot_number=dose.lot_number or "",
                    place=dose.place or "",
                    doctor=dose.doctor or "",
                    adverse_reaction_reported="1" if dose.adverse_reaction_reported else "0",
                    note=dose.note or "",
                )
            writer.writerow([spreadsheet_safe(line.get(c, "")) for c in EXPORT_COLUMNS])
    return out.getvalue(), count
