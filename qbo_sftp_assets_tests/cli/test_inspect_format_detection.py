"""Format detection from the first bytes, and layout resolution for `inspect` / `ack`."""

from __future__ import annotations

import io

import pytest

from qbo_sftp_assets.cli.format_commands import resolve_layout
from qbo_sftp_assets.formats.builtin_layouts import LayoutError, builtin_layouts, parse_layout
from qbo_sftp_assets.formats.detect import UnknownFormatError, detect_format, detect_stream_format
from qbo_sftp_assets.formats.layouts import CsvLayout, FixedWidthLayout


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"ISA*00*          *00*", "x12"),
        (b"\xef\xbb\xbfISA*00*", "x12"),
        (b"\r\n  ISA|00|", "x12"),
        (b"UNA:+.? 'UNB+UNOC:3", "edifact"),
        (b"UNB+UNOA:1+X", "edifact"),
        (b"\xef\xbb\xbf\nUNB+UNOC:3", "edifact"),
    ],
)
def test_edi_is_recognised_from_its_first_segment(head, expected):
    assert detect_format(head) == expected
    assert detect_format(head, CsvLayout()) == expected  # the envelope wins over a layout


def test_flat_files_take_the_layout_kind():
    assert detect_format(b"Vendor,Amount\r\n", CsvLayout()) == "csv"
    assert detect_format(b"H0001", builtin_layouts()["legacy_bills_fixed"]) == "fixed"
    with pytest.raises(UnknownFormatError, match="pass --layout"):
        detect_format(b"Vendor,Amount\r\n", None, name="x.csv")


def test_stream_detection_leaves_the_stream_where_it_was():
    stream = io.BytesIO(b"xxISA*00*")
    stream.seek(2)
    assert detect_stream_format(stream) == "x12" and stream.tell() == 2


def test_builtin_layouts_are_valid_and_named():
    layouts = builtin_layouts()
    assert set(layouts) == {"bills_csv", "bills_csv_eu", "gl_csv", "legacy_bills_fixed"}
    assert isinstance(layouts["gl_csv"], CsvLayout) and layouts["gl_csv"].document == "journal_entry"
    assert isinstance(layouts["legacy_bills_fixed"], FixedWidthLayout)


def test_parse_layout_names_the_bad_key():
    with pytest.raises(LayoutError, match=r"records\.D\.fields\.0\.start"):
        parse_layout(
            {"kind": "fixed", "records": {"D": {"role": "detail", "fields": [{"name": "a", "start": 0, "length": 1}]}}},
            source="x",
        )
    with pytest.raises(LayoutError, match="kind: csv or kind: fixed"):
        parse_layout(["not", "a", "mapping"], source="x")


def test_resolve_layout_ignores_a_missing_default_config(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QBO_SFTP_CONFIG", raising=False)
    assert resolve_layout("gl_csv", None) == builtin_layouts()["gl_csv"]


def test_resolve_layout_reads_the_default_config_when_it_exists(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QBO_SFTP_CONFIG", raising=False)
    (tmp_path / "qbo_sftp.yaml").write_text("layouts:\n  partner_a:\n    kind: csv\n    delimiter: '|'\n")
    assert resolve_layout("partner_a", None).delimiter == "|"
    with pytest.raises(LayoutError, match="known: bills_csv, bills_csv_eu, gl_csv, legacy_bills_fixed, partner_a"):
        resolve_layout("partner_b", None)
