"""Payments per gateway and method: ``[api.pay.<gateway>.<method>]`` tables, chosen values and their defaults.

A method's table inherits what it does not give from its gateway's; a mistake in one is one line naming the
field; a value a caller chooses is refused when the template would not send it, so a test that picks a card
holder or a Nequi phone never runs silently without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from harness.target.profile import ProfileError, load_profile, parse_profile
from harness.target.run import TargetRun
from harness.target.target import Target

TINY = Path(__file__).with_name("tiny_shop.toml")
CORE = Path(__file__).parents[1] / "core.toml"
NEQUI = '''
[api.pay.wompi.nequi]
json = { gateway = "wompi", method = "NEQUI", phone = "{nequi_phone}" }
values = { nequi_phone = "3991111111" }
'''


def _tiny(extra: str = NEQUI) -> str:
    return TINY.read_text() + extra  # the method's table after every other: TOML lets a sub-table come last


def test_a_method_table_inherits_its_gateways_request_and_replaces_its_body() -> None:
    pay = parse_profile(_tiny(), "tiny_shop.toml").api
    nequi, card = pay.pay_template("wompi", "nequi"), pay.pay_template("wompi")
    assert (nequi.method, nequi.path, nequi.reference) == (card.method, card.path, card.reference)
    assert nequi.json_body == {"gateway": "wompi", "method": "NEQUI", "phone": "{nequi_phone}"}
    assert nequi.values == {"nequi_phone": "3991111111"} and card.values == {}
    assert card.json_body == {"gateway": "wompi", "card_token": "{wompi_card_token}"}


def test_the_cores_profile_describes_its_card_nequi_pse_and_efecty_payments() -> None:
    api = load_profile(CORE).api
    methods = {(g, m): api.pay_template(g, m).json_body["method"]
               for g, m in [("wompi", None), ("wompi", "nequi"), ("wompi", "pse"), ("payu", None), ("efecty", None)]}
    assert methods == {("wompi", None): "CARD", ("wompi", "nequi"): "NEQUI", ("wompi", "pse"): "PSE",
                       ("payu", None): "CARD", ("efecty", None): "EFECTY"}
    assert api.pay_template("payu").values == {"card_holder": "PENDING", "card_number": "4097440000000004"}


@pytest.mark.parametrize(("edit", "line"), [
    (lambda t: t.replace('phone = "{nequi_phone}"', 'phone = "{nequi_fone}"'),
     "tiny_shop.toml: api.pay.wompi.nequi.json.phone: unknown placeholder {nequi_fone}"),
    (lambda t: t.replace("values = { nequi_phone", "values = { pse_bank"),
     "tiny_shop.toml: api.pay.wompi.nequi.values.pse_bank: a default for {pse_bank}, which the template never uses"),
    (lambda t: t.replace("values = { nequi_phone", "values = { phone"),
     "tiny_shop.toml: api.pay.wompi.nequi.values.phone: not a value a caller chooses (known: card_holder, "
     "card_number, nequi_phone, pse_bank)"),
    (lambda t: t.replace("[api.pay.wompi.nequi]", "[api.pay.wompi.Nequi]"),
     "tiny_shop.toml: api.pay.wompi.Nequi: a payment method's table is named in lowercase letters, digits and _"),
    (lambda t: t + 'referense = "$.ref"\n', "tiny_shop.toml: api.pay.wompi.nequi.referense: not a profile field"),
    (lambda t: t.replace('card_token = "{wompi_card_token}" }', 'card_token = "{wompi_card_token}" }\n'
                         'values = { card_holder = "PENDING" }'),
     "tiny_shop.toml: api.pay.wompi.values.card_holder: a default for {card_holder}, which the template never uses"),
])
def test_a_mistake_in_a_payment_method_is_one_line_naming_the_field(edit: object, line: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(edit(_tiny()), "tiny_shop.toml")  # type: ignore[operator]
    assert str(caught.value).splitlines()[0].startswith(line), str(caught.value)


def _target(seen: list[httpx.Request]) -> Target:
    profile = parse_profile(_tiny(), "tiny_shop.toml")

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"reference": "R-1"})

    http = httpx.AsyncClient(base_url="http://shop.invalid", transport=httpx.MockTransport(answer))
    return Target(TargetRun(profile, "http://shop.invalid", None, {}, log_dir=Path(".")), http=http)


async def test_a_chosen_value_is_sent_over_the_templates_default() -> None:
    seen: list[httpx.Request] = []
    async with _target(seen) as target:
        await target.pay("wompi", "7", "10.00", method="nequi")
        await target.pay("wompi", "7", "10.00", method="nequi", values={"nequi_phone": "3992222222"})
    assert [json.loads(r.content)["phone"] for r in seen] == ["3991111111", "3992222222"]
    assert {r.url.path for r in seen} == {"/api/orders/7/pay"}


async def test_a_chosen_value_the_template_never_sends_and_an_unknown_method_are_refused() -> None:
    seen: list[httpx.Request] = []
    async with _target(seen) as target:
        with pytest.raises(ProfileError, match=r"^api\.pay\.wompi\.nequi: the template never sends \{card_holder\}"):
            await target.pay("wompi", "7", "10.00", method="nequi", values={"card_holder": "APPROVED"})
        with pytest.raises(ProfileError, match=r"^the profile gives no \[api\.pay\.wompi\.pse\] \(its methods: n"):
            await target.pay("wompi", "7", "10.00", method="pse")
        with pytest.raises(ProfileError, match=r"^the profile gives no \[api\.pay\.payu\]"):
            await target.pay("payu", "7", "10.00")
    assert seen == []  # refused before anything was sent
