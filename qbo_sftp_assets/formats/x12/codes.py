"""X12 acknowledgment codes by name: TA105 for interchanges, AK905 for groups, AK502 for sets, AK304
for segments and AK403 for elements (docs/edi-rules.md §3.1 and §3.4), as EDIFACT's 0085 codes are named in
`edifact.envelope`.

The values are the strings the 997 and TA1 carry; a name says when each one is used.
"""

from __future__ import annotations

# --- TA105: interchange note codes ------------------------------------------------------------------
TA1_NO_ERROR = "000"
TA1_CONTROL_NUMBER_MISMATCH = "001"  # ISA13 and IEA02 differ
TA1_INVALID_SENDER_ID = "006"  # ISA06
TA1_INVALID_RECEIVER_ID = "008"  # ISA08
TA1_INVALID_DATE = "014"  # ISA09
TA1_INVALID_TIME = "015"  # ISA10
TA1_INVALID_VERSION = "017"  # ISA12
TA1_INVALID_CONTROL_NUMBER = "018"  # ISA13
TA1_INVALID_ACK_REQUESTED = "019"  # ISA14
TA1_INVALID_USAGE = "020"  # ISA15
TA1_INVALID_GROUP_COUNT = "021"  # IEA01
TA1_INVALID_CONTROL_STRUCTURE = "022"
TA1_PREMATURE_END = "023"  # no IEA
TA1_INVALID_GROUP = "024"  # GS outside an interchange
TA1_DUPLICATE_INTERCHANGE = "025"
# TA1 codes that accept the interchange (with errors); any other rejects it.
TA1_ACCEPTING_CODES = frozenset({TA1_CONTROL_NUMBER_MISMATCH, TA1_INVALID_GROUP_COUNT})

# --- AK905: functional group errors -------------------------------------------------------------------
GROUP_NOT_SUPPORTED = "1"
GROUP_VERSION_NOT_SUPPORTED = "2"
GROUP_TRAILER_MISSING = "3"
GROUP_CONTROL_NUMBER_MISMATCH = "4"  # GS06 and GE02 differ
GROUP_SET_COUNT_MISMATCH = "5"  # GE01
GROUP_CONTROL_NUMBER_SYNTAX = "6"  # GS06

# --- AK502: transaction set errors --------------------------------------------------------------------
SET_NOT_SUPPORTED = "1"
SET_TRAILER_MISSING = "2"
SET_CONTROL_NUMBER_MISMATCH = "3"  # ST02 and SE02 differ
SET_SEGMENT_COUNT_MISMATCH = "4"  # SE01
SET_SEGMENTS_IN_ERROR = "5"
SET_INVALID_IDENTIFIER = "6"  # ST01
SET_INVALID_CONTROL_NUMBER = "7"  # ST02
SET_CONTROL_NUMBER_NOT_UNIQUE = "23"

# --- AK304: segment errors ----------------------------------------------------------------------------
SEGMENT_UNRECOGNIZED = "1"
SEGMENT_UNEXPECTED = "2"
SEGMENT_MANDATORY_MISSING = "3"
SEGMENT_EXCEEDS_MAXIMUM_USE = "5"
SEGMENT_NOT_IN_SET = "6"
SEGMENT_OUT_OF_SEQUENCE = "7"
SEGMENT_HAS_ELEMENT_ERRORS = "8"

# --- AK403: element errors ----------------------------------------------------------------------------
ELEMENT_MANDATORY_MISSING = "1"
ELEMENT_CONDITIONAL_MISSING = "2"
ELEMENT_TOO_MANY = "3"
ELEMENT_TOO_SHORT = "4"
ELEMENT_TOO_LONG = "5"
ELEMENT_INVALID_CHARACTER = "6"
ELEMENT_INVALID_CODE = "7"
ELEMENT_INVALID_DATE = "8"
ELEMENT_INVALID_TIME = "9"
