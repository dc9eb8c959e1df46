"""Writing a host-key pin into the configuration file by a minimal text edit that keeps everything else
(comments, order, quoting) exactly as it was, and verifying the result before it replaces the file.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from qbo_sftp_assets.sftp.errors import SftpError


class PinWriteError(SftpError):
    """The pin could not be added safely; the message carries the line to add by hand."""


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _after_line(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def add_host_key_pin(text: str, partner: str, pin: str) -> str:
    """Return `text` with `pin` appended to `partners.<partner>.sftp.host_keys` (unchanged if present)."""
    manual = f"add it by hand under partners.{partner}.sftp.host_keys:\n  - {json.dumps(pin)}"
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        raise PinWriteError(f"the configuration is not valid YAML ({error}); {manual}") from None
    partners = _child(root, "partners")
    found = _child(partners[1] if partners else None, partner)
    sftp = _child(found[1], "sftp") if found else None
    if sftp is None or not isinstance(sftp[1], yaml.MappingNode):
        raise PinWriteError(f"partners.{partner}.sftp is not a mapping in the file; {manual}")
    sftp_node = sftp[1]
    quoted = json.dumps(pin)
    existing = _child(sftp_node, "host_keys")
    if existing is None:
        if sftp_node.flow_style:
            at = sftp_node.start_mark.index + 1
            edited = f"{text[:at]}host_keys: [{quoted}], {text[at:]}"
        else:
            first_key = sftp_node.value[0][0]
            at = _line_start(text, first_key.start_mark.index)
            indent = " " * first_key.start_mark.column
            edited = f"{text[:at]}{indent}host_keys:\n{indent}  - {quoted}\n{text[at:]}"
    else:
        key_node, value = existing
        if isinstance(value, yaml.SequenceNode) and any(getattr(item, "value", None) == pin for item in value.value):
            return text
        if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
            first, last = value.value[0], value.value[-1]
            line = text[_line_start(text, first.start_mark.index) : first.start_mark.index]
            dash_column = line.rfind("-")
            at = last.end_mark.index if last.end_mark.column == 0 else _after_line(text, last.end_mark.index)
            prefix = "" if text[:at].endswith("\n") else "\n"
            edited = f"{text[:at]}{prefix}{' ' * dash_column}- {quoted}\n{text[at:]}"
        elif isinstance(value, yaml.SequenceNode):
            items = [json.dumps(item.value) for item in value.value if isinstance(item, yaml.ScalarNode)]
            flow = "[" + ", ".join([*items, quoted]) + "]"
            edited = text[: value.start_mark.index] + flow + text[value.end_mark.index :]
        elif isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null"):
            if value.start_mark.index == value.end_mark.index:
                colon = text.index(":", key_node.end_mark.index) + 1
                edited = f"{text[:colon]} [{quoted}]{text[colon:]}"
            else:
                edited = text[: value.start_mark.index] + f"[{quoted}]" + text[value.end_mark.index :]
        else:
            raise PinWriteError(f"partners.{partner}.sftp.host_keys is not a list; {manual}")
    _verify(text, edited, partner, pin, manual)
    return edited


def _verify(before: str, after: str, partner: str, pin: str, manual: str) -> None:
    """The edit must add exactly the pin and change nothing else in the data."""
    try:
        old: Any = yaml.safe_load(before)
        new: Any = yaml.safe_load(after)
    except yaml.YAMLError:
        raise PinWriteError(f"editing the file would break its YAML; {manual}") from None
    expected = copy.deepcopy(old)
    sftp = expected["partners"][partner]["sftp"]
    sftp["host_keys"] = [*(sftp.get("host_keys") or []), pin]
    if new != expected:
        raise PinWriteError(f"editing the file would change more than the pin; {manual}")


def write_host_key_pin(path: Path, partner: str, pin: str) -> bool:
    """Add the pin to the file at `path` atomically (same mode); False if it was already there."""
    text = path.read_text(encoding="utf-8")
    edited = add_host_key_pin(text, partner, pin)
    if edited == text:
        return False
    mode = path.stat().st_mode & 0o7777
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(edited)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return True
