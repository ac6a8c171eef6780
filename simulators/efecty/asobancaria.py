"""Asobancaria 2001 recaudo files: render a day's payments as fixed-width text, and parse one back.

Layout (0-based offsets, gateways.md §3, after the dnetix/asoban Format2001 parser):

    01 file header    nit(2,10) date(12,8) bank(20,3) account(23,17) file date(40,8) time(48,4)
                      modifier(52,1) account type(53,2)
    05 batch header   service code(2,13) batch number(15,4)
    06 detail         reference(2,48) cents(50,14) origin(64,2) channel(66,2) operation id(68,6)
                      authorization(74,6) third entity(80,3) branch(83,4) sequence(87,7) refund reason(94,3)
    08 batch control  record count(2,9) total cents(11,18) batch number(29,4)
    09 file control   record count(2,9) total cents(11,18)

Numeric fields are right-aligned and zero-padded; the rest of each record is spaces.
Usage: ``text = render(RecaudoFile(...)); parsed = parse(text)``.
"""

import zlib
from dataclasses import dataclass
from datetime import date, datetime

DETAIL_LENGTH = 162
ACCEPTED_LENGTHS = (161, 162)
REFERENCE_WIDTH = 48
# Cash at an Efecty counter. Efecty-specific origin codes are not public; "01" is our choice.
ORIGIN_CODE = "01"
CHANNEL_CASH_AT_COUNTER = "01"


@dataclass(frozen=True)
class Detail:
    reference: str
    cents: int
    operation_id: str
    authorization_code: str
    branch: str
    origin: str = ORIGIN_CODE
    channel: str = CHANNEL_CASH_AT_COUNTER
    third_entity: str = "000"
    refund_reason: str = "000"


@dataclass(frozen=True)
class RecaudoFile:
    nit: str
    collected_on: date
    bank_code: str
    account_number: str
    account_type: str
    service_code: str
    generated_at: datetime  # local (Bogota) time of generation
    details: tuple[Detail, ...]
    batch_number: int = 1
    modifier: str = "A"

    @property
    def total_cents(self) -> int:
        return sum(d.cents for d in self.details)


def num(value: int | str, width: int) -> str:
    """Right-aligned, zero-padded; refuses to truncate a number silently."""
    text = str(value)
    if not text.isdigit() or len(text) > width:
        raise ValueError(f"{text!r} does not fit a numeric field of {width}")
    return text.rjust(width, "0")


def reference_field(code: str) -> str:
    # Payment codes may be up to 50 characters but the field holds 48: the rightmost 48 are kept,
    # where a zero-padded numeric reference carries its significant digits.
    return code[-REFERENCE_WIDTH:].rjust(REFERENCE_WIDTH, "0")


def branch_of(point_id: str) -> str:
    """Four-digit branch for a point: its last four digits if numeric, else a stable hash."""
    digits = "".join(ch for ch in point_id if ch.isdigit())
    if digits:
        return digits[-4:].rjust(4, "0")
    return f"{zlib.crc32(point_id.encode()) % 10_000:04d}"


def render(file: RecaudoFile, *, control_length: int = DETAIL_LENGTH) -> str:
    if control_length not in ACCEPTED_LENGTHS:
        raise ValueError("control_length must be 161 or 162")
    count, total = len(file.details), file.total_cents
    header = (
        "01"
        + num(file.nit, 10)
        + file.collected_on.strftime("%Y%m%d")
        + num(file.bank_code, 3)
        + num(file.account_number, 17)
        + file.generated_at.strftime("%Y%m%d")
        + file.generated_at.strftime("%H%M")
        + file.modifier[:1].ljust(1)
        + num(file.account_type, 2)
    )
    lines = [header.ljust(control_length), ("05" + num(file.service_code, 13) + num(file.batch_number, 4))]
    lines[1] = lines[1].ljust(control_length)
    for sequence, d in enumerate(file.details, start=1):
        detail = (
            "06"
            + reference_field(d.reference)
            + num(d.cents, 14)
            + num(d.origin, 2)
            + num(d.channel, 2)
            + num(d.operation_id, 6)
            + num(d.authorization_code, 6)
            + num(d.third_entity, 3)
            + num(d.branch, 4)
            + num(sequence, 7)
            + num(d.refund_reason, 3)
        )
        lines.append(detail.ljust(DETAIL_LENGTH))
    lines.append(("08" + num(count, 9) + num(total, 18) + num(file.batch_number, 4)).ljust(control_length))
    lines.append(("09" + num(count, 9) + num(total, 18)).ljust(control_length))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ParsedDetail:
    reference: str
    cents: int
    origin: str
    channel: str
    operation_id: str
    authorization_code: str
    third_entity: str
    branch: str
    sequence: int
    refund_reason: str


@dataclass(frozen=True)
class ParsedFile:
    nit: str
    collected_on: date
    bank_code: str
    account_number: str
    generated: str
    account_type: str
    service_code: str
    batch_number: int
    details: tuple[ParsedDetail, ...]
    batch_count: int
    batch_total_cents: int
    file_count: int
    file_total_cents: int


def parse(text: str) -> ParsedFile:
    """Parse a single-batch file, checking record lengths, order, counts and totals."""
    lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
    for n, line in enumerate(lines, start=1):
        if len(line) not in ACCEPTED_LENGTHS:
            raise ValueError(f"line {n}: record length {len(line)}, expected 161 or 162")
    types = [line[:2] for line in lines]
    if len(lines) < 4 or types[:2] != ["01", "05"] or types[-2:] != ["08", "09"]:
        raise ValueError(f"expected 01, 05, 06..., 08, 09 records; got {types}")
    if any(t != "06" for t in types[2:-2]):
        raise ValueError("only 06 detail records may sit between the batch header and control")
    head, batch, *body, control, footer = lines
    details = tuple(
        ParsedDetail(
            reference=d[2:50].lstrip("0"),
            cents=int(d[50:64]),
            origin=d[64:66],
            channel=d[66:68],
            operation_id=d[68:74],
            authorization_code=d[74:80],
            third_entity=d[80:83],
            branch=d[83:87],
            sequence=int(d[87:94]),
            refund_reason=d[94:97],
        )
        for d in body
    )
    parsed = ParsedFile(
        nit=head[2:12],
        collected_on=datetime.strptime(head[12:20], "%Y%m%d").date(),
        bank_code=head[20:23],
        account_number=head[23:40],
        generated=head[40:52],
        account_type=head[53:55],
        service_code=batch[2:15],
        batch_number=int(batch[15:19]),
        details=details,
        batch_count=int(control[2:11]),
        batch_total_cents=int(control[11:29]),
        file_count=int(footer[2:11]),
        file_total_cents=int(footer[11:29]),
    )
    total = sum(d.cents for d in details)
    if not parsed.batch_count == parsed.file_count == len(details):
        raise ValueError("record counts in the control records do not match the details")
    if not parsed.batch_total_cents == parsed.file_total_cents == total:
        raise ValueError("totals in the control records do not match the details")
    if int(control[29:33]) != parsed.batch_number:
        raise ValueError("batch control number differs from the batch header")
    return parsed
