"""What must hold after every scenario, judged from the sandbox's own data, the SFTP tree and the ledger:
every dropped file filed (archive/ or error/) with a ledger row and an acknowledgment, nothing left in
processing/, no QuickBooks document created twice, no postable document missing, no secret in any file."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from qbo_sftp_assets.qbo.redaction import basic_credential, secret_encodings
from qbo_sftp_assets.sandbox.qbo_server import FIRST_REALM_ID
from qbo_sftp_assets_tests.faults.world import INBOUND_PARTNERS, Site, World

FILED_FOLDERS = ("archive", "archive/duplicates", "error")


@dataclass
class Figures:
    """One row of the table."""

    scenario: str
    files: int = 0
    documents: int = 0
    posted: int = 0
    rejected: int = 0
    duplicates: int = 0
    lost: int = 0
    leaked: int = 0
    recovery_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    known_failure: str | None = None
    missed: list[str] = field(default_factory=list)  # faults never injected: the scenario proved nothing

    @property
    def clean(self) -> bool:
        return self.duplicates == 0 and self.lost == 0 and self.leaked == 0 and not self.missed


def bills_by_number(world: World, prefix: str) -> Counter[str]:
    """Live transactions in the sandbox's store whose DocNumber starts with the scenario's prefix."""
    state = world.env.qbo.state
    counts: Counter[str] = Counter()
    with state.lock:
        store = state.realms[FIRST_REALM_ID].store
        for kind in ("Bill", "VendorCredit", "JournalEntry"):
            for row in store.rows.get(kind, {}).values():
                number = row.data.get("DocNumber") or ""
                if not row.deleted and number.startswith(prefix):
                    counts[number] += 1
    return counts


def check_files(site: Site) -> tuple[int, list[str]]:
    """Files not filed with a ledger row and an ack, and anything left in processing/ or inbound/."""
    problems = []
    ledger = site.ledger()
    for partner, name in site.dropped:
        where = [kind for kind in FILED_FOLDERS if (site.folder(partner, kind) / name).is_file()]
        rows = ledger.query(
            "SELECT id, sha256, stage, detail FROM inbound_files WHERE partner = ? AND remote_path LIKE ? ORDER BY id",
            [partner, f"%/{name}"],
        )
        acks = [p.name for p in site.folder(partner, "acks").iterdir() if p.name.startswith(name + ".")]
        ack_rows = 0
        if rows:
            ack_rows = ledger.query(
                "SELECT count(*) FROM acknowledgments WHERE direction = 'sent' AND file_sha256 = ?", [rows[-1][1]]
            )[0][0]
        if len(where) != 1:
            problems.append(f"{partner}/{name}: in {where or 'no filed folder'}")
        elif not rows or rows[-1][2] != "filed":
            problems.append(f"{partner}/{name}: ledger row {rows[-1] if rows else 'missing'}")
        elif (not acks or not ack_rows) and not unanswerable(rows[-1][3], where[0]):
            problems.append(f"{partner}/{name}: acks on the server {acks}, ack rows in the ledger {ack_rows}")
    for partner in INBOUND_PARTNERS:
        for kind in ("processing", "inbound"):
            left = sorted(p.name for p in site.folder(partner, kind).iterdir() if not p.name.startswith("."))
            if left:
                problems.append(f"{partner}/{kind}/ still holds {left}")
    return len(problems), problems


def secrets_of(world: World) -> set[str]:
    world.remember_tokens()
    settings = world.env.qbo.settings
    values = {settings.client_secret, basic_credential(settings.client_id, settings.client_secret)}
    values |= world.seen_tokens | world.extra_secrets
    return {encoded for value in values for encoded in secret_encodings(value) if len(encoded) >= 8}


def leaked_secrets(world: World, folder: Path, token_store: Path) -> list[str]:
    """Files under `folder` (the token store aside) holding any encoding of any secret."""
    pattern = re.compile(b"|".join(re.escape(s.encode()) for s in sorted(secrets_of(world), key=len, reverse=True)))
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or (path.name.startswith(token_store.name) and path.parent == token_store.parent):
            continue
        hits = {m.group(0) for m in pattern.finditer(path.read_bytes())}
        if hits:
            found.append(f"{path.relative_to(folder)}: {len(hits)} secret(s)")
    return found


def check_site(site: Site, recovery_seconds: float) -> Figures:
    """The row for a pipeline scenario, after its recovery run."""
    world = site.world
    figures = Figures(site.name, files=len(site.dropped), recovery_seconds=recovery_seconds, notes=list(site.notes))
    figures.missed = list(site.missed)
    stored = bills_by_number(world, site.code)
    figures.documents = len(site.expected) + site.untracked_docs
    tracked = {e.doc_number for e in site.expected}
    figures.duplicates = sum(count - 1 for count in stored.values() if count > 1)
    figures.duplicates += max(0, world.sandbox_stats()["duplicate_documents_stored"] - world.duplicates_before)
    figures.posted = sum(1 for e in site.expected if stored[e.doc_number]) + sum(
        1 for number in stored if number not in tracked
    )
    figures.rejected = sum(1 for e in site.expected if not e.postable and not stored[e.doc_number])
    missing = [e.doc_number for e in site.expected if e.postable and not stored[e.doc_number]]
    wrongly = [e.doc_number for e in site.expected if not e.postable and stored[e.doc_number]]
    lost_files, problems = check_files(site)
    figures.lost = lost_files + len(missing)
    figures.problems = [f"fault not injected: {m}" for m in site.missed] + problems
    figures.problems += [f"document {n} never reached QuickBooks" for n in missing]
    figures.problems += [f"document {n} with an unmapped account was posted" for n in wrongly]
    token_store = Path(site.world.env.config().tokens.path)
    leaks = leaked_secrets(world, site.root, token_store)
    figures.leaked = len(leaks)
    figures.problems += leaks
    return figures


def unanswerable(detail: str | None, folder: str) -> bool:
    """A file nobody can be acknowledged for (no envelope to answer) is filed to error/ saying so."""
    return folder == "error" and "no acknowledgment can be sent" in (detail or "")
