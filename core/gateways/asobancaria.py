"""The core's own parser for Asobancaria 2001 collection files (Efecty's daily reconciliation).

Fixed-width records, 0-based offsets as in gateways.md §3: ``01`` file header, per batch ``05`` header,
``06`` details and ``08`` control, then one ``09`` file control. Lines of 161 or 162 characters are
accepted (common writers pad controls to 161 and details to 162). Amounts are cents → Decimal.
Control records are checked: a batch's count and total must equal its details, and the file
control's count and total must equal all details (the count is of detail records, "registros
recaudados"). Any disagreement raises AsobancariaFormatError naming the line: a reconciliation
built on a file whose own totals do not add up would confirm money that may not exist.

Usage::

    parsed = parse_asobancaria(await efecty.reconciliation_file(day))
    for detail in parsed.details:
        match(detail.user_reference, detail.amount)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.gateways.errors import AsobancariaFormatError
from core.money import from_asobancaria_cents

__all__ = ["AsobancariaFile", "Batch", "Detail", "FileHeader", "parse_asobancaria"]

LINE_LENGTHS = (161, 162)


@dataclass(frozen=True, slots=True)
class FileHeader:
    nit: str
    collection_date: date
    bank_code: str
    account_number: str
    file_date: date
    file_time: str
    file_modifier: str
    account_type: str


@dataclass(frozen=True, slots=True)
class Detail:
    line: int
    user_reference: str
    raw_reference: str
    amount: Decimal
    origin: str
    channel: str
    operation_id: str
    authorization_code: str
    third_entity: str
    branch: str
    sequence: int
    refund_reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    service_code: str
    batch_number: str
    details: tuple[Detail, ...]
    total: Decimal


@dataclass(frozen=True, slots=True)
class AsobancariaFile:
    header: FileHeader
    batches: tuple[Batch, ...]
    record_count: int
    total: Decimal

    @property
    def details(self) -> tuple[Detail, ...]:
        return tuple(d for b in self.batches for d in b.details)


class _Line:
    """One record with 1-based line number, so every error can say where it is."""

    def __init__(self, number: int, text: str) -> None:
        self.number = number
        self.text = text

    def field(self, offset: int, length: int) -> str:
        return self.text[offset : offset + length]

    def digits(self, offset: int, length: int, name: str) -> str:
        value = self.field(offset, length)
        if not (value.isascii() and value.isdigit()):
            raise AsobancariaFormatError(f"{name} must be {length} digits, got {value!r}", line=self.number)
        return value

    def number_at(self, offset: int, length: int, name: str) -> int:
        return int(self.digits(offset, length, name))

    def amount(self, offset: int, length: int, name: str) -> Decimal:
        return from_asobancaria_cents(self.digits(offset, length, name))

    def day(self, offset: int, name: str) -> date:
        text = self.digits(offset, 8, name)
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise AsobancariaFormatError(f"{name} is not a date: {text}", line=self.number) from None


def _normalise_reference(raw: str) -> str:
    # Writers pad the 48-character reference with leading zeros (numeric references) or spaces.
    # A payment code starting with a real "0" would lose it here; the core's codes start with letters.
    stripped = raw.strip(" ")
    return stripped.lstrip("0") or ("0" if stripped else "")


def _header(line: _Line) -> FileHeader:
    return FileHeader(
        nit=line.field(2, 10).strip(),
        collection_date=line.day(12, "collection date"),
        bank_code=line.field(20, 3).strip(),
        account_number=line.field(23, 17).strip().lstrip("0"),
        file_date=line.day(40, "file date"),
        file_time=line.digits(48, 4, "file time"),
        file_modifier=line.field(52, 1),
        account_type=line.field(53, 2),
    )


def _detail(line: _Line) -> Detail:
    raw = line.field(2, 48)
    reference = _normalise_reference(raw)
    if not reference:
        raise AsobancariaFormatError("empty user reference", line=line.number)
    return Detail(
        line=line.number,
        user_reference=reference,
        raw_reference=raw,
        amount=line.amount(50, 14, "amount"),
        origin=line.field(64, 2).strip(),
        channel=line.field(66, 2).strip(),
        operation_id=line.field(68, 6).strip(),
        authorization_code=line.field(74, 6).strip(),
        third_entity=line.field(80, 3).strip(),
        branch=line.field(83, 4).strip(),
        sequence=line.number_at(87, 7, "sequence"),
        refund_reason=line.field(94, 3).strip(),
    )


def _lines(text: str) -> list[_Line]:
    raw = text.splitlines()
    while raw and not raw[-1].strip():
        raw.pop()
    if not raw:
        raise AsobancariaFormatError("empty file")
    lines = [_Line(i, t) for i, t in enumerate(raw, start=1)]
    for line in lines:
        if len(line.text) not in LINE_LENGTHS:
            raise AsobancariaFormatError(f"record length {len(line.text)}, expected 161 or 162", line=line.number)
    return lines


def _close_batch(line: _Line, service: str, number: str, details: list[Detail]) -> Batch:
    control_count = line.number_at(2, 9, "batch record count")
    control_total = line.amount(11, 18, "batch total")
    control_number = line.digits(29, 4, "batch number")
    total = sum((d.amount for d in details), Decimal("0.00"))
    if control_number != number:
        raise AsobancariaFormatError(f"batch control for {control_number} closes batch {number}", line=line.number)
    if control_count != len(details):
        raise AsobancariaFormatError(
            f"batch {number} control counts {control_count} records, found {len(details)}", line=line.number
        )
    if control_total != total:
        raise AsobancariaFormatError(
            f"batch {number} control total {control_total} != sum of details {total}", line=line.number
        )
    return Batch(service_code=service, batch_number=number, details=tuple(details), total=total)


def parse_asobancaria(text: str) -> AsobancariaFile:
    """Parse and cross-check a whole file; raises AsobancariaFormatError on the first inconsistency."""
    lines = _lines(text)
    first, last = lines[0], lines[-1]
    if first.field(0, 2) != "01":
        raise AsobancariaFormatError("file must start with a 01 header", line=first.number)
    if last.field(0, 2) != "09" or len(lines) < 2:
        raise AsobancariaFormatError("file must end with a 09 control", line=last.number)
    header = _header(first)
    batches: list[Batch] = []
    open_batch: tuple[str, str, list[Detail]] | None = None
    for line in lines[1:-1]:
        kind = line.field(0, 2)
        if kind == "05":
            if open_batch is not None:
                raise AsobancariaFormatError("batch opened before the previous one closed", line=line.number)
            open_batch = (line.field(2, 13).strip(), line.digits(15, 4, "batch number"), [])
        elif kind == "06":
            if open_batch is None:
                raise AsobancariaFormatError("detail outside a batch", line=line.number)
            open_batch[2].append(_detail(line))
        elif kind == "08":
            if open_batch is None:
                raise AsobancariaFormatError("batch control without a batch", line=line.number)
            batches.append(_close_batch(line, *open_batch))
            open_batch = None
        else:
            raise AsobancariaFormatError(f"unexpected record type {kind!r}", line=line.number)
    if open_batch is not None:
        raise AsobancariaFormatError("last batch has no 08 control", line=last.number)
    count = last.number_at(2, 9, "file record count")
    total = last.amount(11, 18, "file total")
    details = sum(len(b.details) for b in batches)
    grand = sum((b.total for b in batches), Decimal("0.00"))
    if count != details:
        raise AsobancariaFormatError(f"file control counts {count} records, found {details}", line=last.number)
    if total != grand:
        raise AsobancariaFormatError(f"file control total {total} != sum of batches {grand}", line=last.number)
    return AsobancariaFile(header=header, batches=tuple(batches), record_count=count, total=grand)
