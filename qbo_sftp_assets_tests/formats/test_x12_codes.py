"""X12's acknowledgment codes have names (`x12/codes.py`), and the envelope checks use them, not bare strings."""

from __future__ import annotations

import re
from pathlib import Path

from qbo_sftp_assets.formats.x12 import codes, read_x12
from qbo_sftp_assets.formats.x12 import envelope as envelope_module

ISA = "ISA*00*          *00*          *ZZ*ACMESUPPLY     *ZZ*OURCOMPANY     *{date}*0930*U*00401*000000101*0*P*>"
BODY = ["ST*810*0001", "BIG*20261118*INV-1", "N1*SE*Acme", "IT1*1*1*EA*1", "TDS*100", "SE*6*0001"]


def interchange(date: str = "261120", *, tail: tuple[str, ...] = ("GE*1*101", "IEA*1*000000101")) -> bytes:
    segments = [ISA.format(date=date), "GS*IN*ACMESUPPLY*OURCOMPANY*20261120*0930*101*X*004010", *BODY, *tail]
    return ("~".join(segments) + "~").encode()


def test_the_envelope_reports_named_codes() -> None:
    _, ack = read_x12(interchange(date="261340"))
    assert ack.interchanges[0].codes == [codes.TA1_INVALID_DATE]
    _, ack = read_x12(interchange(tail=("GE*2*101", "IEA*1*000000101")))
    assert ack.interchanges[0].groups[0].codes == [codes.GROUP_SET_COUNT_MISMATCH]
    _, ack = read_x12(interchange(tail=("GE*1*101",)))
    assert ack.interchanges[0].codes == [codes.TA1_PREMATURE_END]
    assert {codes.TA1_CONTROL_NUMBER_MISMATCH, codes.TA1_INVALID_GROUP_COUNT} == codes.TA1_ACCEPTING_CODES


def test_envelope_checks_carry_no_bare_code_strings() -> None:
    source = Path(envelope_module.__file__).read_text()
    # TA1 codes are three digits from 000; group and set codes are appended to a `codes` list.
    assert re.findall(r'"0\d\d"', source) == []
    assert re.findall(r'codes\.append\("\d+"\)', source) == []
