"""The seed's findings, each shown on the weak shop and shown fixed on the hardened one.

Every test runs both variants with the same steps; only the expected outcome differs. Ids (S1...) are the
findings in ../findings.toml.
"""

import time

import httpx
import pytest

from examples.seed_shop.tests.conftest import BUYER, card_token
from examples.seed_shop.tests.events import post_all_at_once, wompi_event

BOTH = pytest.mark.parametrize("hardened", [False, True], ids=["weak", "hardened"])


def pay_wompi(shop, wompi_sim, order_id, number="4242424242424242"):
    response = shop.post(f"/api/orders/{order_id}/pay",
                         json={"gateway": "wompi", "card_token": card_token(wompi_sim, number)})
    assert response.status_code == 200, response.text
    return response.json()


# A race shows when it shows: on a loaded machine the first copy can finish its four commits while the others are
# still opening their database connections (the weak shop's pool starts empty), and every later copy then reads its
# event row. The weak shop has the race when any burst shows it; the hardened one must make one row in every burst.
BURSTS = 3


@BOTH
async def test_twenty_concurrent_copies_of_one_approval_make_one_transaction_only_when_hardened(
        start_shop, wompi_sim, hardened):
    """S1, S2, S4: no row lock, an idempotency SELECT before an unguarded INSERT, no unique constraint."""
    shop = start_shop(hardened=hardened)
    wompi_sim.deliveries.target(None)  # only our copies reach the shop
    counts = []
    for _ in range(BURSTS):
        order_id = shop.create_order("65000.00")
        paid = pay_wompi(shop, wompi_sim, order_id)
        body = wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status="APPROVED",
                           amount_in_cents=6_500_000, secret=wompi_sim.config.events_secret)

        statuses = await post_all_at_once(shop.url + "/webhooks/wompi", body, copies=20)

        assert set(statuses) == {200}
        rows = await shop.query("SELECT status FROM order_transactions WHERE order_id = $1", order_id)
        counts.append(len(rows))
        if hardened:
            [order] = await shop.query("SELECT status, amount_paid::text AS paid FROM orders WHERE id = $1", order_id)
            assert (order["status"], order["paid"]) == ("PAID", "65000.00")
        elif len(rows) > 1:
            break
    if hardened:
        assert counts == [1] * BURSTS
    else:
        assert counts[-1] > 1, f"the race did not show in {BURSTS} bursts: every copy but one saw the first one's row"


@BOTH
def test_a_total_a_float_cannot_hold_loses_a_cent_at_wompi_only_in_the_weak_shop(start_shop, wompi_sim, hardened):
    """S3: int(1234567.89 * 100) is 123456788: the weak shop charges a cent less, and records what Wompi
    approved as 123456788 * 0.01."""
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("1234567.89")
    paid = pay_wompi(shop, wompi_sim, order_id)

    charged = wompi_sim.journal.assert_one("CREATE_TRANSACTION", reference=paid["reference"])["summary"]
    wompi_sim.clock.advance(5)
    wompi_sim.deliveries.wait(url=shop.url + "/webhooks/wompi", outcome="delivered")
    [order] = shop.rows("SELECT amount_paid::text AS paid FROM orders WHERE id = $1", order_id)

    if hardened:
        assert (charged["amount_in_cents"], order["paid"]) == (123456789, "1234567.89")
    else:
        assert (charged["amount_in_cents"], order["paid"]) == (123456788, "1234567.8800000001")


@BOTH
def test_an_exact_approval_is_recorded_off_by_a_float_error_only_in_the_weak_shop(start_shop, wompi_sim, hardened):
    """S3 as payharness measures it: the approval carries the right cents, the weak shop multiplies by 0.01."""
    shop = start_shop(hardened=hardened)
    wompi_sim.deliveries.target(None)
    recorded = {}
    for total, cents in (("1234567.89", 123456789), ("20000.01", 2000001), ("1000.10", 100010)):
        order_id = shop.create_order(total)
        paid = pay_wompi(shop, wompi_sim, order_id)
        approval = wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status="APPROVED",
                               amount_in_cents=cents, secret=wompi_sim.config.events_secret)
        assert shop.post("/webhooks/wompi", content=approval, headers={"content-type": "application/json"}).is_success
        [order] = shop.rows("SELECT amount_paid::text AS paid FROM orders WHERE id = $1", order_id)
        recorded[total] = order["paid"]

    if hardened:
        assert recorded == {"1234567.89": "1234567.89", "20000.01": "20000.01", "1000.10": "1000.10"}
    else:
        assert recorded == {"1234567.89": "1234567.8900000001", "20000.01": "20000.010000000002", "1000.10": "1000.1"}


@BOTH
def test_an_unsigned_event_pays_the_weak_shop_run_without_its_events_secret(start_shop, wompi_sim, hardened):
    """S8: without WOMPI_EVENTS_SECRET the weak shop skips verification; the hardened one will not even start
    without it, so it runs with its secret and refuses the event."""
    shop = start_shop(hardened=hardened, wompi_events_secret="" if not hardened else wompi_sim.config.events_secret)
    wompi_sim.deliveries.target(None)
    order_id = shop.create_order("65000.00")
    paid = pay_wompi(shop, wompi_sim, order_id, number="4111111111111111")  # a card Wompi declines
    forged = wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status="APPROVED",
                         amount_in_cents=6_500_000, secret="not-the-secret")

    answer = shop.post("/webhooks/wompi", content=forged, headers={"content-type": "application/json"})

    [order] = shop.rows("SELECT status FROM orders WHERE id = $1", order_id)
    if hardened:
        assert (answer.status_code, answer.json()["error"]["code"], order["status"]) == (
            401, "unauthenticated", "PENDING")
    else:
        assert (answer.status_code, order["status"]) == (200, "PAID")


@BOTH
def test_a_forged_event_is_answered_200_by_the_weak_shop_even_with_its_secret(start_shop, wompi_sim, hardened):
    """S17: the seed counts "always returns 200" as a strength; a forger learns nothing, but neither does anyone
    watching the gateway's delivery log, and the seed's own recommendation is a 401."""
    shop = start_shop(hardened=hardened)
    wompi_sim.deliveries.target(None)
    order_id = shop.create_order("65000.00")
    paid = pay_wompi(shop, wompi_sim, order_id)
    forged = wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status="APPROVED",
                         amount_in_cents=6_500_000, secret="not-the-secret")

    answer = shop.post("/webhooks/wompi", content=forged, headers={"content-type": "application/json"})

    [order] = shop.rows("SELECT status FROM orders WHERE id = $1", order_id)
    assert order["status"] == "PENDING"  # with its secret, even the weak shop does not apply it
    assert answer.status_code == (401 if hardened else 200)


@BOTH
def test_an_approval_for_less_than_the_total_pays_only_the_weak_shop(start_shop, wompi_sim, hardened):
    """The weak shop never compares the approved amount with the order total."""
    shop = start_shop(hardened=hardened)
    wompi_sim.deliveries.target(None)
    order_id = shop.create_order("65000.00")
    paid = pay_wompi(shop, wompi_sim, order_id)
    cheap = wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status="APPROVED",
                        amount_in_cents=100, secret=wompi_sim.config.events_secret)

    assert shop.post("/webhooks/wompi", content=cheap, headers={"content-type": "application/json"}).is_success

    [order] = shop.rows("SELECT status FROM orders WHERE id = $1", order_id)
    assert order["status"] == ("PENDING" if hardened else "PAID")


@BOTH
def test_nonsense_totals_are_refused_with_a_json_code_only_by_the_hardened_shop(start_shop, hardened):
    """S11, S20: the weak shop takes a float of any sign and size (1e400 is stored as Infinity)."""
    shop = start_shop(hardened=hardened)
    answers = {total: shop.post("/api/orders", json={"total": total, "currency": "COP"})
               for total in ("-5000", "0", "1e400", "abc")}
    totals = [r["total"] for r in shop.rows("SELECT total::text AS total FROM orders ORDER BY id")]

    if hardened:
        assert {t: a.status_code for t, a in answers.items()} == {"-5000": 422, "0": 422, "1e400": 422, "abc": 422}
        assert {a.json()["error"]["code"] for a in answers.values()} == {"validation_error"}
        assert totals == []
    else:
        assert {t: a.status_code for t, a in answers.items()} == {"-5000": 201, "0": 201, "1e400": 201, "abc": 422}
        assert totals == ["-5000", "0", "Infinity"]


@BOTH
def test_a_malformed_request_gets_a_traceback_from_the_weak_shop_and_a_json_code_from_the_hardened(
        start_shop, hardened):
    """S13: an error the weak shop did not expect answers 500 with its traceback (debug on); the hardened
    shop answers every error as ``{"error": {"code", "message"}}``."""
    shop = start_shop(hardened=hardened)
    answer = shop.post("/api/orders", content=b"{not json", headers={**BUYER, "content-type": "application/json"})

    if hardened:
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "bad_request")
        assert "Traceback" not in answer.text
    else:
        assert answer.status_code == 500 and "Traceback" in answer.text and "JSONDecodeError" in answer.text


@BOTH
def test_forty_card_attempts_in_a_few_seconds_meet_a_429_only_in_the_hardened_shop(start_shop, hardened):
    """S9: card testing. A token Wompi does not know fails at the gateway, cheaply, as card testers' do."""
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("65000.00")
    statuses = [shop.post(f"/api/orders/{order_id}/pay", json={"gateway": "wompi", "card_token": "tok_stolen"}
                          ).status_code for _ in range(40)]

    if hardened:
        assert statuses.count(429) == 20 and set(statuses[:20]) == {502}
    else:
        assert set(statuses) == {500}


@BOTH
def test_a_webhook_body_over_one_mebibyte_is_stored_by_the_weak_shop_and_refused_413_by_the_hardened(
        start_shop, wompi_sim, hardened):
    """S10: the raw body goes into a TEXT column, whatever its size (here padding in an unsigned field)."""
    shop = start_shop(hardened=hardened)
    wompi_sim.deliveries.target(None)
    order_id = shop.create_order("65000.00")
    paid = pay_wompi(shop, wompi_sim, order_id)
    big = wompi_event(tx_id=paid["transaction_id"], reference=paid["reference"], status="APPROVED",
                      amount_in_cents=6_500_000, secret=wompi_sim.config.events_secret, note="x" * 1_200_000)

    answer = shop.post("/webhooks/wompi", content=big, headers={"content-type": "application/json"})

    stored = shop.rows("SELECT length(payload) AS n FROM webhook_events")
    if hardened:
        assert (answer.status_code, answer.json()["error"]["code"], stored) == (413, "payload_too_large", [])
    else:
        assert answer.status_code == 200 and [r["n"] for r in stored] == [len(big)]


@BOTH
def test_a_paid_order_is_charged_again_only_by_the_weak_shop(start_shop, wompi_sim, hardened):
    """S12: the seed's shop checks the buyer but not the order's status."""
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("65000.00")
    first = pay_wompi(shop, wompi_sim, order_id)
    wompi_sim.clock.advance(5)
    wompi_sim.deliveries.wait(url=shop.url + "/webhooks/wompi", outcome="delivered")

    again = shop.post(f"/api/orders/{order_id}/pay", json={"gateway": "wompi", "card_token": card_token(wompi_sim)})

    charges = wompi_sim.journal.calls("CREATE_TRANSACTION")
    assert first["reference"] in {c["summary"]["reference"] for c in charges}
    if hardened:
        assert (again.status_code, again.json()["error"]["code"], len(charges)) == (409, "conflict", 1)
    else:
        assert (again.status_code, len(charges)) == (200, 2)


@BOTH
def test_another_buyer_can_neither_pay_nor_read_the_order_in_either_shop(start_shop, wompi_sim, hardened):
    """The buyer check the seed says its shop has (S12 is the status check next to it)."""
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("65000.00")
    other = {"Authorization": "Bearer other-token"}

    pay = shop.post(f"/api/orders/{order_id}/pay", headers=other,
                    json={"gateway": "wompi", "card_token": card_token(wompi_sim)})
    read = httpx.get(f"{shop.url}/api/orders/{order_id}", headers=other)

    assert (pay.status_code, read.status_code) == (403, 404)
    assert httpx.get(f"{shop.url}/api/orders/{order_id}", headers=BUYER).status_code == 200
    wompi_sim.journal.assert_count(0, "CREATE_TRANSACTION")


@BOTH
def test_efecty_codes_follow_the_seeds_format_and_only_the_hardened_schema_makes_them_unique(
        start_shop, efecty_sim, hardened):
    """S5: PREFIX-ORDERID-RANDOM from ``secrets``; nothing in the weak schema stops a repeat."""
    shop = start_shop(hardened=hardened)
    order_id = shop.create_order("65000.00")

    answer = shop.post(f"/api/orders/{order_id}/pay", json={"gateway": "efecty"})

    assert answer.status_code == 200, answer.text
    code = answer.json()["payment_code"]
    prefix, order, suffix = code.split("-")
    assert (prefix, order, len(suffix), suffix.isalnum(), suffix.isupper() or suffix.isdigit()) == (
        "MST", str(order_id), 6, True, True)
    voucher = httpx.get(f"{efecty_sim.url}/api/v1/vouchers/{code}",
                        headers={"Authorization": f"Bearer {efecty_sim.config.merchant_api_key}"})
    assert (voucher.json()["voucher"]["status"], voucher.json()["voucher"]["amount"]) == ("PENDING", "65000.00")
    repeat = ("INSERT INTO order_transactions (order_id, gateway, gateway_reference, amount, status) "
              "VALUES ($1, 'efecty', $2, 65000, 'PENDING')")
    if hardened:
        with pytest.raises(Exception, match="uq_efecty_payment_code"):
            shop.rows(repeat, order_id, code)
    else:
        shop.rows(repeat, order_id, code)
        [n] = shop.rows("SELECT count(*) AS n FROM order_transactions WHERE gateway_reference = $1", code)
        assert n["n"] == 2


@BOTH
def test_cash_paid_at_an_efecty_counter_pays_the_order_only_in_the_hardened_shop(start_shop, efecty_sim, hardened):
    """S15: the seed's shop confirms Efecty payments by hand; the hardened one reads its vouchers back."""
    shop = start_shop(hardened=hardened, efecty_reconcile_seconds=0.2)
    order_id = shop.create_order("65000.00")
    code = shop.post(f"/api/orders/{order_id}/pay", json={"gateway": "efecty"}).json()["payment_code"]

    httpx.post(f"{efecty_sim.url}/__admin/vouchers/{code}/pay", json={}).raise_for_status()

    deadline = time.monotonic() + 3  # fifteen rounds of the hardened shop's reconciliation
    while True:
        [order] = shop.rows("SELECT status, amount_paid::text AS paid FROM orders WHERE id = $1", order_id)
        if order["status"] == "PAID" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [txn] = shop.rows("SELECT status FROM order_transactions WHERE gateway_reference = $1", code)
    if hardened:
        assert (order["status"], order["paid"], txn["status"]) == ("PAID", "65000.00", "APPROVED")
    else:
        assert (order["status"], order["paid"], txn["status"]) == ("PENDING", "0", "PENDING")
