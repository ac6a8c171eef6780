"""The signature-scope attacker: Hypothesis strategies that build events only from captured genuine ones.

The attacker never holds a secret. It has genuine events (signed by the simulators' signers, as a network
observer or a malicious buyer would see them) and may rearrange, rename, move, duplicate and re-list their
fields, change unsigned fields, and re-use checksums, signs and timestamps. What it wants: the core to act
on data no genuine event carried.

Usage::

    forged = data.draw(wompi_forgeries([captured_t, captured_o], ids=[t_id, o_id]))
    if forged.acted not in genuine_acted: response = await core.post(..., content=forged.body, ...)
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

STATUSES = ("APPROVED", "DECLINED", "VOIDED", "ERROR", "PENDING")
ACTED_ON = ("id", "status", "amount_in_cents", "currency")
REQUIRED = ["transaction.id", "transaction.status", "transaction.amount_in_cents"]
UNSIGNED = ("reference", "customer_email", "payment_method_type", "redirect_url", "payment_link_id")
# Paths a careless verifier might resolve somewhere unexpected.
ODD_PATHS = ("transaction", "transaction.id.x", "transaction..id", "data.transaction.id", "transaction.ID",
             "transaction.id ", "transaction.amount_in_cents.0")


@dataclass(frozen=True)
class Forgery:
    body: bytes
    headers: dict[str, str]
    acted: tuple[Any, ...]  # what the core would act on (json.loads: the last of repeated keys wins)
    how: str  # for the failure message


def wompi_acted(event: dict[str, Any]) -> tuple[Any, ...]:
    tx = event["data"]["transaction"]
    return tuple(tx.get(k) for k in ACTED_ON)


def _concatenation(event: dict[str, Any]) -> str:
    tx = event["data"]["transaction"]
    return "".join(str(tx[p.split(".", 1)[1]]) for p in event["signature"]["properties"])


def _fill(tx: dict[str, Any], fields: list[str], target: str) -> None:
    """Give the listed free fields values so that the listed values concatenate to ``target`` where they can.

    Left to right: a field already set must match at the current position; a free one takes everything up
    to where the next set field's value next occurs (or the rest). Greedy, so it finds the one-field hole
    and the split-amount cut; where no fill exists the result simply does not verify.
    """
    fixed = {f for f in fields if f in ACTED_ON}
    pos = 0
    for i, field in enumerate(fields):
        if field in fixed:
            value = str(tx.get(field))
            pos = pos + len(value) if target.startswith(value, pos) else pos
            continue
        following = next((str(tx.get(f)) for f in fields[i + 1:] if f in fixed or f == field), None)
        end = target.find(following, pos + 1) if following else -1
        tx[field] = target[pos:] if end < 0 else target[pos:end]
        fixed.add(field)
        pos += len(tx[field])


@st.composite
def property_lists(draw: st.DrawFn) -> list[str]:
    fields = st.sampled_from((*ACTED_ON[:3], *UNSIGNED))
    shape = draw(st.sampled_from(["one_unsigned", "relisted", "required_plus", "reordered", "odd"]))
    if shape == "one_unsigned":
        return [f"transaction.{draw(st.sampled_from(UNSIGNED))}"]
    if shape == "relisted":
        return [f"transaction.{f}" for f in draw(st.lists(fields, min_size=1, max_size=5))]
    if shape == "required_plus":
        return REQUIRED + [f"transaction.{f}" for f in draw(st.lists(fields, min_size=1, max_size=2))]
    if shape == "reordered":
        return draw(st.permutations(REQUIRED))
    return [*REQUIRED[: draw(st.integers(0, 3))], draw(st.sampled_from(ODD_PATHS))]


@st.composite
def wompi_forgeries(draw: st.DrawFn, captured: list[dict[str, Any]], ids: list[str]) -> Forgery:
    """One event built from ``captured`` genuine events; ``ids`` are Wompi ids the attacker wants to move."""
    base = copy.deepcopy(draw(st.sampled_from(captured)))
    source = draw(st.sampled_from(captured))  # whose checksum, timestamp and concatenation are re-used
    tx = base["data"]["transaction"]
    genuine_tx = copy.deepcopy(tx)
    amounts = sorted({e["data"]["transaction"]["amount_in_cents"] for e in captured})
    tx.update(id=draw(st.sampled_from(ids)), status=draw(st.sampled_from(STATUSES)),
              amount_in_cents=draw(st.sampled_from([*amounts, 1, amounts[0] // 100, amounts[-1] * 2])),
              currency=draw(st.sampled_from(["COP", "COP", "USD"])))
    properties = draw(property_lists())
    _fill(tx, [p.split(".", 1)[1] for p in properties if p.count(".") == 1], _concatenation(source))
    timestamp = draw(st.sampled_from([source["timestamp"], base["timestamp"],
                                      int(str(source["timestamp"])[1:]), source["timestamp"] + 1]))
    checksum = source["signature"]["checksum"]
    other = draw(st.sampled_from(captured))["signature"]["checksum"]
    placement = draw(st.sampled_from(["both", "header", "body", "mixed"]))
    event = {**base, "signature": {"properties": properties}, "timestamp": timestamp}
    if placement != "header":
        event["signature"]["checksum"] = checksum
    headers = {"content-type": "application/json"}
    if placement != "body":
        headers["x-event-checksum"] = other if placement == "mixed" else checksum
    text = json.dumps(event)
    duplicate = draw(st.sampled_from(["none", "none", "transaction", "status"]))
    if duplicate == "transaction":  # a first-key-wins reader would see the genuine transaction
        text = text.replace('"data": {', '"data": {"transaction": ' + json.dumps(genuine_tx) + ", ", 1)
    elif duplicate == "status":
        text = text.replace('"status": ', f'"status": {json.dumps(genuine_tx["status"])}, "status": ', 1)
    how = f"properties={properties} placement={placement} duplicate={duplicate} ts={timestamp} tx={tx}"
    return Forgery(text.encode(), headers, wompi_acted(event), how)


@st.composite
def wompi_copies(draw: st.DrawFn, captured: list[dict[str, Any]]) -> Forgery:
    """A captured event sent as it is but for one unsigned field, its checksum and timestamp untouched."""
    event = copy.deepcopy(draw(st.sampled_from(captured)))
    field = draw(st.sampled_from(["currency"] * 3 + list(UNSIGNED)))
    values = ["USD", "cop"] if field == "currency" else ["", "ORD-other", "otro@example.com"]
    event["data"]["transaction"][field] = draw(st.sampled_from(values))
    headers = {"content-type": "application/json", "x-event-checksum": event["signature"]["checksum"]}
    return Forgery(json.dumps(event).encode(), headers, wompi_acted(event), f"copy with {field} changed")


def wompi_attacks(captured: list[dict[str, Any]], ids: list[str]) -> st.SearchStrategy[Forgery]:
    """Re-packed events and near-verbatim copies, in about equal measure."""
    return st.one_of(wompi_forgeries(captured, ids), wompi_copies(captured))


PAYU_SIGNED = ("merchant_id", "reference_sale", "value", "currency", "state_pol")
PAYU_STATES = ("4", "5", "6", "7")


def payu_acted(form: dict[str, str]) -> tuple[Any, ...]:
    return tuple(form.get(k) for k in ("reference_sale", "state_pol", "value", "currency", "transaction_id"))


@st.composite
def payu_forgeries(draw: st.DrawFn, captured: list[dict[str, str]]) -> Forgery:
    """A confirmation built from ``captured`` genuine ones: fields swapped between them, renamed, repeated,
    unsigned ones changed, signs re-used (also upper-cased or padded)."""
    base = dict(draw(st.sampled_from(captured)))
    pairs: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["swap", "unsigned", "state", "rename", "sign"]))
        donor = draw(st.sampled_from(captured))
        if op == "swap":  # a signed field taken from another genuine confirmation
            field = draw(st.sampled_from((*PAYU_SIGNED, "transaction_id")))
            base[field] = donor[field]
        elif op == "unsigned":
            field = draw(st.sampled_from(["transaction_id", "reference_pol", "response_code_pol", "attempts"]))
            base[field] = draw(st.sampled_from([donor[field], "1", "00000000-0000-4000-8000-000000000000"]))
        elif op == "state":
            base["state_pol"] = draw(st.sampled_from(PAYU_STATES))
        elif op == "rename":  # a signed field moved under another name, the signed name given a new value
            field = draw(st.sampled_from(PAYU_SIGNED))
            base[f"{field}_"], base[field] = base[field], donor[field]
        else:
            base["sign"] = draw(st.sampled_from([donor["sign"].upper(), f" {donor['sign']} ", donor["sign"]]))
    if draw(st.booleans()):  # the same name twice: the genuine value first, another second
        field = draw(st.sampled_from((*PAYU_SIGNED, "sign")))
        pairs.append((field, draw(st.sampled_from(captured))[field]))
    body = urlencode([*base.items(), *pairs]).encode()
    acted = payu_acted(base)
    return Forgery(body, {"content-type": "application/x-www-form-urlencoded"}, acted, f"form={base} extra={pairs}")
