"""Contract tests for Efecty reconciliation: the JSON feed and the Asobancaria 2001 file."""

from datetime import UTC, date, datetime, timedelta

import pytest

from simulators.efecty import EfectyConfig
from simulators.efecty.asobancaria import Detail, RecaudoFile, branch_of, parse, reference_field, render
from simulators.tests._efecty import CONFIG, efecty, pay, voucher

# 2026-03-10 23:30 in Bogota is 2026-03-11 04:30 UTC: the day is Bogota's, not UTC's.
LATE_EVENING_UTC = datetime(2026, 3, 11, 4, 30, tzinfo=UTC)


async def _pay_several(client) -> None:
    for code, amount in [("1001", "65000.00"), ("1002", "1000.00"), ("1003", "250000.50")]:
        await client.post("/api/v1/vouchers", json=voucher(code, amount))
        assert (await pay(client, code, amount, point_id=f"PT-{code}")).status_code == 201


def _today_in_bogota(app) -> str:
    return (app.state.sim.clock.now() - timedelta(hours=5)).date().isoformat()


async def test_json_feed_lists_the_days_payments_and_total() -> None:
    async with efecty() as (app, client):
        await _pay_several(client)
        feed = (await client.get(f"/api/v1/reconciliation/{_today_in_bogota(app)}")).json()
        assert feed["convenio"] == "110634"
        assert [p["payment_code"] for p in feed["payments"]] == ["1001", "1002", "1003"]
        assert feed["total"] == "316000.50"
        assert (await client.get("/api/v1/reconciliation/2001-01-01")).json()["payments"] == []
        assert (await client.get("/api/v1/reconciliation/2026-13-01")).status_code == 422
        assert (await client.get("/api/v1/reconciliation/20260101")).status_code == 422


async def test_asobancaria_file_parses_back_with_counts_totals_and_fields() -> None:
    async with efecty() as (app, client):
        await _pay_several(client)
        day = _today_in_bogota(app)
        response = await client.get(f"/api/v1/reconciliation/{day}/asobancaria")
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        lines = text.splitlines()
        assert [line[:2] for line in lines] == ["01", "05", "06", "06", "06", "08", "09"]
        assert {len(line) for line in lines} == {162}
        parsed = parse(text)
        assert parsed.collected_on == date.fromisoformat(day)
        assert parsed.nit == "9001234567" and parsed.account_number == "00000000000110634"
        assert parsed.service_code == "0000000110634" and parsed.account_type == "01"
        assert [d.reference for d in parsed.details] == ["1001", "1002", "1003"]
        assert [d.cents for d in parsed.details] == [6_500_000, 100_000, 25_000_050]
        assert parsed.batch_total_cents == parsed.file_total_cents == 31_600_050
        assert parsed.batch_count == parsed.file_count == 3
        assert [d.sequence for d in parsed.details] == [1, 2, 3]
        assert [d.branch for d in parsed.details] == ["1001", "1002", "1003"]
        assert {(d.origin, d.channel) for d in parsed.details} == {("01", "01")}
        feed = (await client.get(f"/api/v1/reconciliation/{day}")).json()
        assert [d.authorization_code for d in parsed.details] == [p["authorization_code"] for p in feed["payments"]]
        assert [d.operation_id for d in parsed.details] == [p["operation_id"] for p in feed["payments"]]


def test_detail_record_fields_sit_at_the_documented_offsets() -> None:
    file = RecaudoFile(
        nit="9001234567",
        collected_on=date(2026, 3, 10),
        bank_code="7",
        account_number="110634",
        account_type="2",
        service_code="110634",
        generated_at=datetime(2026, 3, 11, 6, 5),
        details=(Detail("123456789", 6_500_000, "42", "885440", "0042"),),
    )
    head, batch, detail, control, footer = render(file).splitlines()
    assert head[0:2] == "01" and head[2:12] == "9001234567" and head[12:20] == "20260310"
    assert head[20:23] == "007" and head[23:40] == "0" * 11 + "110634"
    assert head[40:48] == "20260311" and head[48:52] == "0605" and head[52] == "A" and head[53:55] == "02"
    assert batch[2:15] == "0000000110634" and batch[15:19] == "0001"
    assert detail[2:50] == "0" * 39 + "123456789"
    assert detail[50:64] == "00000006500000"
    assert detail[64:66] == "01" and detail[66:68] == "01"
    assert detail[68:74] == "000042" and detail[74:80] == "885440"
    assert detail[80:83] == "000" and detail[83:87] == "0042" and detail[87:94] == "0000001"
    assert detail[94:97] == "000" and detail[97:] == " " * 65
    assert control[2:11] == "000000001" and control[11:29] == "0" * 11 + "6500000" and control[29:33] == "0001"
    assert footer[2:11] == "000000001" and footer[11:29] == "0" * 11 + "6500000"


def test_control_records_can_be_161_long_and_the_parser_accepts_both() -> None:
    file = RecaudoFile("1", date(2026, 1, 2), "0", "1", "01", "1", datetime(2026, 1, 3), ())
    short = render(file, control_length=161)
    assert [len(line) for line in short.splitlines()] == [161, 161, 161, 161]
    assert parse(short).file_count == 0
    mixed = render(file).splitlines()
    mixed[0] = mixed[0][:161]
    assert parse("\r\n".join(mixed)).batch_total_cents == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda lines: [*lines[:2], lines[2][:100], *lines[3:]], "record length"),
        (lambda lines: [lines[1], lines[0], *lines[2:]], "expected 01, 05"),
        (lambda lines: [*lines[:-1], "09" + "000000009" + lines[-1][11:]], "record counts"),
        (lambda lines: [*lines[:-2], lines[-2][:11] + "1".rjust(18, "0") + lines[-2][29:], lines[-1]], "totals"),
    ],
)
def test_parser_rejects_broken_files(mutate, message) -> None:
    file = RecaudoFile(
        "1", date(2026, 1, 2), "0", "1", "01", "1", datetime(2026, 1, 3), (Detail("9", 100, "1", "1", "1"),)
    )
    lines = render(file).splitlines()
    with pytest.raises(ValueError, match=message):
        parse("\n".join(mutate(lines)))


def test_reference_and_branch_rules() -> None:
    assert reference_field("ABC-12") == "0" * 42 + "ABC-12"
    assert reference_field("9" * 50) == "9" * 48
    assert branch_of("PT-0042") == "0042" and branch_of("12345") == "2345"
    assert branch_of("NORTE") == branch_of("NORTE") and branch_of("NORTE").isdigit()


async def test_day_is_bogota_local_and_injected_lines_appear_in_the_file() -> None:
    async with efecty() as (_, client):
        await client.post("/api/v1/vouchers", json=voucher("K1", "20000.00"))
        injected = [
            {"payment_code": "NEVER-REGISTERED", "amount": "15000.00", "paid_at": LATE_EVENING_UTC.isoformat()},
            {"payment_code": "K1", "amount": "19000.00", "paid_at": "2026-03-10T15:00:00Z", "point_id": "PT-9"},
            {"payment_code": "K2", "amount": "5000.00", "paid_at": "2026-03-11T05:00:00Z"},
        ]
        for line in injected:
            assert (await client.post("/__admin/reconciliation/inject", json=line)).status_code == 201
        feed = (await client.get("/api/v1/reconciliation/2026-03-10")).json()
        assert [p["payment_code"] for p in feed["payments"]] == ["K1", "NEVER-REGISTERED"]
        assert feed["total"] == "34000.00"
        parsed = parse((await client.get("/api/v1/reconciliation/2026-03-10/asobancaria")).text)
        assert [(d.reference, d.cents) for d in parsed.details] == [("K1", 1_900_000), ("NEVER-REGISTERED", 1_500_000)]
        bad = await client.post("/__admin/reconciliation/inject", json={"payment_code": "X", "amount": 1.5})
        assert bad.status_code == 422
        # Injected lines never touch vouchers: K1 is still payable at its real amount.
        assert (await pay(client, "K1", "20000.00")).status_code == 201


async def test_configured_header_data_lands_in_the_file() -> None:
    config = EfectyConfig(merchant_nit="8001112223", convenio="110633", bank_code="51", control_record_length=161)
    async with efecty(config) as (app, client):
        text = (await client.get(f"/api/v1/reconciliation/{_today_in_bogota(app)}/asobancaria")).text
    parsed = parse(text)
    assert (parsed.nit, parsed.bank_code, parsed.service_code) == ("8001112223", "051", "0000000110633")
    assert {len(line) for line in text.splitlines()} == {161}
    assert CONFIG.control_record_length == 162
