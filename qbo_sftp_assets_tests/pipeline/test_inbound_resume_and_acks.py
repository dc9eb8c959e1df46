"""The inbound steps on the embedded SFTP server and the QBO sandbox: a crash at any stage is finished once,
duplicates are answered (CSV ack naming the earlier file, TA1 R 025), replays write ack revisions, 824s."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from qbo_sftp_assets.config import Config, load_config
from qbo_sftp_assets.demo import PARTNER_CLOCK
from qbo_sftp_assets.embedded import COMPANY, EmbeddedEnvironment, connect_company, embedded_environment
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef
from qbo_sftp_assets.formats.edifact import write_invoic
from qbo_sftp_assets.formats.edifact.aperak import read_aperak
from qbo_sftp_assets.formats.outcomes import DocumentOutcome
from qbo_sftp_assets.formats.x12 import Parties, write_810
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping import ReferenceData, plan_postings, refresh_reference
from qbo_sftp_assets.pipeline import inbound, inbound_batch
from qbo_sftp_assets.pipeline.inbound import FiledFile, LandedFile, ParsedFile
from qbo_sftp_assets.pipeline.posting import FilePostings, post_files
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.sftp import PartnerFiles, partner_files
from qbo_sftp_assets.validation import validate_plan

CSV_PARTNER = "legacy_erp"
X12_PARTNER = "great_lakes_steel"
HEADER = "Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"


@dataclass
class Site:
    env: EmbeddedEnvironment
    config: Config
    ledger: Ledger
    landing: Path

    @contextlib.contextmanager
    def files(self, partner: str = CSV_PARTNER) -> Iterator[PartnerFiles]:
        with partner_files(partner, self.config.partner(partner)) as files:
            yield files

    def folder(self, partner: str, kind: str) -> Path:
        return self.env.sftp.root / partner / kind

    def drop(self, partner: str, name: str, content: bytes) -> None:
        with self.files(partner) as files:
            files.upload(content, name, kind="inbound")

    def with_config(self, edit) -> Site:
        """The same site with an edited copy of the config (a person fixing the mapping, say)."""
        raw = yaml.safe_load(self.env.config_path.read_text())
        edit(raw)
        path = self.env.workdir / f"qbo_sftp_{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return Site(self.env, load_config(path), self.ledger, self.landing)

    def bills(self, number: str) -> int:
        with qbo_client_for(self.config, COMPANY) as client:
            return client.count("Bill", f"DocNumber = '{number}'")

    def acks(self, partner: str, name: str) -> list[str]:
        return sorted(p.name for p in self.folder(partner, "acks").iterdir() if p.name.startswith(name + "."))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("inbound_steps")
    with embedded_environment(workdir) as env:
        env_vars = dict(env.environ)
        with _environ(env_vars):
            connect_company(env)
            config = env.config()
            ledger = Ledger(config.ledger.path)
            with qbo_client_for(config, COMPANY) as client:
                refresh_reference(client, ledger, client.realm_id)
            yield Site(env, config, ledger, workdir / "landing")


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    from qbo_sftp_assets.embedded import environment_variables

    with environment_variables(values):
        yield


# --- the steps, as the asset graph runs them -------------------------------------------------------


def post(site: Site, parsed: ParsedFile) -> list[DocumentOutcome] | None:
    if parsed.duplicate_of is not None or parsed.result is None:
        return None
    landed = parsed.landed
    partner = site.config.partner(landed.partner)
    with qbo_client_for(site.config, COMPANY) as client:
        reference = ReferenceData.load(site.ledger, client.realm_id)
        plan = plan_postings(
            parsed.result.documents,
            partner_name=landed.partner,
            partner=partner,
            reference=reference,
            file_name=landed.name,
            file_sha256=landed.sha256,
        )
        validated = validate_plan(plan, reference)
        file = FilePostings(
            landed.partner, client.realm_id, landed.name, landed.sha256, validated, parsed.result.documents
        )
        return post_files(client, site.ledger, [file], policies={landed.partner: partner.posting})[landed.sha256]


def run_all(site: Site, name: str, partner: str = CSV_PARTNER) -> tuple[FiledFile | None, ParsedFile | None]:
    with site.files(partner) as files:
        landed = inbound.land_one(files, partner, name, site.ledger, site.landing)
        if landed is None:
            return None, None
        parsed = inbound.read_landed_file(landed, site.config, site.ledger)
        outcomes = post(site, parsed)
        return inbound.acknowledge_and_file(files, parsed, outcomes, site.config, site.ledger), parsed


def csv_bills(*numbers: str, account: str = "5100") -> bytes:
    rows = [HEADER] + [
        f"100871,Precision Machining Partners,{n},2026-11-18,2026-12-18,{account},Brackets,612.40\r\n" for n in numbers
    ]
    return "".join(rows).encode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


def inbound_rows(site: Site, name: str) -> list[tuple]:
    return site.ledger.query(
        "SELECT id, duplicate_of, stage FROM inbound_files WHERE remote_path LIKE ? ORDER BY id", [f"%/{name}"]
    )


# --- resume ----------------------------------------------------------------------------------------


class Crash(RuntimeError):
    """Stands in for the process dying at this point."""


def _dying_move(after_moving: bool):
    original = PartnerFiles.move

    def move(self, *args, **kwargs):
        if after_moving:
            original(self, *args, **kwargs)  # the file moved; the ledger never heard of it
        raise Crash("move")

    return move


def partial_run(site: Site, name: str, stage: str, monkeypatch) -> None:
    """Run the steps up to `stage` and stop there, as a crash would."""
    with site.files() as files:
        if stage == "claim":
            files.claim(name)
            return
        landed = inbound.land_one(files, CSV_PARTNER, name, site.ledger, site.landing)
        assert landed is not None
        if stage == "download":
            return
        parsed = inbound.read_landed_file(landed, site.config, site.ledger)
        outcomes = post(site, parsed)
        if stage == "post":
            return
        # "ack": the ack went up and was recorded, the file never moved; "move": it moved, unrecorded.
        monkeypatch.setattr(PartnerFiles, "move", _dying_move(after_moving=stage == "move"))
        with pytest.raises(Crash):
            inbound.acknowledge_and_file(files, parsed, outcomes, site.config, site.ledger)
        monkeypatch.undo()


@pytest.mark.parametrize("stage", ["claim", "download", "post", "ack", "move"])
def test_a_file_interrupted_at_any_stage_is_finished_exactly_once(site: Site, stage: str, monkeypatch):
    number, name = unique("RSM"), f"AP_resume_{stage}_{uuid.uuid4().hex[:4]}.csv"
    site.drop(CSV_PARTNER, name, csv_bills(number))
    partial_run(site, name, stage, monkeypatch)

    filed, _parsed = run_all(site, name)
    if stage == "move":
        assert filed is None  # already in archive/: nothing left to do, nothing done twice
    else:
        assert filed is not None and filed.status == "accepted", filed
    assert site.bills(number) == 1
    assert site.acks(CSV_PARTNER, name) == [f"{name}.ack.csv"]  # sent once, no revision of itself
    assert (site.folder(CSV_PARTNER, "archive") / name).exists()
    assert not (site.folder(CSV_PARTNER, "processing") / name).exists()
    rows = inbound_rows(site, name)
    assert len(rows) == 1 and rows[0][1] is None, rows  # one ledger row, never a duplicate of itself


def test_a_file_moved_back_from_processing_to_inbound_is_finished_not_duplicated(site: Site):
    number, name = unique("BACK"), f"AP_back_{uuid.uuid4().hex[:4]}.csv"
    site.drop(CSV_PARTNER, name, csv_bills(number))
    with site.files() as files:
        landed = inbound.land_one(files, CSV_PARTNER, name, site.ledger, site.landing)
        post(site, inbound.read_landed_file(landed, site.config, site.ledger))
    # A person puts the half-done file back where partners drop files.
    (site.folder(CSV_PARTNER, "processing") / name).rename(site.folder(CSV_PARTNER, "inbound") / name)

    filed, _parsed = run_all(site, name)
    assert filed is not None and filed.status == "accepted"
    assert site.bills(number) == 1
    assert [o.status.value for o in filed.outcomes] == ["posted"]
    rows = inbound_rows(site, name)
    assert len(rows) == 1 and rows[0][1] is None


# --- duplicates ------------------------------------------------------------------------------------


def test_a_resent_csv_file_gets_a_duplicate_ack_naming_the_earlier_file_and_its_qbo_ids(site: Site):
    numbers = (unique("DUP"), unique("DUP"))
    first, again = f"AP_first_{uuid.uuid4().hex[:4]}.csv", f"AP_again_{uuid.uuid4().hex[:4]}.csv"
    site.drop(CSV_PARTNER, first, csv_bills(*numbers))
    filed, _ = run_all(site, first)
    ids = [o.qbo_id for o in filed.outcomes]
    assert all(ids)

    site.drop(CSV_PARTNER, again, csv_bills(*numbers))
    duplicate, _ = run_all(site, again)
    assert duplicate.status == "duplicate"
    assert duplicate.final_path.endswith(f"archive/duplicates/{again}")
    ack = (site.folder(CSV_PARTNER, "acks") / f"{again}.ack.csv").read_text()
    assert first in ack and "duplicate" in ack
    for qbo_id in ids:
        assert re.search(rf"\b{qbo_id}\b", ack), ack
    assert [site.bills(n) for n in numbers] == [1, 1]


def x12_bills(control_number: int, numbers: tuple[str, ...], *, items: tuple[str, ...] | None = None) -> bytes:
    vendor = PartyRef(id="100234", name="Great Lakes Steel Supply")
    items = items or ("A36-025",) * len(numbers)
    bills = [
        Bill(
            vendor=vendor,
            number=number,
            date=dt.date(2026, 11, 20),
            due_date=dt.date(2026, 12, 20),
            lines=(Line(Decimal("3150.00"), "A36 plate", Decimal(30), Decimal("105.00"), item=item),),
        )
        for number, item in zip(numbers, items, strict=True)
    ]
    parties = Parties(
        sender_qualifier="ZZ", sender_id="GREATLAKES", receiver_qualifier="ZZ", receiver_id="NORTHWINDFAB"
    )
    return write_810(
        bills, parties=parties, control_numbers=InMemoryControlNumbers(control_number), as_of=PARTNER_CLOCK
    )


def with_ta1_requested(x12: bytes) -> bytes:
    return x12[:100] + b"1" + x12[101:]  # ISA14, fixed width


@pytest.mark.parametrize("ta1", [True, False], ids=["ta1_requested", "no_ta1"])
def test_a_repeated_interchange_in_other_bytes_is_answered_not_posted_again(site: Site, ta1: bool):
    control = 500000 + uuid.uuid4().int % 400000
    numbers = (unique("GLS"),)
    original = x12_bills(control, numbers)
    if ta1:
        original = with_ta1_requested(original)
    assert original[100:101] == (b"1" if ta1 else b"0"), original[:110]
    first, resent = f"GLS_{control}.edi", f"GLS_{control}_resend.edi"
    site.drop(X12_PARTNER, first, original)
    filed, _ = run_all(site, first, X12_PARTNER)
    assert filed.status == "accepted" and site.bills(numbers[0]) == 1

    # The same interchange (sender + ISA13), re-sent with a line break after each segment.
    site.drop(X12_PARTNER, resent, original.replace(b"~", b"~\n"))
    duplicate, parsed = run_all(site, resent, X12_PARTNER)
    assert parsed.duplicate_of is not None and parsed.duplicate_of.kind == "interchange"
    assert duplicate.status == "duplicate" and site.bills(numbers[0]) == 1
    acks = site.acks(X12_PARTNER, resent)
    if ta1:
        assert acks == [f"{resent}.ta1"]
        answer = (site.folder(X12_PARTNER, "acks") / acks[0]).read_bytes()
        assert re.search(rb"TA1\*%09d\*\d{6}\*\d{4}\*R\*025" % control, answer), answer
        assert b"ST*997" not in answer
    else:
        assert acks == [f"{resent}.997"]
        original_997 = (site.folder(X12_PARTNER, "acks") / f"{first}.997").read_bytes()
        assert (site.folder(X12_PARTNER, "acks") / acks[0]).read_bytes() == original_997


@pytest.mark.parametrize("answers_first", ["the run that claimed it", "the run that took it over"])
def test_a_file_two_runs_hold_at_once_is_answered_and_filed_once(site: Site, answers_first: str):
    """Two runs asked for one file at once: the first claims it, the second resumes it from processing/
    and takes it over. Both post (idempotently); whichever reaches the acks first, the partner gets one
    ack, the file is filed once, and the ledger row says where it went."""
    number = unique("TKO")
    name = f"AP_takeover_{uuid.uuid4().hex[:4]}.csv"
    site.drop(CSV_PARTNER, name, csv_bills(number))
    key = f"{CSV_PARTNER}/{name}"
    now = dt.datetime.now(dt.UTC)

    def open_client(company: str):
        return qbo_client_for(site.config, company)

    runs = []
    for run in ("claimed", "took_over"):
        landed = inbound_batch.land_files(site.files, {key: (CSV_PARTNER, name)}, site.ledger, site.landing / run)
        parsed = inbound_batch.read_files(landed, site.config, site.ledger, as_of=now)
        runs.append((parsed, landed))
    claimed, took_over = (landed[key] for _parsed, landed in runs)
    assert isinstance(claimed, LandedFile) and isinstance(took_over, LandedFile)
    assert claimed.record.id == took_over.record.id and claimed.landing != took_over.landing
    posted = []
    for parsed, _landed in runs:
        validated = inbound_batch.validate_files(parsed, site.config, site.ledger)
        posted.append(inbound_batch.post_validated_files(open_client, parsed, validated, site.config, site.ledger))
    order = [0, 1] if answers_first == "the run that claimed it" else [1, 0]
    filed = {}
    for index in order:
        filed[index] = inbound_batch.acknowledge_files(
            site.files, runs[index][0], posted[index], site.config, site.ledger, as_of=now
        )[key]
    assert filed[0] is None  # left to the run that took it over
    assert isinstance(filed[1], FiledFile) and filed[1].final_path == f"{CSV_PARTNER}/archive/{name}"
    assert site.acks(CSV_PARTNER, name) == [f"{name}.ack.csv"]
    assert site.bills(number) == 1
    assert [(stage, path) for _id, _dup, stage, path in _rows_with_paths(site, name)] == [
        ("filed", filed[1].final_path)
    ]


def _rows_with_paths(site: Site, name: str) -> list[tuple]:
    return site.ledger.query(
        "SELECT id, duplicate_of, stage, remote_path FROM inbound_files WHERE remote_path LIKE ? ORDER BY id",
        [f"%/{name}"],
    )


# --- application acks: revisions and the 824 ------------------------------------------------------


def test_a_replay_after_the_mapping_is_fixed_posts_the_rest_and_writes_ack_revision_two(site: Site):
    good, unmapped = unique("RPL"), unique("RPL")
    name = f"AP_replay_{uuid.uuid4().hex[:4]}.csv"
    content = csv_bills(good) + csv_bills(unmapped, account="5250").split(b"\r\n", 1)[1]
    site.drop(CSV_PARTNER, name, content)
    filed, parsed = run_all(site, name)
    assert [o.status.value for o in filed.outcomes] == ["posted", "rejected"]
    assert filed.final_path.endswith(f"error/{name}")
    assert site.acks(CSV_PARTNER, name) == [f"{name}.ack.csv"]

    fixed = site.with_config(
        lambda raw: raw["partners"][CSV_PARTNER]["mapping"]["accounts"]["table"].update({"5250": "Shop Supplies"})
    )
    with fixed.files() as files:
        replayed = inbound.acknowledge_and_file(files, parsed, post(fixed, parsed), fixed.config, fixed.ledger)
    assert [o.status.value for o in replayed.outcomes] == ["posted", "posted"]
    assert replayed.revision == 2 and replayed.final_path.endswith(f"archive/{name}")
    assert site.acks(CSV_PARTNER, name) == [f"{name}.ack.csv", f"{name}.ack.r2.csv"]
    assert [site.bills(good), site.bills(unmapped)] == [1, 1]


def test_a_rejected_x12_document_gets_an_824_naming_it_and_the_reason(site: Site):
    advised = site.with_config(
        lambda raw: raw["partners"][X12_PARTNER].setdefault("ack", {}).update({"application_advice": True})
    )
    control = 500000 + uuid.uuid4().int % 400000
    good, bad = unique("G824"), unique("B824")
    name = f"GLS_824_{control}.edi"
    advised.drop(X12_PARTNER, name, x12_bills(control, (good, bad), items=("A36-025", "ZZ-NOPE")))
    filed, _ = run_all(advised, name, X12_PARTNER)
    assert [o.status.value for o in filed.outcomes] == ["posted", "rejected"]
    assert site.acks(X12_PARTNER, name) == [f"{name}.824", f"{name}.997"]
    advice = (site.folder(X12_PARTNER, "acks") / f"{name}.824").read_text()
    assert "ST*824" in advice and "BGN*00" in advice
    oti = [segment for segment in advice.split("~") if segment.startswith("OTI")]
    assert len(oti) == 1 and bad in oti[0] and good not in advice  # only what was not posted
    assert "ZZ-NOPE" in advice  # the reason names the unmapped part number
    assert site.bills(good) == 1 and site.bills(bad) == 0


def _edifact_with_advice(raw: dict) -> None:
    partner = raw["partners"][X12_PARTNER]
    partner["inbound"].append({"pattern": "*.edifact", "format": "edifact"})
    partner["edifact"] = {"our_id": "NORTHWINDFAB", "partner_id": "GREATLAKES"}
    partner.setdefault("ack", {})["application_advice"] = True


def test_a_rejected_edifact_document_gets_an_aperak_beside_the_contrl(site: Site):
    advised = site.with_config(_edifact_with_advice)
    good, bad = unique("GE"), unique("BE")
    vendor = PartyRef(id="100234", name="Great Lakes Steel Supply")
    bills = [
        Bill(
            vendor=vendor,
            number=number,
            date=dt.date(2026, 11, 20),
            lines=(Line(Decimal("3150.00"), "A36 plate", Decimal(30), Decimal("105.00"), item=item),),
        )
        for number, item in ((good, "A36-025"), (bad, "ZZ-NOPE"))
    ]
    reference = uuid.uuid4().hex[:10].upper()
    name = f"GLS_{reference}.edifact"
    data = write_invoic(bills, sender="GREATLAKES", recipient="NORTHWINDFAB", reference=reference, as_of=PARTNER_CLOCK)
    advised.drop(X12_PARTNER, name, data)
    filed, _ = run_all(advised, name, X12_PARTNER)
    assert [o.status.value for o in filed.outcomes] == ["posted", "rejected"]
    assert site.acks(X12_PARTNER, name) == [f"{name}.aperak", f"{name}.contrl"]
    [report] = read_aperak((site.folder(X12_PARTNER, "acks") / f"{name}.aperak").read_bytes())
    assert report.document_number == bad
    assert any("ZZ-NOPE" in text for _code, text in report.errors), report.errors
    assert site.bills(good) == 1 and site.bills(bad) == 0


# --- filing only what was acknowledged ----------------------------------------------------------------


def test_a_file_changed_on_the_server_after_it_was_read_goes_to_error_not_archive(site: Site):
    number = unique("CHG")
    name = f"{number}.csv"
    site.drop(CSV_PARTNER, name, csv_bills(number))
    with site.files() as files:
        landed = inbound.land_one(files, CSV_PARTNER, name, site.ledger, site.landing)
        assert landed is not None and landed.mtime is not None
        parsed = inbound.read_landed_file(landed, site.config, site.ledger)
        outcomes = post(site, parsed)
        # The partner overwrites the file while we post it: the ack speaks of the bytes we read.
        changed = site.folder(CSV_PARTNER, "processing") / name
        changed.write_bytes(csv_bills(number, unique("EXTRA")))
        filed = inbound.acknowledge_and_file(files, parsed, outcomes, site.config, site.ledger)
    assert filed.status == "error"
    assert "/error/" in filed.final_path
    assert not (site.folder(CSV_PARTNER, "archive") / name).exists()
    status, detail = site.ledger.query("SELECT status, detail FROM inbound_files WHERE id = ?", [landed.record.id])[0]
    assert status == "error" and "changed on the server after it was read" in detail
    assert site.bills(number) == 1  # what was read was posted once; nothing else


# --- the source file attached in QuickBooks ---------------------------------------------------------------


def test_the_source_file_is_attached_to_the_bills_it_created_once_whatever_the_retries(site: Site):
    import httpx

    from qbo_sftp_assets.pipeline.inbound_batch import attach_source_file

    number = unique("ATT")
    name = f"{number}.csv"
    content = csv_bills(number)
    site.drop(CSV_PARTNER, name, content)
    with site.files() as files:
        landed = inbound.land_one(files, CSV_PARTNER, name, site.ledger, site.landing)
        assert landed is not None
        parsed = inbound.read_landed_file(landed, site.config, site.ledger)
        outcomes = post(site, parsed)
        inbound.acknowledge_and_file(files, parsed, outcomes, site.config, site.ledger)
    (bill,) = [o for o in outcomes or [] if o.qbo_entity == "Bill"]
    with qbo_client_for(site.config, COMPANY) as client:
        attach_source_file(client, landed, outcomes)
        attach_source_file(client, landed, outcomes)  # a retried run: the same requestid, no second file
        found = list(client.query(f"SELECT * FROM Attachable WHERE AttachableRef.EntityRef.value = '{bill.qbo_id}'"))
        assert [a["FileName"] for a in found] == [name]
        assert found[0]["AttachableRef"][0]["EntityRef"] == {"type": "Bill", "value": bill.qbo_id}
    download = httpx.get(found[0]["TempDownloadUri"], timeout=10)
    assert download.content == content
