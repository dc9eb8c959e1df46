"""Remote names that stay inside their folder: validation, joining, and clash-free alternatives."""

from __future__ import annotations

import posixpath
import unicodedata

from qbo_sftp_assets.sftp.errors import UnsafeRemoteNameError

MAX_NAME_BYTES = 255
# Bidirectional overrides can make a name display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def check_remote_name(name: str) -> str:
    """Return `name` unchanged if it is one safe file name; raise UnsafeRemoteNameError saying why not."""
    problem = _name_problem(name)
    if problem:
        raise UnsafeRemoteNameError(
            f"refusing remote file name {name!r}: {problem}. A remote name must be a single file name "
            "inside its folder (spaces and non-ASCII letters are fine)."
        )
    return name


def name_problem(name: str) -> str | None:
    """Why `name` is not one safe file name, or None when it is."""
    return _name_problem(name)


def display_name(name: str | bytes) -> str:
    """`name` as one printable line: control, bidi and line-separator characters as \\xNN / \\uNNNN,
    bytes that are not UTF-8 as \\xNN, and a backslash doubled, so no name can pass for another
    line of output or for another name."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="surrogateescape")
    out = []
    for char in name:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs") or char in _BIDI_CONTROLS:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _name_problem(name: str) -> str | None:
    if not isinstance(name, str) or not name:
        return "it is empty"
    if name in (".", ".."):
        return "it names a folder, not a file"
    if name.startswith("/"):
        return "it is an absolute path"
    if "/" in name or "\\" in name:
        return "it contains a path separator"
    if "\x00" in name:
        return "it contains a NUL character"
    for char in name:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS:
            return f"it contains the control character U+{ord(char):04X}"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def check_remote_folder(path: str) -> str:
    """Return a normalised folder path (absolute or relative) whose parts are all safe names."""
    if not path or path in ("/", "."):
        return path or "."
    absolute = path.startswith("/")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    for part in parts:
        problem = _name_problem(part)
        if problem:
            raise UnsafeRemoteNameError(
                f"refusing remote folder {path!r}: the part {part!r} is unsafe ({problem}). "
                "Fix the folder in the partner's configuration."
            )
    joined = "/".join(parts)
    return ("/" + joined) if absolute else (joined or ".")


def join_folder(root: str, folder: str) -> str:
    """The folder `folder` under the remote `root` (an absolute `folder` ignores the root)."""
    folder = check_remote_folder(folder)
    if folder.startswith("/") or not root:
        return folder
    root = check_remote_folder(root)
    return folder if root == "." else posixpath.join(root, folder) if folder != "." else root


def remote_path(folder: str, name: str) -> str:
    """`folder/name` after checking that `name` is one safe file name."""
    check_remote_name(name)
    return name if folder in ("", ".") else posixpath.join(folder, name)


def numbered_name(name: str, number: int) -> str:
    """`invoice.csv` -> `invoice-2.csv`: an alternative name that keeps the extension (and the glob)."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return f"{name}-{number}"
    return f"{stem}-{number}.{extension}"
