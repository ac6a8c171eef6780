"""PayU's JSON shapes: the transactionResponse of SUBMIT_TRANSACTION and the Queries API's order payloads.

Usage: ``{"code": "SUCCESS", "error": None, "transactionResponse": transaction_response(tx)}``
"""

from __future__ import annotations

from typing import Any

from simulators.payu.state import Order, Transaction


def _additional_info(tx: Transaction) -> dict[str, Any]:
    info: dict[str, Any] = {
        "paymentNetwork": tx.payment_network,
        "rejectionType": "NONE" if tx.state in ("APPROVED", "PENDING") else "SOFT",
        "responseNetworkMessage": None,
        "travelAgencyAuthorizationCode": None,
        "cardType": tx.card.card_type if tx.card else None,
        "transactionType": tx.type,
    }
    return info


def transaction_response(tx: Transaction) -> dict[str, Any]:
    """The ``transactionResponse`` object, as SUBMIT_TRANSACTION and TRANSACTION_RESPONSE_DETAIL give it."""
    return {
        "orderId": tx.order_id,
        "transactionId": tx.id,
        "state": tx.state,
        "paymentNetworkResponseCode": tx.payment_network_response_code,
        "paymentNetworkResponseErrorMessage": None,
        "trazabilityCode": tx.trazability_code,
        "authorizationCode": tx.authorization_code,
        "pendingReason": tx.pending_reason,
        "responseCode": tx.response_code,
        "errorCode": None,
        "responseMessage": tx.response_message,
        "transactionDate": None,
        "transactionTime": None,
        "operationDate": tx.operation_date,
        "referenceQuestionnaire": None,
        "extraParameters": dict(tx.extra_parameters) or None,
        "additionalInfo": _additional_info(tx),
    }


def _amount(value: Any, currency: str) -> dict[str, Any]:
    return {"value": value, "currency": currency}


def _transaction_in_order(tx: Transaction, order: Order) -> dict[str, Any]:
    card = None
    if tx.card is not None:
        card = {"maskedNumber": tx.card.masked_number, "name": tx.card.holder, "issuerBank": None}
    response = transaction_response(tx)
    # Inside an order PayU nests a slimmer transactionResponse without the order id.
    response.pop("orderId", None)
    return {
        "id": tx.id,
        "order": None,
        "creditCard": card,
        "bankAccount": None,
        "type": tx.type,
        "parentTransactionId": None,
        "paymentMethod": tx.payment_method,
        "source": None,
        "paymentCountry": tx.payment_country,
        "transactionResponse": response,
        "deviceSessionId": tx.device_session_id,
        "ipAddress": tx.ip_address or None,
        "cookie": None,
        "userAgent": None,
        "expirationDate": None,
        "payer": tx.payer or None,
        "payee": None,
        "additionalValues": None,
        "extraParameters": dict(tx.request_extra) or None,
        "transactionProcessingDate": None,
    }


def order_payload(order: Order, *, merchant_id: str) -> dict[str, Any]:
    """One order as ORDER_DETAIL's ``result.payload`` (and each element of the by-reference array)."""
    return {
        "id": order.id,
        "accountId": int(order.account_id) if order.account_id.isdigit() else order.account_id,
        "status": order.status,
        "referenceCode": order.reference_code,
        "description": order.description,
        "airlineCode": None,
        "language": order.language,
        "notifyUrl": order.notify_url,
        "shippingAddress": order.shipping_address,
        "buyer": order.buyer or None,
        "antifraudMerchantId": None,
        "isTest": order.is_test,
        "transactions": [_transaction_in_order(tx, order) for tx in order.transactions],
        "additionalValues": {
            "TX_VALUE": _amount(order.value, order.currency),
            "TX_TAX": _amount(order.tax, order.currency),
            "TX_TAX_RETURN_BASE": _amount(order.tax_return_base, order.currency),
            "PM_NETWORK_VALUE": _amount(order.value, order.currency),
        },
        "creationDate": order.creation_date,
        "merchantId": int(merchant_id) if merchant_id.isdigit() else merchant_id,
        "processedTransactionId": order.transactions[-1].id if order.transactions else None,
        "orderSignature": order.signature,
    }
