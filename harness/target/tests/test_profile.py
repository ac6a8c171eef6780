"""The profile loader: every mistake is one line naming the file and the field; paths and placeholders checked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness.target import jsonpath
from harness.target.profile import ProfileError, fill, load_profile, parse_profile
from harness.target.run import TargetRun
from harness.target.target import Target

TINY = Path(__file__).with_name("tiny_shop.toml")


def _without(text: str, line: str) -> str:
    assert line in text, line
    return text.replace(line, "")


def test_the_tiny_shop_profile_loads_with_its_paths_and_placeholders() -> None:
    profile = load_profile(TINY)
    assert profile.name == "tiny-shop"
    assert profile.api.create_order.order_id == "$.id"
    assert profile.api.pay["wompi"].reference == "$.reference"
    assert profile.webhooks == {"wompi": "/webhooks/wompi"}
    assert fill(profile.api.create_order.json_body, {"amount": "10.10", "currency": "COP"}) == {
        "total": "10.10", "currency": "COP"}


@pytest.mark.parametrize(("edit", "line"), [
    (lambda t: _without(t, 'order_id = "$.id"\n'), "tiny_shop.toml: api.create_order.order_id: missing"),
    (lambda t: t.replace('order_id = "$.id"', 'order_id = "id"'),
     "tiny_shop.toml: api.create_order.order_id: not a JSON path of the form $.a.b[0]: 'id'"),
    (lambda t: t.replace('"{port}"]', '"{prot}"]'), "tiny_shop.toml: service.command[4]: unknown placeholder {prot}"),
    (lambda t: t.replace('card_token = "{wompi_card_token}"', 'card_token = "{card}"'),
     "tiny_shop.toml: api.pay.wompi.json.card_token: unknown placeholder {card}"),
    (lambda t: t.replace("[webhooks]", "[webhook]"), "tiny_shop.toml: webhook: not a profile field (a typo?)"),
    (lambda t: t.replace("wompi = \"/webhooks/wompi\"", "bancolombia = \"/w\""),
     "tiny_shop.toml: webhooks.bancolombia: Input should be 'wompi', 'payu' or 'efecty'"),
    (lambda t: _without(t, "[observe.status_map]\n"), "tiny_shop.toml: observe.paid: not a profile field"),
    (lambda t: t.replace('ready_path = "/health"', 'base_url = "http://127.0.0.1:1"'),
     "tiny_shop.toml: service: give either command (payharness starts it) or base_url"),
    (lambda t: t + "\n[[", "tiny_shop.toml: not TOML:"),
    # tomllib names a line; the line names the key or table given twice (a gateway's path, a gateway's table).
    (lambda t: t.replace('wompi = "/webhooks/wompi"', 'wompi = "/webhooks/wompi"\nwompi = "/webhooks/wompi2"'),
     "tiny_shop.toml: webhooks.wompi: not TOML: Cannot overwrite a value (at line 33"),
    (lambda t: t + '\n[api.pay.wompi]\npath = "/pay"\n',
     "tiny_shop.toml: api.pay.wompi: not TOML: Cannot declare ('api', 'pay', 'wompi') twice"),
    (lambda t: t.replace('[api.get_order]\n', '[api.get_order]\n"path" = "/a"\n'),
     "tiny_shop.toml: api.get_order.path: not TOML: Cannot overwrite a value"),
    (lambda t: t.replace("[auth]\nusers = {", "[auth]\nusers = { buyer = 1 }\nusers = {"),
     "tiny_shop.toml: auth.users: not TOML: Cannot overwrite a value"),
    # A template's path, headers and form are text: another type would fail only when the request is made.
    (lambda t: t.replace('path = "/api/orders"\n', "path = 5\n"),
     "tiny_shop.toml: api.create_order.path: Input should be a valid string"),
    (lambda t: t.replace('order_id = "$.id"', 'order_id = "$.id"\nheaders = { X-Try = 1 }'),
     "tiny_shop.toml: api.create_order.headers.X-Try: Input should be a valid string"),
    (lambda t: t.replace('reference = "$.reference"', 'reference = "$.reference"\nheaders = "X-Try: 1"'),
     "tiny_shop.toml: api.pay.wompi.headers: Input should be a valid dictionary"),
    # A path is joined to the service's address as text: without its slash it names another host.
    (lambda t: t.replace('ready_path = "/health"', 'ready_path = "health"'),
     "tiny_shop.toml: service.ready_path: a path on the service starts with /: 'health'"),
    (lambda t: t.replace('path = "/api/orders"\n', 'path = ""\n'),
     "tiny_shop.toml: api.create_order.path: a path on the service starts with /: ''"),
    (lambda t: t.replace('wompi = "/webhooks/wompi"', 'wompi = "webhooks/wompi"'),
     "tiny_shop.toml: webhooks.wompi: a path on the service starts with /"),
    # Values are filled as text: a format spec fails (or a conversion changes the value) only at fill time.
    (lambda t: t.replace('path = "/api/orders"\n', 'path = "/api/orders?n={amount:>{nope}}"\n'),
     "tiny_shop.toml: api.create_order.path: '/api/orders?n={amount:>{nope}}': a placeholder is {amount} alone"),
    (lambda t: t.replace('total = "{amount}"', 'total = "{amount!r}"'),
     "tiny_shop.toml: api.create_order.json.total: '{amount!r}': a placeholder is {amount} alone"),
    (lambda t: t.replace('"Bearer buyer-token"', '"Bearer {buyer_token"'),
     "tiny_shop.toml: auth.users.buyer.Authorization: 'Bearer {buyer_token': expected '}'"),
    (lambda t: t.replace('"Bearer buyer-token"', '"Bearer {buyer_token}"'),
     "tiny_shop.toml: auth.users.buyer.Authorization: unknown placeholder {buyer_token}"),
    # The file's own path is payharness's to set: a profile's `source` is no field of it.
    (lambda t: t.replace('name = "tiny-shop"', 'name = "tiny-shop"\nsource = "/etc/shop.toml"'),
     "tiny_shop.toml: source: not a profile field (a typo?)"),
    # Each step is given only what exists at that step: no order id before the order, no card token for a read.
    (lambda t: t.replace('total = "{amount}"', 'total = "{amount}", token = "{wompi_card_token}"'),
     "tiny_shop.toml: api.create_order.json.token: {wompi_card_token} is not filled for create_order"),
    (lambda t: t.replace('path = "/api/orders/{order_id}"\n', 'path = "/api/orders/{order_id}?total={amount}"\n'),
     "tiny_shop.toml: api.get_order.path: {amount} is not filled for get_order"),
    (lambda t: t.replace('order_count = "SELECT count(*) FROM orders"',
                         'order_count = { path = "/api/orders/{order_id}", value = "$.count" }'),
     "tiny_shop.toml: observe.order_count.path: {order_id} is not filled for order_count"),
    # Empty where a run needs something: a name, a query, a statement, a program, a word for paid.
    (lambda t: t.replace('name = "tiny-shop"', 'name = " "'), "tiny_shop.toml: name: empty"),
    (lambda t: t.replace('order_count = "SELECT count(*) FROM orders"', 'order_count = ""'),
     "tiny_shop.toml: observe.order_count: empty"),
    (lambda t: t.replace('reset = ["TRUNCATE', 'reset = ["", "TRUNCATE'), "tiny_shop.toml: database.reset[0]: empty"),
    (lambda t: t.replace('ready_path = "/health"', 'ready_path = "/health"\nsetup = [[]]'),
     "tiny_shop.toml: service.setup[0]: List should have at least 1 item"),
    (lambda t: t.replace("[auth]", "[auth]\nrun = { token = [] }"),
     "tiny_shop.toml: auth.run.token: List should have at least 1 item"),
    (lambda t: t.replace('paid = ["PAID"]', "paid = []"),
     "tiny_shop.toml: observe.status_map.paid: List should have at least 1 item"),
    # [efecty]: a bound a scenario can wait out, and a reconciliation request as one of the named users.
    (lambda t: t + "\n[efecty]\nconfirm_within = 0\n",
     "tiny_shop.toml: efecty.confirm_within: Input should be greater than 0"),
    (lambda t: t + "\n[efecty]\nconfirm_within = 86400\n",
     "tiny_shop.toml: efecty.confirm_within: Input should be less than or equal to 120"),
    (lambda t: t + "\n[efecty]\nconfirm_in = 5\n", "tiny_shop.toml: efecty.confirm_in: not a profile field"),
    (lambda t: t + '\n[efecty.reconcile]\npath = "/reconcile"\nuser = "admin"\n',
     "tiny_shop.toml: efecty.reconcile.user: 'admin' is not a user under [auth] users (known: buyer, other)"),
    (lambda t: t + '\n[efecty.reconcile]\npath = "/reconcile?day={day}"\n',
     "tiny_shop.toml: efecty.reconcile.path: unknown placeholder {day}"),
    (lambda t: t + '\n[efecty.reconcile]\npath = "reconcile"\n',
     "tiny_shop.toml: efecty.reconcile.path: a path on the service starts with /"),
])
def test_a_mistake_is_one_line_naming_the_field(edit: object, line: str) -> None:
    text = edit(TINY.read_text())  # type: ignore[operator]
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "tiny_shop.toml")
    first = str(caught.value).splitlines()[0]
    assert first.startswith(line), str(caught.value)


def test_efecty_confirmation_defaults_to_ten_seconds_and_no_reconciliation_request() -> None:
    assert load_profile(TINY).efecty.confirm_within == 10.0
    assert load_profile(TINY).efecty.reconcile is None
    text = TINY.read_text() + '\n[efecty]\nconfirm_within = 2.5\nreconcile = { path = "/ops/reconcile?date={today}" }\n'
    efecty = parse_profile(text).efecty
    assert (efecty.confirm_within, efecty.reconcile and efecty.reconcile.user) == (2.5, "buyer")


EVIDENCE = ('\n[evidence]\nevent_transaction = "SELECT t.gateway_transaction_id FROM webhook_logs e '
            'LEFT JOIN payments t '
            'ON t.id = e.payment_id WHERE e.event_id = :gateway_id"\n'
            '[evidence.efecty_code]\ncolumn = "payments.reference"\n'
            'repeat = "UPDATE payments SET reference = :taken WHERE reference = :own"\n')


def test_the_evidence_fields_load() -> None:
    profile = parse_profile(TINY.read_text() + EVIDENCE, "tiny_shop.toml")
    assert profile.evidence.efecty_code is not None and profile.evidence.efecty_code.column == "payments.reference"
    assert profile.evidence.event_transaction is not None and profile.evidence.uses_sql()


@pytest.mark.parametrize(("old", "new", "line"), [
    (":gateway_id", ":event_id", "tiny_shop.toml: evidence.event_transaction: unknown parameter :event_id (it is "
                                 "given only :gateway_id)"),
    ("WHERE e.event_id = :gateway_id", "", "tiny_shop.toml: evidence.event_transaction: never uses :gateway_id"),
    ('"SELECT t.gateway_transaction_id FROM webhook_logs e LEFT JOIN payments t ON t.id = e.payment_id WHERE '
     'e.event_id = :gateway_id"', '" "', "tiny_shop.toml: evidence.event_transaction: empty"),
    ("WHERE reference = :own", "WHERE true", "tiny_shop.toml: evidence.efecty_code.repeat: never uses :own"),
    (":taken", ":code", "tiny_shop.toml: evidence.efecty_code.repeat: unknown parameter :code"),
    ('repeat = "UPDATE payments', 'repeat = "SELECT 1; UPDATE payments',
     "tiny_shop.toml: evidence.efecty_code.repeat: an UPDATE (or INSERT) that gives one payment the code"),
    ('"payments.reference"', '"reference"', "tiny_shop.toml: evidence.efecty_code.column: not table.column"),
    ('"payments.reference"', '"payments.reference; DROP TABLE orders"',
     "tiny_shop.toml: evidence.efecty_code.column: not table.column"),
    ('column = "payments.reference"\n', "", "tiny_shop.toml: evidence.efecty_code.column: missing"),
    ("[evidence.efecty_code]", "[evidence.efecty_codes]", "tiny_shop.toml: evidence.efecty_codes: not a profile field"),
])
def test_an_evidence_mistake_is_one_line_naming_the_field(old: str, new: str, line: str) -> None:
    assert old in EVIDENCE, old
    with pytest.raises(ProfileError) as caught:
        parse_profile(TINY.read_text() + EVIDENCE.replace(old, new, 1), "tiny_shop.toml")
    assert len(str(caught.value).splitlines()) == 1 and str(caught.value).startswith(line), str(caught.value)


def test_a_running_service_with_evidence_must_name_its_database() -> None:
    text = TINY.read_text().replace('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", '
                                    '"{port}"]', 'base_url = "http://127.0.0.1:8000"')
    text = _without(text, 'env = { DATABASE_URL = "{database_url}", WOMPI_EVENTS_SECRET = "{wompi_events_secret}" }\n')
    text = text.replace('"{wompi_card_token}"', '"tok_test"')
    text = text[:text.index("[observe]")] + EVIDENCE  # no SQL observe query, no reset: only the evidence needs it
    text = text.replace('reset = ["TRUNCATE orders, payments, webhook_logs RESTART IDENTITY CASCADE"]', "")
    with pytest.raises(ProfileError, match=r"^tiny_shop.toml: database.url: missing .*\[evidence\]"):
        parse_profile(text, "tiny_shop.toml")


def test_a_running_service_with_sql_observations_must_name_its_database() -> None:
    text = TINY.read_text().replace('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", '
                                    '"{port}"]', 'base_url = "http://127.0.0.1:8000"')
    text = _without(text, 'env = { DATABASE_URL = "{database_url}", WOMPI_EVENTS_SECRET = "{wompi_events_secret}" }\n')
    text = text.replace('"{wompi_card_token}"', '"tok_test"')  # no simulator tokenises a card for a running service
    with pytest.raises(ProfileError, match=r"^tiny_shop.toml: database.url: missing"):
        parse_profile(text, "tiny_shop.toml")


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"^shop.toml: cannot read"):
        load_profile(tmp_path / "shop.toml")


@pytest.mark.parametrize(("path", "document", "value"), [
    ("$.id", {"id": 7}, 7),
    ("$.data.transaction.id", {"data": {"transaction": {"id": "x"}}}, "x"),
    ("$.items[1].id", {"items": [{"id": 1}, {"id": 2}]}, 2),
])
def test_json_paths_read_members_and_indexes(path: str, document: object, value: object) -> None:
    assert jsonpath.read(jsonpath.parse(path), document) == value


def test_a_json_path_that_finds_nothing_names_the_step() -> None:
    with pytest.raises(jsonpath.PathError, match=r"^\$\.data\.missing: not in the answer"):
        jsonpath.read(jsonpath.parse("$.data.missing.id"), {"data": {}})


@pytest.mark.parametrize(("old", "new", "line"), [
    ('reference = "$.reference"', 'reference = { x = "$.reference" }',
     "tiny_shop.toml: api.pay.wompi.reference: Input should be a valid string"),
    ('path = "/api/orders/{order_id}/pay"', 'path = { x = "/pay" }',
     "tiny_shop.toml: api.pay.wompi.path: Input should be a valid string"),
])
def test_a_table_given_for_a_pay_field_is_that_field_mistake_not_a_payment_method(old: str, new: str,
                                                                                 line: str) -> None:
    """Only a key that is no field of the pay table names a method: [api.pay.wompi.nequi], not reference = {…}."""
    with pytest.raises(ProfileError) as caught:
        parse_profile(TINY.read_text().replace(old, new), "tiny_shop.toml")
    assert str(caught.value) == line


@pytest.mark.parametrize(("new", "line"), [
    ('{ path = "/api/orders/{order_id}" }', "tiny_shop.toml: observe.order_count.value: missing"),
    ('{ path = "/api/orders/{order_id}", value = "$.n", sql = "x" }',
     "tiny_shop.toml: observe.order_count.sql: not a profile field (a typo?)"),
    ("5", "tiny_shop.toml: observe.order_count: Input should be a valid string"),
])
def test_an_observation_that_is_neither_query_nor_read_is_one_line(new: str, line: str) -> None:
    """A table is read as an HTTP read, anything else as SQL: the other reading adds no second line."""
    text = TINY.read_text().replace('order_count = "SELECT count(*) FROM orders"', f"order_count = {new}")
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "tiny_shop.toml")
    assert str(caught.value) == line


@pytest.mark.parametrize(("url", "database", "line"), [
    ("nope", "postgresql://127.0.0.1/shop",
     "tiny_shop.toml: service.base_url: not a http or https URL with a host: 'nope'"),
    ("127.0.0.1:8000", "postgresql://127.0.0.1/shop", "tiny_shop.toml: service.base_url: not a http or https URL"),
    ("http://", "postgresql://127.0.0.1/shop", "tiny_shop.toml: service.base_url: not a http or https URL"),
    ("http://[::1", "postgresql://127.0.0.1/shop", "tiny_shop.toml: service.base_url: not a http or https URL"),
    ("http://127.0.0.1:8000", "127.0.0.1/shop", "tiny_shop.toml: database.url: not a postgresql or postgres"),
])
def test_a_url_that_is_no_url_is_refused_naming_its_field(url: str, database: str, line: str) -> None:
    text = TINY.read_text().replace('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", '
                                    '"{port}"]', f'base_url = "{url}"')
    text = _without(text, 'env = { DATABASE_URL = "{database_url}", WOMPI_EVENTS_SECRET = "{wompi_events_secret}" }\n')
    text = text.replace("[database]", f'[database]\nurl = "{database}"').replace('"{wompi_card_token}"', '"tok"')
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "tiny_shop.toml")
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value), str(caught.value)


def test_a_running_service_at_an_http_url_with_its_database_loads() -> None:
    text = TINY.read_text().replace('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", '
                                    '"{port}"]', 'base_url = "https://shop.example:8443/"')
    text = _without(text, 'env = { DATABASE_URL = "{database_url}", WOMPI_EVENTS_SECRET = "{wompi_events_secret}" }\n')
    text = text.replace('"{wompi_card_token}"', '"tok_test"')
    profile = parse_profile(text.replace("[database]", '[database]\nurl = "postgres://shop@db/shop"'), "t.toml")
    assert profile.service.base_url == "https://shop.example:8443/"


def _running(text: str) -> str:
    text = text.replace('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", "{port}"]',
                        'base_url = "http://127.0.0.1:8000"')
    text = _without(text, 'env = { DATABASE_URL = "{database_url}", WOMPI_EVENTS_SECRET = "{wompi_events_secret}" }\n')
    return text.replace("[database]", '[database]\nurl = "postgresql://127.0.0.1/shop"')


@pytest.mark.parametrize(("edit", "line"), [
    (lambda t: t.replace("[auth]", '[auth]\nrun = { token = ["{python}", "mint.py", "{token_secret}"] }'),
     "tiny_shop.toml: auth.run.token[2]: {token_secret} is not filled for a service already running"),
    (lambda t: t.replace('"Bearer buyer-token"', '"Bearer {wompi_public_key}"'),
     "tiny_shop.toml: auth.users.buyer.Authorization: {wompi_public_key} is not filled for a service already"),
    (lambda t: t, "tiny_shop.toml: api.pay.wompi: {wompi_card_token} needs the Wompi simulator"),
])
def test_a_running_service_gets_only_the_values_payharness_has_for_it(edit: object, line: str) -> None:
    """No port, database or simulators are started for a base_url: what needs them was a KeyError in the run."""
    text = edit(_running(TINY.read_text()))  # type: ignore[operator]
    if "wompi_card_token" not in line:
        text = text.replace('"{wompi_card_token}"', '"tok_test"')
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, "tiny_shop.toml")
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value), str(caught.value)


def test_an_http_read_of_webhook_events_is_given_the_event_id() -> None:
    text = TINY.read_text().replace('webhook_events = "SELECT count(*) FROM webhook_logs WHERE event_id = :event_id"',
                                    'webhook_events = { path = "/api/events/{event_id}", value = "$.count" }')
    read = parse_profile(text, "tiny_shop.toml").observe.webhook_events
    assert read is not None and not isinstance(read, str) and read.path == "/api/events/{event_id}"


async def test_an_http_read_of_webhook_events_sends_the_event_id_it_names(tmp_path: Path) -> None:
    text = TINY.read_text().replace('webhook_events = "SELECT count(*) FROM webhook_logs WHERE event_id = :event_id"',
                                    'webhook_events = { path = "/api/events/{event_id}", value = "$.count" }')
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 2})

    http = httpx.AsyncClient(base_url="http://shop.invalid", transport=httpx.MockTransport(answer))
    run = TargetRun(parse_profile(text, "tiny_shop.toml"), "http://shop.invalid", None, {}, log_dir=tmp_path)
    async with Target(run, http=http) as target:
        assert await target.webhook_events("evt-9") == 2
    await http.aclose()
    assert [r.url.path for r in seen] == ["/api/events/evt-9"]
