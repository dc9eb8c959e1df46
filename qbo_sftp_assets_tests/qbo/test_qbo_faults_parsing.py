"""The one fault parser: JSON or XML, any key case, inside HTTP 200 and batch items; typed errors."""

from __future__ import annotations

import json

import pytest

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.qbo.faults import (
    DuplicateDocumentNumber,
    QboAuthError,
    QboError,
    QboNotFound,
    QboServerError,
    QboThrottled,
    QboValidationError,
    ReconnectRequired,
    StaleObjectConflict,
    error_from_response,
    is_retryable,
    parse_fault,
)

STALE_JSON = {
    "Fault": {
        "Error": [
            {
                "Message": "Stale Object Error",
                "Detail": "Stale Object Error : You and x were working on this at the same time.",
                "code": "5010",
                "element": "",
            }
        ],
        "type": "ValidationFault",
    },
    "time": "2026-11-25T04:00:00.000-08:00",
}

GATEWAY_401 = {
    "warnings": None,
    "fault": {
        "error": [
            {
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired: a1b2",
                "code": "3200",
                "element": None,
            }
        ],
        "type": "AUTHENTICATION",
    },
    "time": 1764000000000,
}

THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2026-11-25T04:00:00.000-08:00">'
    '<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; '
    "statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail></Error>"
    "</Fault></IntuitResponse>"
)


def test_json_fault_with_capitalised_keys_becomes_stale_object_conflict() -> None:
    error = error_from_response(400, json.dumps(STALE_JSON).encode(), intuit_tid="tid-1")
    assert isinstance(error, StaleObjectConflict)
    assert isinstance(error, QboValidationError)
    assert (error.code, error.message, error.status_code, error.intuit_tid) == (
        "5010",
        "Stale Object Error",
        400,
        "tid-1",
    )
    assert "You and x were working" in error.detail
    assert "tid-1" in str(error) and "5010" in str(error)
    assert not is_retryable(error)


def test_gateway_lower_case_keys_become_auth_error() -> None:
    error = error_from_response(401, json.dumps(GATEWAY_401).encode())
    assert isinstance(error, QboAuthError)
    assert error.code == "3200"
    assert error.fault_type == "AUTHENTICATION"
    assert error.element == ""


def test_xml_throttle_fault_sent_to_a_json_client_is_parsed() -> None:
    error = error_from_response(429, THROTTLE_XML.encode(), retry_after=7.0)
    assert isinstance(error, QboThrottled)
    assert error.code == "3001"
    assert error.retry_after == 7.0
    assert error.detail.startswith("The request limit was reached")
    assert is_retryable(error)


def test_xml_fault_with_element_attribute_and_several_errors() -> None:
    body = (
        '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3"><Fault type="ValidationFault">'
        '<Error code="6140" element="DocNumber"><Message>Duplicate Document Number Error</Message>'
        "<Detail>DocNumber=1001</Detail></Error>"
        '<Error code="2020"><Message>Required param missing</Message></Error></Fault></IntuitResponse>'
    )
    fault = parse_fault(body)
    assert fault is not None and len(fault.errors) == 2
    error = error_from_response(400, body.encode())
    assert isinstance(error, DuplicateDocumentNumber)
    assert error.element == "DocNumber"
    assert "(+1 more)" in str(error)


def test_fault_inside_http_200_is_an_error() -> None:
    body = {"Fault": {"Error": [{"Message": "Invalid Reference Id", "code": "2500"}], "type": "ValidationFault"}}
    error = error_from_response(200, json.dumps(body).encode())
    assert isinstance(error, QboValidationError) and error.code == "2500"


def test_successful_body_is_not_an_error() -> None:
    assert error_from_response(200, b'{"Bill": {"Id": "1"}, "time": "x"}') is None


def test_batch_item_fault_is_found_in_a_mapping() -> None:
    item = {
        "Fault": {"type": "ValidationFault", "Error": [{"Message": "Stale Object Error", "code": "5010"}]},
        "bId": "3",
    }
    fault = parse_fault(item)
    assert fault is not None and fault.first.code == "5010"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, b"", QboServerError),
        (503, b"<html>Service Unavailable</html>", QboServerError),
        (429, b"", QboThrottled),
        (404, b"", QboNotFound),
        (403, b"not json", QboAuthError),
        (400, b"", QboValidationError),
        (
            500,
            b'{"Fault":{"Error":[{"Message":"An application error","code":"10000"}],"type":"SystemFault"}}',
            QboServerError,
        ),
    ],
)
def test_bodies_without_a_usable_fault_fall_back_to_the_http_status(status: int, body: bytes, kind: type) -> None:
    error = error_from_response(status, body)
    assert type(error) is kind


def test_broken_json_and_xml_are_not_faults() -> None:
    assert parse_fault(b'{"Fault": ') is None
    assert parse_fault(b"<Fault><Error") is None
    assert parse_fault(b"plain text") is None


def test_reconnect_required_is_user_facing_and_names_the_command() -> None:
    error = ReconnectRequired("acme", "123", "Incorrect or invalid refresh token")
    assert isinstance(error, UserFacingError) and isinstance(error, QboError)
    assert "qbo-sftp connect acme" in str(error)
