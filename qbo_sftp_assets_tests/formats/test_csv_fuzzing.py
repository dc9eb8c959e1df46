"""Hypothesis fuzzing of the CSV reader: any bytes give a ReadResult or a CsvParseError, nothing else."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.csv_format import read_csv
from qbo_sftp_assets.formats.errors import CsvParseError
from qbo_sftp_assets.formats.results import ReadResult
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "flat"
LAYOUTS = [builtin_layouts()[name] for name in ("bills_csv", "bills_csv_eu", "gl_csv")]
VALID = [(DATA / "bills.csv").read_bytes(), (DATA / "gl.csv").read_bytes()]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_or_parse_error(data: bytes, layout) -> None:
    try:
        result = read_csv(io.BytesIO(data), layout, name="fuzz.csv")
    except CsvParseError as error:
        assert error.render().startswith("fuzz.csv")
        return
    assert isinstance(result, ReadResult)
    for error in result.errors:
        assert isinstance(error, CsvParseError) and error.line is not None
    result.as_dict()


@FUZZ
@given(data=st.binary(max_size=400), layout=st.sampled_from(LAYOUTS))
def test_arbitrary_bytes(data, layout):
    read_or_parse_error(data, layout)


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = draw(st.sampled_from([*b',;"\r\n()-.\x00\xff\xe9', *range(256)]))
        if action == "insert" or position == len(data):
            data.insert(position, byte)
        elif action == "flip":
            data[position] = byte
        else:
            del data[position]
    return bytes(data)


@FUZZ
@given(data=mutated(), layout=st.sampled_from(LAYOUTS))
def test_mutated_valid_files(data, layout):
    read_or_parse_error(data, layout)
