"""`qbo-sftp post FILE --partner NAME [--dry-run]`: read, map, validate and post one local file.

The same steps the asset graph runs on a landed file; `--dry-run` prints the payloads and the failure
table and writes nothing, not even the ledger (reference data is read into a throw-away ledger).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from qbo_sftp_assets.cli.ledger_commands import render_table
from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.ledger import Ledger, ledger_for
from qbo_sftp_assets.qbo import encode_json, qbo_client_for


class NoInboundRule(UserFacingError):
    """The partner has no inbound rule for the file's name."""

    exit_code = 2


def register(commands: argparse._SubParsersAction) -> None:
    post = commands.add_parser("post", help="read, map, validate and post one local file into QuickBooks")
    post.add_argument("file", type=Path)
    post.add_argument("--partner", required=True, help="the partner the file comes from")
    post.add_argument("--dry-run", action="store_true", help="print payloads and failures; write nothing")
    post.set_defaults(handler=post_file)


def post_file(args: argparse.Namespace) -> int:
    """`qbo-sftp post FILE --partner NAME [--dry-run]`."""
    # Mapping, validation and posting pull in pandas and pandera: only this command pays for them.
    from qbo_sftp_assets.formats import read_file
    from qbo_sftp_assets.mapping import ReferenceData, plan_postings, refresh_reference
    from qbo_sftp_assets.pipeline.inbound import inbound_rule_for
    from qbo_sftp_assets.pipeline.posting import FilePostings, post_files
    from qbo_sftp_assets.validation import validate_plan

    config = load_config(args.config)
    partner = config.partner(args.partner)
    path: Path = args.file
    if not path.is_file():
        raise UserFacingError(f"{path}: no such file")
    rule = inbound_rule_for(partner, path.name)
    if rule is None:
        patterns = ", ".join(r.pattern for r in partner.inbound) or "none configured"
        raise NoInboundRule(f"{path.name}: no inbound rule of partner {args.partner!r} matches (patterns: {patterns})")
    result = read_file(path, rule.format, config.layout(rule.layout) if rule.layout else None, name=path.name)
    for error in result.errors:
        print(f"read error: {error.render()}")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    company = config.company(partner.company)
    with qbo_client_for(config, partner.company) as client, tempfile.TemporaryDirectory() as scratch:
        # A dry run must not write the ledger, so reference data is read into a scratch ledger.
        ledger = Ledger(Path(scratch) / "reference.duckdb") if args.dry_run else ledger_for(config)
        refresh_reference(client, ledger, company.realm_id)
        reference = ReferenceData.load(ledger, company.realm_id)
        plan = plan_postings(
            result.documents,
            partner_name=args.partner,
            partner=partner,
            reference=reference,
            file_name=path.name,
            file_sha256=sha,
        )
        validated = validate_plan(plan, reference)
        print(f"{path.name}: {len(result.documents)} document(s), {len(validated.valid)} valid")
        if args.dry_run:
            for draft in validated.valid:
                print(f"\n{draft.entity_type} {draft.doc_number} (record {draft.record_index}):")
                print(json.dumps(json.loads(encode_json(draft.payload)), indent=2))
        if len(validated.failures):
            print("\nfailures:")
            print(render_table(_rows(validated.failures)))
        if args.dry_run:
            print("\ndry run: nothing was posted and nothing was written")
            return 0 if not len(validated.failures) else 1
        file = FilePostings(args.partner, company.realm_id, path.name, sha, validated, result.documents)
        outcomes = post_files(client, ledger, [file], policies={args.partner: partner.posting})[sha]
    print("\noutcomes:")
    print(
        render_table(
            [
                {
                    "record": o.record_index,
                    "document": o.document_number,
                    "status": o.status.value,
                    "qbo": f"{o.qbo_entity} {o.qbo_id}" if o.qbo_id else None,
                    "reason": o.reason,
                }
                for o in outcomes
            ]
        )
    )
    return 0 if all(o.accepted for o in outcomes) else 1


def _rows(frame: Any) -> list[dict[str, Any]]:
    columns = ["document_number", "line", "source_location", "column", "value", "check", "fix"]
    return [{c: row.get(c) for c in columns} for row in frame.to_dict("records")]
