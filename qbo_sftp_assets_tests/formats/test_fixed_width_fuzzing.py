"""Hypothesis fuzzing of the fixed-width reader: any bytes give a ReadResult or a FixedWidthParseError."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.errors import FixedWidthParseError
from qbo_sftp_assets.formats.fixed_width import read_fixed_width
from qbo_sftp_assets_tests.formats.test_fixed_width_reading import GL_FIXED
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "flat"
LAYOUTS = [builtin_layouts()["legacy_bills_fixed"], GL_FIXED]
VALID = (DATA / "legacy_bills.txt").read_bytes()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_or_parse_error(data: bytes, layout) -> None:
    try:
        result = read_fixed_width(io.BytesIO(data), layout, name="fuzz.txt")
    except FixedWidthParseError as error:
        assert error.line is not None
        return
    for error in result.errors:
        assert isinstance(error, FixedWidthParseError) and error.line is not None
    result.as_dict()


@FUZZ
@given(data=st.binary(max_size=400), layout=st.sampled_from(LAYOUTS))
def test_arbitrary_bytes(data, layout):
    read_or_parse_error(data, layout)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID)), st.sampled_from([*b"HDT0123456789{}AJ-+ \t\r\n\x00\x81\xff", 0x7F])),
        min_size=1,
        max_size=8,
    ),
    delete=st.booleans(),
)
def test_mutated_valid_file(edits, delete):
    data = bytearray(VALID)
    for position, byte in edits:
        if delete and position < len(data):
            del data[position]
        else:
            data[min(position, len(data) - 1)] = byte
    read_or_parse_error(bytes(data), LAYOUTS[0])
