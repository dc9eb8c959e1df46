"""Money stays exact end to end: exact Decimal digits out, what QBO cannot hold refused, the sandbox keeps them."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from qbo_sftp_assets.qbo.client import check_amount, encode_json
from qbo_sftp_assets.qbo.faults import QboAmountError, QboValidationError
from qbo_sftp_assets.sandbox.qbo_server import wire
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client

LARGE = Decimal("9999999999999.99")


def bill(amount: Any) -> dict:
    return {
        "VendorRef": {"value": "2"},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "14"}},
            }
        ],
    }


def test_request_bodies_carry_the_exact_digits_as_json_numbers() -> None:
    body = encode_json({"Amount": LARGE, "Qty": Decimal("1E+2"), "Rate": Decimal("0.00125"), "Note": "x"})
    assert body == b'{"Amount":9999999999999.99,"Qty":100,"Rate":0.00125,"Note":"x"}'
    assert json.loads(body, parse_float=Decimal)["Amount"] == LARGE


@pytest.mark.parametrize("bad", ["Infinity", "-Infinity", "NaN", "99999999999999.99", "1E+15", "0.1234567890123456"])
def test_amounts_qbo_cannot_hold_are_refused_before_sending(bad: str) -> None:
    with pytest.raises(QboAmountError) as raised:
        encode_json({"Line": [{"Amount": Decimal(bad)}]})
    assert isinstance(raised.value, QboValidationError) and isinstance(raised.value, ValueError)
    with pytest.raises(QboAmountError):
        encode_json({"Amount": float(bad)} if bad.lstrip("-") in ("Infinity", "NaN") else {"Amount": Decimal(bad)})


def test_fifteen_digits_and_trailing_zeros_are_within_the_limit() -> None:
    for good in ("9999999999999.99", "999999999999999", "218.40", "0.00001", "-125.5"):
        assert check_amount(Decimal(good)) == Decimal(good)


def test_the_sandbox_writes_decimals_exactly_as_qbo_prints_amounts() -> None:
    assert wire.dumps({"a": LARGE, "b": Decimal("4590.00"), "c": Decimal("218.40"), "d": Decimal("5")}) == (
        b'{"a":9999999999999.99,"b":4590.0,"c":218.4,"d":5.0}'
    )
    with pytest.raises(ValueError):
        wire.dumps({"a": Decimal("NaN")})


def test_a_large_amount_round_trips_through_the_client_and_the_sandbox(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    created = client.create("Bill", bill(LARGE), request_id=str(uuid.uuid4()))
    assert created["TotalAmt"] == LARGE and created["Balance"] == LARGE
    assert client.read("Bill", created["Id"])["Line"][0]["Amount"] == LARGE
    with sandbox_api_client(client_sandbox) as api:
        raw = api.get(f"/bill/{created['Id']}").text
    assert '"TotalAmt":9999999999999.99' in raw
    with pytest.raises(QboAmountError):
        client.create("Bill", bill(Decimal("99999999999999.99")), request_id=str(uuid.uuid4()))


def test_the_sandbox_refuses_sixteen_digits_sent_by_another_client(qbo_api: httpx.Client) -> None:
    refused = qbo_api.post(
        "/bill",
        content=b'{"VendorRef":{"value":"2"},"Line":[{"Amount":99999999999999.99,'
        b'"DetailType":"AccountBasedExpenseLineDetail","AccountBasedExpenseLineDetail":'
        b'{"AccountRef":{"value":"14"}}}]}',
        headers={"Content-Type": "application/json"},
    )
    assert refused.status_code == 400
    assert refused.json()["Fault"]["Error"][0]["code"] == "2010"
