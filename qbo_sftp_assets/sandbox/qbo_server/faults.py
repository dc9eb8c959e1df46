"""QBO fault bodies (JSON, gateway lower-case JSON, XML) and the exception the handlers raise."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

OBJECT_NOT_FOUND_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


@dataclass
class FaultError:
    """One `Error` element of a Fault."""

    code: str
    message: str
    detail: str = ""
    element: str = ""

    def as_json(self) -> dict[str, str]:
        return {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}


class QboFault(Exception):
    """A fault the API answers with: HTTP status, fault type, and one or more errors."""

    def __init__(self, status: int, errors: list[FaultError], fault_type: str = "ValidationFault") -> None:
        super().__init__(f"{status} {fault_type}: " + "; ".join(f"{e.code} {e.message}" for e in errors))
        self.status = status
        self.errors = errors
        self.fault_type = fault_type

    def fault_json(self) -> dict:
        return {"Error": [error.as_json() for error in self.errors], "type": self.fault_type}


def validation_fault(code: str, message: str, detail: str = "", element: str = "", status: int = 400) -> QboFault:
    return QboFault(status, [FaultError(code, message, detail, element)])


def required_param_missing(element: str) -> QboFault:
    return validation_fault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element,
    )


def invalid_reference(entity_plural: str, ref_id: str, element: str) -> QboFault:
    return validation_fault(
        "2500", "Invalid Reference Id", f"Invalid Reference Id : {entity_plural} element id {ref_id} not found", element
    )


def object_not_found(element: str = "") -> QboFault:
    return validation_fault("610", "Object Not Found", OBJECT_NOT_FOUND_DETAIL, element)


def stale_object() -> QboFault:
    return validation_fault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and sandbox-user were working on this at the same time. "
        "sandbox-user finished before you did, so your work was not saved.",
    )


# 6000 is QBO's business-validation family (Intuit's error-code page); the exact detail texts are the sandbox's own.
def business_validation(detail: str, element: str = "") -> QboFault:
    return validation_fault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def duplicate_document_number(doc_number: str, txn_type: str, txn_id: str) -> QboFault:
    return validation_fault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has already "
        f"been used. DocNumber={doc_number} is assigned to TxnType={txn_type} with TxnId={txn_id}",
        "DocNumber",
    )


def duplicate_name(kind: str) -> QboFault:
    return validation_fault(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this name. Please use a different name.",
        "Name",
    )


# Code 500 "Unsupported Operation" is what python-quickbooks maps to UnsupportedException (500-599).
def unsupported_operation(operation: str, entity: str) -> QboFault:
    return validation_fault(
        "500", "Unsupported Operation", f"Operation {operation} is not supported for {entity}.", "operation"
    )


def query_parser_error(detail: str) -> QboFault:
    return validation_fault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QboFault:
    return validation_fault("4001", "Invalid query", f"QueryValidationError: {detail}")


def request_body_error(detail: str) -> QboFault:
    return validation_fault("2010", "Request has invalid or unsupported property", detail)


def throttle_fault() -> QboFault:
    return QboFault(
        429,
        [
            FaultError(
                "3001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "The request limit was reached.  Try again later",
            )
        ],
        fault_type="SERVICE",
    )


def server_fault(status: int) -> QboFault:
    message = "An application error has occurred while processing your request"
    if status == 503:
        message = "Service is temporarily unavailable"
    return QboFault(status, [FaultError("10000", message, f"System Failure Error: HTTP {status}")], "SystemFault")


def fault_envelope(fault: QboFault, time_text: str) -> dict:
    """The usual API fault body: `{"Fault": {"Error": [...], "type": ...}, "time": ...}`."""
    return {"Fault": fault.fault_json(), "time": time_text}


def gateway_fault_body(code: str, name: str, status: int, detail: str | None, fault_type: str, epoch_ms: int) -> dict:
    """The API gateway's body for auth failures (401/3200, 403/3100): lower-case keys, null padding."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": f"message={name}; errorCode={int(code):06d}; statusCode={status}",
                    "detail": detail,
                    "code": code,
                    "element": None,
                }
            ],
            "type": fault_type,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }


def fault_xml(fault: QboFault, time_text: str) -> str:
    """The XML form QBO sometimes sends even to JSON clients (seen for throttling)."""
    errors = "".join(
        f'<Error code="{escape(e.code)}"'
        + (f' element="{escape(e.element)}"' if e.element else "")
        + f"><Message>{escape(e.message)}</Message><Detail>{escape(e.detail)}</Detail></Error>"
        for e in fault.errors
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{escape(time_text)}">'
        f'<Fault type="{escape(fault.fault_type)}">{errors}</Fault></IntuitResponse>'
    )
