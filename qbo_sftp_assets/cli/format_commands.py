"""`qbo-sftp inspect` and `qbo-sftp ack`: read one file offline, print its documents or its acknowledgment.

Exit status: 0 the file is valid (every document accepted), 2 it is not (errors on stderr as
`file:line-or-segment: message`; the JSON or the ack is still printed), 1 nothing could be read
(no such file, unknown layout, bad option).
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import sys
from pathlib import Path

from qbo_sftp_assets.config import ConfigError, config_path, load_config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats import (
    SNIFF_BYTES,
    FormatName,
    InMemoryControlNumbers,
    Layout,
    LayoutError,
    acknowledge_file,
    detect_format,
    load_layout_file,
    read_file,
)
from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts

FORMAT_CHOICES = ("auto", "csv", "fixed", "x12", "edifact")
EXIT_VALID, EXIT_CANNOT_READ, EXIT_INVALID = 0, 1, 2
MAX_CONTROL_NUMBER = 999_999_999  # X12 ISA13 / GS06 are at most 9 digits


class InputFileError(UserFacingError):
    """The file named on the command line cannot be opened."""


class OptionError(UserFacingError):
    """A command-line option has a value the command cannot use."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `inspect` and `ack` to the `qbo-sftp` parser."""
    inspect = commands.add_parser(
        "inspect",
        help="read a CSV, fixed-width, X12 or EDIFACT file offline and print its documents as JSON",
        description="Print the documents of FILE as JSON on stdout; errors go to stderr. "
        "Exit 0 when the file is valid, 2 when it is not.",
    )
    _add_file_options(inspect)
    inspect.add_argument(
        "--our-id",
        action="append",
        default=[],
        metavar="ID",
        help="an X12 id we send under (ISA06 or GS02); an 810 sent under it holds our invoices to the "
        "N1*BT customers (default: every partner's x12.our_id and our_group_id in the config file)",
    )
    inspect.set_defaults(handler=run_inspect)

    ack = commands.add_parser(
        "ack",
        help="print the acknowledgment a file would get (997/TA1, CONTRL, or the flat-file CSV ack)",
        description="Print the acknowledgment FILE would get, deterministic given --control-number and "
        "--as-of. Exit 0 when the file is accepted, 2 when the ack rejects any of it.",
    )
    _add_file_options(ack)
    ack.add_argument(
        "--control-number",
        type=_control_number,
        default=1,
        metavar="N",
        help="control number of the acknowledgment's interchange/group/set (default 1)",
    )
    ack.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        metavar="ISO-TIME",
        help="the acknowledgment's date and time, e.g. 2026-01-05T10:30:00Z (default: now; no offset means UTC)",
    )
    ack.set_defaults(handler=run_ack)


def _add_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--format", choices=FORMAT_CHOICES, default="auto", help="default: from the first bytes")
    parser.add_argument(
        "--layout",
        metavar="NAME|PATH",
        help="CSV / fixed-width layout: a built-in name ("
        + ", ".join(sorted(builtin_layouts()))
        + "), a name from the config file's layouts:, or a YAML layout file",
    )


def _control_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_CONTROL_NUMBER:
        raise argparse.ArgumentTypeError(f"{text!r} is not a control number (1 to {MAX_CONTROL_NUMBER})")
    return int(text)


def _as_of(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time like 2026-01-05T10:30:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


# --- inspect ----------------------------------------------------------------------------------------


def run_inspect(args: argparse.Namespace) -> int:
    path = _input_file(args.file)
    layout = resolve_layout(args.layout, args.config) if args.layout else None
    file_format = _file_format(path, args.format, layout)
    _check_layout(file_format, layout)
    our_ids = _our_x12_ids(args) if file_format == "x12" else frozenset()
    result = read_file(path, file_format, layout, name=args.file, our_ids=our_ids)
    sys.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n")
    for error in result.errors:
        print(error.render(), file=sys.stderr)
    return EXIT_VALID if result.ok else EXIT_INVALID


def _our_x12_ids(args: argparse.Namespace) -> frozenset[str]:
    """The ids that mark an X12 interchange as sent by us: --our-id, else the config file's."""
    if args.our_id:
        return frozenset(args.our_id)
    if not (args.config or config_path(None).is_file()):
        return frozenset()
    try:
        config = load_config(args.config)
    except ConfigError as error:
        # The file is still read, as a partner's: say why our own 810s would show as bills.
        print(f"note: our X12 ids not known ({error}); pass --our-id to read our own 810s", file=sys.stderr)
        return frozenset()
    return frozenset(i for partner in config.partners.values() if partner.x12 for i in partner.x12.our_ids())


# --- ack ----------------------------------------------------------------------------------------------


def run_ack(args: argparse.Namespace) -> int:
    path = _input_file(args.file)
    layout = resolve_layout(args.layout, args.config) if args.layout else None
    file_format = _file_format(path, args.format, layout)
    _check_layout(file_format, layout)
    acknowledged = acknowledge_file(
        path,
        file_format,
        layout,
        name=os.path.basename(args.file),
        control_numbers=InMemoryControlNumbers(args.control_number),
        as_of=args.as_of or dt.datetime.now(dt.UTC),
    )
    if not acknowledged.ack:
        print(f"{args.file}: no acknowledgment is owed (the file holds only acknowledgments)", file=sys.stderr)
    sys.stdout.buffer.write(acknowledged.ack)
    if acknowledged.ack and not acknowledged.ack.endswith(b"\n") and sys.stdout.isatty():
        # X12 and EDIFACT end on their segment terminator; a shell prompt must not follow on that line.
        # Piped or redirected, the bytes stay exactly the acknowledgment.
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    return EXIT_VALID if acknowledged.accepted else EXIT_INVALID


# --- shared -------------------------------------------------------------------------------------------


def _input_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        reason = "is a directory" if path.is_dir() else "no such file"
        raise InputFileError(f"{text}: {reason}")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{text}: not readable (permission denied)")
    return path


_FORMAT_NAMES: dict[str, FormatName] = {"x12": "x12", "edifact": "edifact", "csv": "csv", "fixed": "fixed"}


def _file_format(path: Path, requested: str, layout: Layout | None) -> FormatName:
    if requested != "auto":
        if requested in ("csv", "fixed") and layout is not None and layout.kind != requested:
            raise OptionError(f"--format {requested} does not match the layout, which is a {layout.kind} layout")
        return _FORMAT_NAMES[requested]  # argparse's choices admit only these
    with open(path, "rb") as stream:
        head = stream.read(SNIFF_BYTES)
    return detect_format(head, layout, name=str(path))


def _check_layout(format_name: str, layout: Layout | None) -> None:
    """CSV and fixed-width files need a layout of their own kind; EDI files need none."""
    if format_name not in ("csv", "fixed") or (layout is not None and layout.kind == format_name):
        return
    if layout is None:
        raise OptionError(
            f"a {format_name} file needs --layout NAME|PATH (built-in: {', '.join(sorted(builtin_layouts()))})"
        )
    raise OptionError(f"the layout is a {layout.kind} layout, not {format_name}")


def resolve_layout(spec: str, config_arg: str | None) -> Layout:
    """A layout named on the command line: a YAML file path, a config `layouts:` name, or a built-in name.

    The config file is read only when one was given with --config or exists at the default place;
    its layouts take precedence over built-ins of the same name.
    """
    candidate = Path(spec)
    if spec.endswith((".yaml", ".yml")) or candidate.is_file():
        return load_layout_file(candidate)
    configured: dict[str, Layout] = {}
    if config_arg or config_path(None).is_file():
        configured = dict(load_config(config_arg).layouts)
    if spec in configured:
        return configured[spec]
    builtins = builtin_layouts()
    if spec in builtins:
        return builtins[spec]
    known = sorted({*builtins, *configured})
    close = difflib.get_close_matches(spec, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise LayoutError(f"unknown layout {spec!r}{hint} (known: {', '.join(known)}; or give a path to a YAML layout)")
