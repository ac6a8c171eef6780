"""The preflight against a live throwaway shop: a good profile passes; each broken field stops it in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.postgres import PostgresHandle
from harness.stack import free_port
from harness.target.preflight import PreflightFailed, check_profile

TINY = Path(__file__).with_name("tiny_shop.toml")
Check = Callable[[Callable[[str], str]], list[str]]


@pytest.fixture
def check(postgres: PostgresHandle, tmp_path: Path) -> Check:
    """Write the tiny shop's profile, edited, beside the test and run the preflight on it."""

    def run(edit: Callable[[str], str]) -> list[str]:
        path = tmp_path / "tiny_shop.toml"
        path.write_text(edit(TINY.read_text()))
        return check_profile(path, postgres=postgres, log_dir=tmp_path / "logs")

    return run


def test_a_service_that_exits_before_it_is_ready_gets_one_more_start_on_a_new_port(
    check: Check, tmp_path: Path
) -> None:
    """Its picked port may have been taken before it bound it; the second start passes (without the retry the
    preflight fails with 'exited with 1 before /health answered' — tried)."""
    marker = tmp_path / "started-once"
    check(lambda t: t.replace("env = { DATABASE_URL", f'env = {{ TINY_BROKEN = "once:{marker}", DATABASE_URL'))
    assert marker.exists()


def test_a_good_profile_passes_every_check(check: Check) -> None:
    done = check(lambda text: text)
    assert "order_status of a new order: pending" in done
    assert "amount_paid of a new order: 0.00" in done
    assert any(line.startswith("pay.wompi answers a reference (TINY-") for line in done), done


def _login(text: str, path: str = "$.session.token") -> str:
    users = ('users = { buyer = { Authorization = "Bearer buyer-token" }, '
             'other = { Authorization = "Bearer other-token" } }')
    assert users in text
    return text.replace(users, 'users = { buyer = { Authorization = "Bearer {buyer_token}" } }\n'
                               f'login = {{ buyer_token = {{ path = "/api/login", json = {{ user = "buyer" }}, '
                               f'value = "{path}" }} }}')


def test_a_login_request_gives_the_token_the_headers_carry(check: Check) -> None:
    done = check(_login)
    assert any(line.startswith("create_order answers an id") for line in done), done


def test_a_login_answer_without_the_token_names_the_field(check: Check) -> None:
    with pytest.raises(PreflightFailed, match=r"^tiny_shop.toml: auth.login.buyer_token.value: \$.session.jwt: not"):
        check(lambda text: _login(text, "$.session.jwt"))


def test_a_login_the_service_refuses_names_the_field(check: Check) -> None:
    def unknown_user(text: str) -> str:
        return _login(text).replace('json = { user = "buyer" }', 'json = { user = "nobody" }')

    with pytest.raises(PreflightFailed,
                       match=r"^tiny_shop.toml: auth.login.buyer_token: POST /api/login answered 401$"):
        check(unknown_user)


def test_observations_may_be_http_reads_instead_of_sql(check: Check) -> None:
    done = check(lambda text: text.replace(
        'order_status = "SELECT status FROM orders WHERE id = :order_id"',
        'order_status = { path = "/api/orders/{order_id}", value = "$.status" }').replace(
        'amount_paid = "SELECT amount_paid::text FROM orders WHERE id = :order_id"',
        'amount_paid = { path = "/api/orders/{order_id}", value = "$.amount_paid" }'))
    assert "order_status of a new order: pending" in done and "amount_paid of a new order: 0.00" in done, done


@pytest.mark.parametrize(("old", "new", "line"), [
    ("amount_paid::text FROM", "amount_payed::text FROM",
     'tiny_shop.toml: observe.amount_paid: column "amount_payed" does not exist'),
    ("SELECT status FROM orders WHERE id = :order_id", "SELECT status FROM orders WHERE id = :order_id AND false",
     "tiny_shop.toml: observe.order_status: returned no row for {'order_id': "),
    ('reference = "$.reference"', 'reference = "$.payment.reference"',
     "tiny_shop.toml: api.pay.wompi.reference: $.payment.reference: not in the answer"),
    ('order_status = "SELECT status FROM orders WHERE id = :order_id"',
     'order_status = { path = "/api/orders/{order_id}", value = "$.state" }',
     "tiny_shop.toml: observe.order_status: $.state: not in the answer"),
    ('order_id = "$.id"', 'order_id = "$.order.id"',
     "tiny_shop.toml: api.create_order.order_id: $.order.id: not in the answer"),
    ('wompi = "/webhooks/wompi"', 'wompi = "/webhooks/wompy"',
     "tiny_shop.toml: webhooks.wompi: POST /webhooks/wompy answered 404 (no such route)"),
    ('paid = ["PAID"]\npending = ["PENDING"]', 'paid = ["PAID"]\npending = ["OPEN"]',
     "tiny_shop.toml: observe.status_map: 'PENDING', a new order's status, is in none of paid, pending, failed"),
    ('ready_path = "/health"', 'ready_path = "/healthz"\nready_timeout = 3',
     "tiny_shop.toml: service.ready_path: GET /healthz not 2xx after 3 s (answered 404"),
    ('ready_path = "/health"',
     'ready_path = "/health"\nsetup = [["{python}", "-c", "import sys; sys.exit(\'no schema\')"]]',
     "tiny_shop.toml: service.setup[0]: exited with 1: no schema"),
    ("[auth]", '[auth]\nrun = { token = ["{python}", "-c", "pass"] }',
     "tiny_shop.toml: auth.run.token: printed nothing"),
    ('env = { DATABASE_URL', 'env = { TINY_BROKEN = "start", DATABASE_URL',
     "tiny_shop.toml: service.command: exited with 3 before /health answered"),
    ('command = ["{python}", "-m"', 'command = ["/nonexistent/shop", "{python}", "-m"',
     "tiny_shop.toml: service.command: No such file or directory: /nonexistent/shop"),
    # A query that does not parse, or answers nothing a run can read.
    ("SELECT status FROM orders WHERE id = :order_id", "SELEC status FROM orders WHERE id = :order_id",
     'tiny_shop.toml: observe.order_status: syntax error at or near "SELEC"'),
    ("RESTART IDENTITY CASCADE", "RESTART IDENTITY CASCADE;;; TRUNCATE",
     "tiny_shop.toml: database.reset[0]: syntax error at end of input"),
    ("SELECT status FROM orders WHERE id = :order_id", "SELECT NULL::text FROM orders WHERE id = :order_id",
     "tiny_shop.toml: observe.order_status: returned NULL for {'order_id': "),
    ('order_count = "SELECT count(*) FROM orders"', "order_count = \"SELECT 'many' FROM orders LIMIT 1\"",
     "tiny_shop.toml: observe.order_count: not a count: 'many'"),
    ('webhook_events = "SELECT count(*) FROM webhook_logs WHERE event_id = :event_id"',
     "webhook_events = \"SELECT 'x' WHERE :event_id::text IS NOT NULL\"",
     "tiny_shop.toml: observe.webhook_events: not a count: 'x'"),
    ("amount_paid::text FROM", "'lots'::text FROM",
     "tiny_shop.toml: observe.amount_paid: not a number: 'lots'"),
    # A JSON path that finds an object or a list where an id is wanted.
    ('order_id = "$.id"', 'order_id = "$"', "tiny_shop.toml: api.create_order.order_id: $: an object in the answer"),
    # A request the service does not know.
    ('path = "/api/orders"\n', 'path = "/api/order"\n',
     "tiny_shop.toml: api.create_order: POST /api/order answered 404"),
    ('path = "/api/orders/{order_id}/pay"', 'path = "/api/orders/{order_id}/payment"',
     "tiny_shop.toml: api.pay.wompi: POST /api/orders/{order_id}/payment answered 404"),
    # A database that refuses connections (the profile's own url wins over the run's fresh database).
    ("[database]", '[database]\nurl = "postgresql://127.0.0.1:1/none"',
     "tiny_shop.toml: database.reset: cannot connect to the database:"),
])
def test_a_broken_field_stops_the_preflight_in_one_line_naming_it(check: Check, old: str, new: str,
                                                                   line: str) -> None:
    """Each case is the good profile with one piece of text replaced."""
    with pytest.raises(PreflightFailed) as caught:
        check(lambda text: text.replace(old, new))
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(line), str(caught.value)


EVIDENCE = ('\n[evidence]\nevent_transaction = "SELECT p.gateway_transaction_id FROM webhook_logs e '
            'LEFT JOIN payments p ON p.gateway_transaction_id = e.event_id '
            'WHERE e.event_id = :gateway_id"\n[evidence.efecty_code]\n'
            'column = "payments.reference"\n'
            'repeat = "UPDATE payments SET reference = :taken WHERE reference = :own"\n')


def test_the_evidence_fields_are_checked_by_the_database(check: Check) -> None:
    done = check(lambda text: text + EVIDENCE)
    assert "evidence.event_transaction of an unknown transaction: 0 events" in done
    assert "evidence.efecty_code: public.payments.reference exists, the repeat statement prepares" in done


@pytest.mark.parametrize(("old", "new", "line"), [
    ("LEFT JOIN payments p", "LEFT JOIN paymentz p", 'tiny_shop.toml: evidence.event_transaction: relation "paymentz"'),
    ('"payments.reference"', '"payments.code"', "tiny_shop.toml: evidence.efecty_code.column: table public.payments "
                                                "has no column code"),
    ('"payments.reference"', '"vouchers.code"', "tiny_shop.toml: evidence.efecty_code.column: no table vouchers"),
    ("SET reference = :taken", "SET referense = :taken",
     'tiny_shop.toml: evidence.efecty_code.repeat: column "referense" of relation "payments" does not exist'),
])
def test_a_broken_evidence_field_stops_the_preflight_in_one_line_naming_it(check: Check, old: str, new: str,
                                                                          line: str) -> None:
    with pytest.raises(PreflightFailed) as caught:
        check(lambda text: text + EVIDENCE.replace(old, new))
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(line), str(caught.value)


def test_a_base_url_that_refuses_connections_is_named(check: Check) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # free now: nothing listens, the connection is refused

    def running(text: str) -> str:
        text = text.replace('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", "{port}"]',
                            f'base_url = "{url}"')
        text = text.replace('"{wompi_card_token}"', '"tok_test"')  # no simulator is started for a running service
        return text.replace("[database]", '[database]\nurl = "postgresql://127.0.0.1:1/none"')

    with pytest.raises(PreflightFailed, match=rf"^tiny_shop.toml: service.base_url: {url}: ConnectError"):
        check(running)


def test_an_unexpected_failure_inside_a_check_stops_the_preflight_in_one_line(
    check: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the failures the preflight knows: any exception is one line naming the profile, no traceback."""
    from harness.target.target import Target

    async def broken(self: Target, order_id: str) -> str:
        raise KeyError("status\nsecond line")

    monkeypatch.setattr(Target, "order_state", broken)
    with pytest.raises(PreflightFailed) as info:
        check(lambda text: text)
    assert str(info.value).startswith("tiny_shop.toml: the preflight stopped on KeyError: ")
    assert "\n" not in str(info.value)
