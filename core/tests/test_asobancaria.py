"""The core's Asobancaria 2001 parser: layout offsets, 161/162-char lines, control totals and counts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.gateways.asobancaria import parse_asobancaria
from core.gateways.errors import AsobancariaFormatError


def _pad(text: str, width: int) -> str:
    assert len(text) <= width
    return text.ljust(width)


def header(width: int = 161) -> str:
    return _pad(
        "01" + "9001234567" + "20250131" + "007" + "00000000123456789" + "20250201" + "0630" + "A" + "01", width
    )


def batch(number: str = "0001", service: str = "0000000110634") -> str:
    return _pad("05" + service + number, 161)


def detail(reference: str, cents: int, sequence: int = 1, width: int = 162, pad: str = "0") -> str:
    ref = reference.rjust(48, pad)
    return _pad(
        "06"
        + ref
        + str(cents).zfill(14)
        + "01"
        + "01"
        + "123456"
        + "654321"
        + "000"
        + "0001"
        + str(sequence).zfill(7)
        + "   ",
        width,
    )


def batch_control(count: int, cents: int, number: str = "0001") -> str:
    return _pad("08" + str(count).zfill(9) + str(cents).zfill(18) + number, 161)


def file_control(count: int, cents: int) -> str:
    return _pad("09" + str(count).zfill(9) + str(cents).zfill(18), 161)


def build(*codes_and_cents: tuple[str, int]) -> str:
    lines = [header(), batch()]
    lines += [detail(code, cents, i) for i, (code, cents) in enumerate(codes_and_cents, start=1)]
    total = sum(c for _, c in codes_and_cents)
    lines += [batch_control(len(codes_and_cents), total), file_control(len(codes_and_cents), total)]
    return "\n".join(lines) + "\n"


def test_parses_header_batches_and_details_with_decimal_amounts() -> None:
    parsed = parse_asobancaria(build(("EFE-42-7KQ9", 5_000_000), ("EFE-43-ZZ11", 12_345_67)))
    h = parsed.header
    assert (h.nit, h.collection_date, h.bank_code, h.account_number) == (
        "9001234567",
        date(2025, 1, 31),
        "007",
        "123456789",
    )
    assert (h.file_date, h.file_time, h.file_modifier, h.account_type) == (date(2025, 2, 1), "0630", "A", "01")
    [b] = parsed.batches
    assert (b.service_code, b.batch_number) == ("0000000110634", "0001")
    first, second = parsed.details
    assert first.user_reference == "EFE-42-7KQ9"
    assert first.amount == Decimal("50000.00")
    assert second.amount == Decimal("12345.67")
    assert (first.origin, first.channel, first.operation_id, first.authorization_code) == (
        "01",
        "01",
        "123456",
        "654321",
    )
    assert (first.branch, first.sequence, second.sequence) == ("0001", 1, 2)
    assert parsed.total == Decimal("62345.67") and parsed.record_count == 2


def test_accepts_crlf_162_char_headers_and_space_padded_references() -> None:
    lines = [
        header(162),
        batch(),
        detail("EFE-1-AB", 100000, width=161, pad=" "),
        batch_control(1, 100000),
        file_control(1, 100000),
    ]
    parsed = parse_asobancaria("\r\n".join(lines))
    assert parsed.details[0].user_reference == "EFE-1-AB"
    assert parsed.details[0].raw_reference.strip() == "EFE-1-AB"


def test_numeric_references_lose_only_their_padding_zeros() -> None:
    parsed = parse_asobancaria(build(("1020304050", 100)))
    assert parsed.details[0].user_reference == "1020304050"


def test_several_batches_are_summed_in_the_file_control() -> None:
    lines = [
        header(),
        batch("0001"),
        detail("A-1-X", 100),
        batch_control(1, 100, "0001"),
        batch("0002"),
        detail("A-2-X", 250),
        detail("A-3-X", 50, 2),
        batch_control(2, 300, "0002"),
        file_control(3, 400),
    ]
    parsed = parse_asobancaria("\n".join(lines))
    assert [b.total for b in parsed.batches] == [Decimal("1.00"), Decimal("3.00")]
    assert parsed.total == Decimal("4.00")


def test_an_empty_day_is_valid() -> None:
    parsed = parse_asobancaria("\n".join([header(), batch(), batch_control(0, 0), file_control(0, 0)]))
    assert parsed.details == () and parsed.total == Decimal("0.00")


def _replace(text: str, index: int, line: str) -> str:
    lines = text.splitlines()
    lines[index] = line
    return "\n".join(lines)


GOOD = build(("EFE-42-7KQ9", 5_000_000), ("EFE-43-ZZ11", 1_000_000))


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "empty file", None),
        ("\n\n", "empty file", None),
        (_replace(GOOD, 0, batch()), "start with a 01", 1),
        (GOOD.rstrip("\n").rsplit("\n", 1)[0], "end with a 09", 5),
        (_replace(GOOD, 2, detail("EFE-42-7KQ9", 5_000_000)[:150]), "record length 150", 3),
        (_replace(GOOD, 4, batch_control(3, 6_000_000)), "counts 3 records, found 2", 5),
        (_replace(GOOD, 4, batch_control(2, 6_000_001)), "control total", 5),
        (_replace(GOOD, 4, batch_control(2, 6_000_000, "0002")), "closes batch 0001", 5),
        (_replace(GOOD, 5, file_control(1, 6_000_000)), "file control counts 1", 6),
        (_replace(GOOD, 5, file_control(2, 5_999_999)), "file control total", 6),
        (
            _replace(GOOD, 2, detail("EFE-42-7KQ9", 5_000_000).replace("00000005000000", "0000000500000X")),
            "amount must be 14 digits",
            3,
        ),
        (_replace(GOOD, 2, "07" + detail("X", 1)[2:]), "unexpected record type", 3),
        (_replace(GOOD, 1, detail("EFE-0-A", 1)), "detail outside a batch", 2),
        (_replace(GOOD, 3, batch("0002")), "opened before", 4),
        (_replace(GOOD, 0, header().replace("20250131", "20251331")), "not a date", 1),
        (_replace(GOOD, 2, detail(" ", 5_000_000, pad=" ")), "empty user reference", 3),
    ],
)
def test_inconsistent_files_are_refused_naming_the_line(text: str, message: str, line: int | None) -> None:
    with pytest.raises(AsobancariaFormatError, match=message) as info:
        parse_asobancaria(text)
    assert info.value.line == line


def test_a_batch_left_open_is_refused() -> None:
    lines = [header(), batch(), detail("A-1-X", 100), file_control(1, 100)]
    with pytest.raises(AsobancariaFormatError, match="no 08 control"):
        parse_asobancaria("\n".join(lines))


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Z]{3}-[1-9][0-9]{0,8}-[A-Z0-9]{4}", fullmatch=True),
            st.integers(min_value=1, max_value=10**13),
        ),
        max_size=30,
    )
)
def test_whatever_we_write_we_read_back_exactly(payments: list[tuple[str, int]]) -> None:
    parsed = parse_asobancaria(build(*payments))
    assert [(d.user_reference, d.amount) for d in parsed.details] == [
        (code, Decimal(cents).scaleb(-2)) for code, cents in payments
    ]
    assert parsed.total == Decimal(sum(c for _, c in payments)).scaleb(-2)
