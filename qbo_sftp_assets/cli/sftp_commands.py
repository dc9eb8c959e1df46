"""`qbo-sftp sftp ls|check|trust PARTNER`: look at a partner's SFTP folders and pin its host key."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime

from qbo_sftp_assets.config import config_path, load_config
from qbo_sftp_assets.sftp import (
    FOLDER_KINDS,
    HostKeyPins,
    PartnerFiles,
    display_name,
    fingerprint_of,
    known_hosts_line,
    open_session,
    probe_host_key,
    write_host_key_pin,
)

Ask = Callable[[str], str]


def register(commands: argparse._SubParsersAction) -> None:
    """Add this domain's sub-commands to the `qbo-sftp` parser."""
    sftp = commands.add_parser("sftp", help="look at a partner's SFTP server and pin its host key")
    actions = sftp.add_subparsers(dest="sftp_command", metavar="ACTION", required=True)

    ls = actions.add_parser("ls", help="list a partner folder with sizes and times")
    ls.add_argument("partner")
    ls.add_argument("--folder", default="inbound", choices=FOLDER_KINDS, help="which folder (default inbound)")
    ls.set_defaults(handler=list_folder)

    check = actions.add_parser("check", help="connect, verify the host key, check every folder is writable")
    check.add_argument("partner")
    check.set_defaults(handler=check_partner)

    trust = actions.add_parser("trust", help="show the server's host key and, if you confirm, pin it")
    trust.add_argument("partner")
    trust.add_argument("--yes", action="store_true", help="pin without asking (only after checking out of band)")
    trust.set_defaults(handler=trust_partner)


def list_folder(args: argparse.Namespace) -> int:
    partner = load_config(args.config).partner(args.partner)
    with open_session(partner.sftp, partner=args.partner) as session:
        files = PartnerFiles(session, partner.folders, partner.readiness)
        path = files.folder(args.folder)
        entries = files.list_folder(args.folder)
    skipped = entries.skipped
    count = f"{len(entries)} entries" + (f", {len(skipped)} skipped" if skipped else "")
    print(f"{args.partner} {args.folder}: {display_name(path)} ({count})")
    # Names are printed escaped (control characters, non-UTF-8 bytes): one entry is always one line.
    for entry in entries:
        kind = "" if entry.is_file else "  [not a regular file]"
        print(f"{entry.size:>12}  {entry.modified:%Y-%m-%d %H:%M:%S}Z  {display_name(entry.name)}{kind}")
    for skip in skipped:
        when = datetime.fromtimestamp(skip.mtime, tz=UTC)
        print(f"{skip.size:>12}  {when:%Y-%m-%d %H:%M:%S}Z  {skip.display}  [skipped: {skip.reason}]")
    return 0


def check_partner(args: argparse.Namespace) -> int:
    partner = load_config(args.config).partner(args.partner)
    endpoint = partner.sftp
    with open_session(endpoint, partner=args.partner) as session:
        print(f"connected to {session.where}; host key verified: {session.host_key_fingerprint}")
        statuses = PartnerFiles(session, partner.folders, partner.readiness).check_folders()
    problems = [s for s in statuses if not (s.exists and s.writable)]
    for status in statuses:
        verdict = "ok" if status.exists and status.writable else status.problem.upper()
        print(f"  {status.kind:<11} {status.path:<40} {verdict}")
    if problems:
        listing = ", ".join(f"{s.kind} ({s.problem})" for s in problems)
        print(
            f"{len(problems)} folder(s) not usable: {listing}. Create them on the server (or ask the partner), "
            f"or fix partners.{args.partner}.folders."
        )
        return 1
    print("all folders exist and are writable")
    return 0


def trust_partner(args: argparse.Namespace, ask: Ask | None = None) -> int:
    path = config_path(args.config)
    partner = load_config(path).partner(args.partner)
    endpoint = partner.sftp
    key = probe_host_key(endpoint, partner=args.partner)
    fingerprint = fingerprint_of(key)
    print(f"{endpoint.host}:{endpoint.port} (partner {args.partner!r}) presents this host key:")
    print(f"  {key.get_name()} {fingerprint}")
    pins = HostKeyPins.parse(endpoint.host_keys)
    if pins.accepts(endpoint.host, endpoint.port, key):
        print("It is already pinned; nothing to do.")
        return 0
    expected = pins.expected_for(endpoint.host, endpoint.port)
    if expected:
        print(
            f"WARNING: this is NOT the pinned key ({', '.join(expected)}). The server's key changed, or "
            "someone is in the middle. Only continue if the partner confirmed the new fingerprint."
        )
    print("Compare the fingerprint with the one the partner gave you (by phone or another channel).")
    if not args.yes:
        try:
            answer = (ask or input)(f"Pin this key in {path}? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Not pinned; nothing was written.")
            return 1
    line = known_hosts_line(endpoint.host, endpoint.port, key)
    write_host_key_pin(path, args.partner, line)
    print(f"Pinned in {path} under partners.{args.partner}.sftp.host_keys:\n  {line}")
    return 0
