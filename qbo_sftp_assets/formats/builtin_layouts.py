"""Named layouts that ship with the package (builtin_layouts.yaml), and layouts read from a YAML file."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats.layouts import CsvLayout, FixedWidthLayout, Layout

_LAYOUT = TypeAdapter(CsvLayout | FixedWidthLayout)


class LayoutError(UserFacingError):
    """A layout file or name cannot be used; the text says which key and why."""


@functools.cache
def builtin_layouts() -> dict[str, Layout]:
    """Every built-in layout by name (bills_csv, bills_csv_eu, gl_csv, legacy_bills_fixed)."""
    text = resources.files("qbo_sftp_assets.formats").joinpath("builtin_layouts.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {name: parse_layout(body, source=f"built-in layout {name}") for name, body in raw.items()}


def parse_layout(raw: Any, *, source: str) -> Layout:
    """A CsvLayout or FixedWidthLayout from plain data (as YAML gives it), or LayoutError naming the key."""
    if not isinstance(raw, dict) or raw.get("kind") not in ("csv", "fixed"):
        raise LayoutError(f"{source}: a layout is a mapping with kind: csv or kind: fixed")
    model = CsvLayout if raw["kind"] == "csv" else FixedWidthLayout
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top level)'}: {item['msg']}" for item in error.errors()
        )
        raise LayoutError(f"{source}: {problems}") from None


def load_layout_file(path: str | os.PathLike[str]) -> Layout:
    """A layout from a YAML file holding one layout mapping (the shape of a config `layouts:` entry)."""
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise LayoutError(f"{file}: cannot read the layout file ({error.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise LayoutError(f"{file}: not a YAML layout file ({error})") from None
    return parse_layout(raw, source=str(file))
