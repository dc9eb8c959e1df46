"""Outbound steps: QBO entities selected per feed, rendered (CSV or X12 810) and deposited atomically for a partner.

What a file carries: a change-triggered run sends every record whose version (SyncToken, or
"deleted") differs from the newest version this feed delivered to the partner (the ledger's
`outbound_deliveries.entity_versions`), so an event seen by both the webhook and the CDC sensor is
sent once: the second run finds nothing new and delivers no file. A scheduled or hand-started run
sends what the feed's `select` declares. Deletions reach a partner that was sent the record: in CSV
as a row with `status` deleted (voided and inactive records likewise); in an X12 810 as the feed's
`x12_deleted` says, a cancellation (BIG08 = 01) or a skip named in the result and the log.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from qbo_sftp_assets import mapping
from qbo_sftp_assets.config import Config, OutboundFeed, Partner
from qbo_sftp_assets.formats import (
    Bill,
    CsvLayout,
    Invoice,
    Line,
    PartyRef,
    Source,
    Transaction,
    render_csv,
    render_records_csv,
)
from qbo_sftp_assets.formats.x12 import (
    GroupSpec,
    Parties,
    SegmentWriter,
    group_version,
    render_810_body,
    seller_party,
    write_interchange,
)
from qbo_sftp_assets.ledger import Ledger, ReferenceRow, ReferenceStore
from qbo_sftp_assets.mapping import UnexpectedQboEntity, bill_from_qbo, invoice_from_qbo
from qbo_sftp_assets.pipeline.snapshots import FEED_ENTITIES
from qbo_sftp_assets.qbo import QboClient
from qbo_sftp_assets.sftp import PartnerFiles

log = logging.getLogger(__name__)

Trigger = Literal["schedule", "change"]
TRANSACTIONS: dict[str, Callable[[Mapping[str, Any]], Transaction]] = {
    "Bill": bill_from_qbo,
    "Invoice": invoice_from_qbo,
}
# The columns a list entity's CSV has unless the feed's layout names its own (`write_columns`).
LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "Vendor": ("id", "name", "company_name", "email", "phone", "tax_id", "balance", "active", "status", "sync_token"),
    "Customer": ("id", "name", "company_name", "email", "phone", "balance", "active", "status", "sync_token"),
    "Account": ("id", "name", "number", "account_type", "active", "status", "sync_token"),
    "Class": ("id", "name", "active", "status", "sync_token"),
    "Item": ("id", "name", "type", "sku", "unit_price", "active", "status", "sync_token"),
    "Term": ("id", "name", "due_days", "active", "status", "sync_token"),
}
# Transaction CSVs add these after the layout's columns (unless the layout places them itself).
TRANSACTION_EXTRA_COLUMNS = ("status", "qbo_id", "sync_token")
DELETED = "deleted"
SKIPPED_DELETION = "deleted:skipped"
CANCELLATION = "01"  # BIG08 transaction set purpose code: cancellation


class FeedNotRenderable(ValueError):
    """A feed asks for something its format cannot carry (e.g. vendors in an X12 810)."""


@dataclass(frozen=True)
class FeedRecord:
    """One QBO object a feed file carries: its version and status beside the object."""

    entity: str
    qbo_id: str
    version: str
    status: str  # active | inactive | deleted | voided
    data: Mapping[str, Any]
    last_updated: dt.datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.entity}/{self.qbo_id}"


@dataclass(frozen=True)
class RenderedFile:
    name: str
    content: bytes
    record_count: int
    entity_versions: dict[str, str]
    control_numbers: dict[str, Any] | None
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    remote_path: str
    sha256: str
    record_count: int
    control_numbers: dict[str, Any] | None
    entity_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedRun:
    """What one run of a feed did: the mode it selected by, the files delivered, what was skipped and why."""

    trigger: Trigger
    selection: str
    deliveries: list[Delivery]
    selected: int
    skipped: tuple[str, ...] = ()


class _RecordingCounter:
    """Hands out the ledger's control numbers and remembers them (every ST02, in order) for the delivery row."""

    def __init__(self, ledger: Ledger, partner: str) -> None:
        self._numbers = ledger.control_numbers_for(partner)
        self.used: dict[str, int] = {}
        self.set_numbers: list[str] = []

    def next(self, kind: str) -> int:
        value = self._numbers.next(kind)
        self.used.setdefault(kind, value)
        if kind == "ST02":
            self.set_numbers.append(f"{value:04d}")
        return value


# --- what a feed carries ---------------------------------------------------------------------------


def feed_records(
    ledger: Ledger,
    realm_id: str,
    partner_name: str,
    feed_name: str,
    feed: OutboundFeed,
    *,
    selection: str,
) -> dict[str, list[FeedRecord]]:
    """Per feed entity word, the records a file carries under `selection` (changed_since_last | all | all_open).

    A deleted record is carried only to a partner that was sent it and has not yet been told it is
    gone; a record sent at its current version is left out of `changed_since_last`.
    """
    delivered = ledger.delivered_versions(partner_name, feed_name)
    store = ReferenceStore(ledger)
    chosen: dict[str, list[FeedRecord]] = {}
    for word in feed.entities:
        entity = FEED_ENTITIES[word]
        records = []
        for row in store.rows(realm_id, [entity], include_deleted=True):
            record = _record(entity, row)
            if _carried(record, delivered.get(record.key), selection):
                records.append(record)
        chosen[word] = sorted(records, key=lambda r: (_numeric(r.qbo_id), r.qbo_id))
    return chosen


def _carried(record: FeedRecord, sent: str | None, selection: str) -> bool:
    if record.status == DELETED:
        return sent is not None and not sent.startswith(DELETED)
    if selection == "changed_since_last":
        return sent != record.version
    if selection == "all_open":
        # A record that stopped being open (paid, voided, inactive) is sent once more with its status.
        return _is_open(record) or sent not in (None, record.version)
    return True


def _record(entity: str, row: ReferenceRow) -> FeedRecord:
    if row.deleted:
        status, version = DELETED, DELETED
    else:
        status = "voided" if entity in TRANSACTIONS and _voided(row.data) else ("active" if row.active else "inactive")
        version = row.sync_token or ""
    return FeedRecord(entity, row.qbo_id, version, status, row.data, row.last_updated)


def _voided(data: Mapping[str, Any]) -> bool:
    # QBO keeps a voided transaction with zero amounts and "Voided" at the start of its private note.
    return str(data.get("PrivateNote") or "").startswith("Voided") and Decimal(str(data.get("TotalAmt", 0))) == 0


def _is_open(record: FeedRecord) -> bool:
    if record.status != "active":
        return False
    if record.entity in TRANSACTIONS:
        balance = record.data.get("Balance")
        return balance is None or Decimal(str(balance)) != 0
    return True


def _numeric(qbo_id: str) -> int:
    return int(qbo_id) if qbo_id.isdigit() else 0


# --- rendering -------------------------------------------------------------------------------------


def render_feed(
    config: Config,
    partner_name: str,
    feed_name: str,
    records: Mapping[str, Sequence[FeedRecord]],
    ledger: Ledger,
    *,
    as_of: dt.datetime,
    skip_empty: bool = False,
    not_sent: list[str] | None = None,
) -> list[RenderedFile]:
    """One file per entity kind of the feed, named by the feed's `filename` pattern.

    Control numbers come from the ledger's counters for the partner, so every X12 interchange is
    numbered once and never reused; each file's `control_numbers` name the ISA13, GS06 and every
    ST02 with the record it carries. `skip_empty` leaves out kinds with nothing to send; `not_sent`
    collects why records of an X12 kind that makes no file at all (every record skipped) were left out.
    """
    partner = config.partner(partner_name)
    feed = partner.outbound[feed_name]
    rendered = []
    for word in feed.entities:
        entity = FEED_ENTITIES[word]
        chosen = list(records.get(word, ()))
        if skip_empty and not chosen:
            continue
        if feed.format == "x12_810":
            content, count, versions, control_numbers, skipped = _render_810(
                ledger, partner_name, partner, feed_name, feed, entity, chosen, as_of
            )
            if content is None:
                if not_sent is not None:
                    not_sent.extend(skipped)
                continue
            extension = "edi"
        else:
            layout = _csv_layout(config, feed, word, entity)
            if entity in TRANSACTIONS:
                content = _render_transactions_csv(entity, chosen, layout)
            else:
                fields = tuple(layout.write_columns or LIST_FIELDS.get(entity, ("id", "name", "active", "status")))
                content = render_records_csv([_list_fields(entity, r) for r in chosen], fields, layout)
            count, versions, control_numbers, skipped = len(chosen), {r.key: r.version for r in chosen}, None, ()
            extension = "csv"
        name = feed.filename.format(
            feed=f"{feed_name}_{word}" if len(feed.entities) > 1 else feed_name,
            timestamp=as_of.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            ext=extension,
        )
        rendered.append(RenderedFile(name, content, count, versions, control_numbers, skipped))
    return rendered


def _csv_layout(config: Config, feed: OutboundFeed, word: str, entity: str) -> CsvLayout:
    """The feed's layout for this entity (one name for all, or one per entity word), with the BOM it asks for."""
    name = feed.layout.get(word) if isinstance(feed.layout, dict) else feed.layout
    if name:
        layout = config.layout(name)
        if not isinstance(layout, CsvLayout):
            raise FeedNotRenderable(f"layout {name!r} is not a CSV layout; a csv feed needs one")
    else:
        layout = CsvLayout(document="invoice" if entity == "Invoice" else "bill")
    if entity in TRANSACTIONS:
        wanted = "invoice" if entity == "Invoice" else "bill"
        if layout.document != wanted:
            layout = layout.model_copy(update={"document": wanted})
    if feed.bom is not None and layout.encoding in ("utf-8", "utf-8-sig"):
        layout = layout.model_copy(update={"encoding": "utf-8-sig" if feed.bom else "utf-8"})
    return layout


def _render_transactions_csv(entity: str, records: Sequence[FeedRecord], layout: CsvLayout) -> bytes:
    documents = [_document(entity, r) for r in records]
    extras = {
        id(document): {"status": r.status, "qbo_id": r.qbo_id, "sync_token": r.version}
        for document, r in zip(documents, records, strict=True)
    }
    return render_csv(documents, layout, extra_columns=TRANSACTION_EXTRA_COLUMNS, extra=lambda d: extras[id(d)])


def _document(entity: str, record: FeedRecord) -> Transaction:
    try:
        return TRANSACTIONS[entity](record.data)
    except UnexpectedQboEntity:
        if record.status != DELETED:
            raise
    # A tombstone for an object we only ever saw deleted: its id and when, with one empty line.
    when = (record.last_updated or dt.datetime.now(dt.UTC)).date()
    number = str(record.data.get("DocNumber") or "") or None
    lines = (Line(Decimal(0)),)
    source = Source(file=f"qbo:{entity}/{record.qbo_id}@deleted")
    if entity == "Invoice":
        return Invoice(customer=PartyRef(), number=number, date=when, lines=lines, source=source)
    return Bill(vendor=PartyRef(), number=number, date=when, lines=lines, source=source)


def _list_fields(entity: str, record: FeedRecord) -> dict[str, Any]:
    data = record.data
    email = (data.get("PrimaryEmailAddr") or {}).get("Address")
    phone = (data.get("PrimaryPhone") or {}).get("FreeFormNumber")
    name = data.get("DisplayName") if entity in ("Vendor", "Customer") else data.get("FullyQualifiedName")
    return {
        "id": record.qbo_id,
        "name": name or data.get("Name"),
        "company_name": data.get("CompanyName"),
        "email": email,
        "phone": phone,
        "tax_id": data.get("TaxIdentifier"),
        "balance": data.get("Balance"),
        "number": data.get("AcctNum"),
        "account_type": data.get("AccountType"),
        "type": data.get("Type"),
        "sku": data.get("Sku"),
        "unit_price": data.get("UnitPrice"),
        "due_days": data.get("DueDays"),
        "active": record.status == "active",
        "status": record.status,
        "sync_token": record.version,
    }


def _render_810(
    ledger: Ledger,
    partner_name: str,
    partner: Partner,
    feed_name: str,
    feed: OutboundFeed,
    entity: str,
    records: Sequence[FeedRecord],
    as_of: dt.datetime,
) -> tuple[bytes | None, int, dict[str, str], dict[str, Any] | None, tuple[str, ...]]:
    if entity not in TRANSACTIONS:
        raise FeedNotRenderable(f"partners.{partner_name}.outbound.{feed_name}: an X12 810 carries no {entity}")
    if partner.x12 is None:
        raise FeedNotRenderable(f"partners.{partner_name}: an x12_810 feed needs the partner's `x12` identity")
    parties = Parties.from_identity(partner.x12)
    seller = seller_party(partner.x12, partner.company)
    writer = SegmentWriter()
    sets: list[list[str]] = []
    carried: list[FeedRecord] = []
    versions: dict[str, str] = {}
    skipped: list[str] = []
    for record in records:
        gone = record.status in (DELETED, "voided")
        if gone and feed.x12_deleted == "skip":
            reason = f"{record.key} is {record.status}; an 810 cannot say so and the feed's x12_deleted is skip"
            log.info("%s/%s: %s", partner_name, feed_name, reason)
            skipped.append(reason)
            versions[record.key] = SKIPPED_DELETION if record.status == DELETED else f"{record.version}:skipped"
            continue
        try:
            body = render_810_body(_document(entity, record), writer, seller=seller)
        except UnexpectedQboEntity as error:
            skipped.append(f"{record.key}: {error}")
            log.warning("%s/%s: %s not sent: %s", partner_name, feed_name, record.key, error)
            continue
        if gone:
            body[0] = _cancelled(body[0], writer)
        sets.append(["810", *body])
        carried.append(record)
        versions[record.key] = record.version
    if not sets:
        if versions:
            # Nothing an 810 can carry, but the skips are remembered so they are not reconsidered each run.
            ledger.record_delivery(
                partner=partner_name,
                feed=feed_name,
                remote_path="(nothing sent)",
                sha256="",
                record_count=0,
                entity_versions=versions,
                ack_status="not_sent",
            )
        return None, 0, versions, None, tuple(skipped)
    counter = _RecordingCounter(ledger, partner_name)
    content = write_interchange(
        parties, [GroupSpec("IN", group_version(parties.version), sets)], control_numbers=counter, as_of=as_of
    )
    control_numbers: dict[str, Any] = {
        **counter.used,
        "sets": {number: record.key for number, record in zip(counter.set_numbers, carried, strict=True)},
    }
    return content, len(carried), versions, control_numbers, tuple(skipped)


def _cancelled(big: str, writer: SegmentWriter) -> str:
    """The BIG segment with BIG08 = 01 (cancellation): how an 810 withdraws an invoice sent before."""
    elements = big.split(writer.delimiters.element)
    elements += [""] * (8 - len(elements))
    return writer.delimiters.element.join([*elements[:8], CANCELLATION])


# --- delivering ------------------------------------------------------------------------------------


def deliver(
    files: PartnerFiles, partner_name: str, feed_name: str, rendered: RenderedFile, ledger: Ledger, *, done_file: bool
) -> Delivery:
    """Upload atomically to the partner's outbound folder and record the delivery in the ledger."""
    (delivery,) = deliver_many(files, partner_name, feed_name, [rendered], ledger, done_file=done_file)
    return delivery


def deliver_many(
    files: PartnerFiles,
    partner_name: str,
    feed_name: str,
    rendered: Sequence[RenderedFile],
    ledger: Ledger,
    *,
    done_file: bool,
) -> list[Delivery]:
    """Every file of a feed uploaded together (`upload_many`), each recorded in the ledger with what it carried."""
    uploads = files.upload_many(
        ((file.content, file.name) for file in rendered), kind="outbound", done_suffix=".done" if done_file else None
    )
    deliveries = []
    for file, uploaded in zip(rendered, uploads, strict=True):
        delivery_id = ledger.record_delivery(
            partner=partner_name,
            feed=feed_name,
            remote_path=uploaded.remote_path,
            sha256=uploaded.sha256,
            record_count=file.record_count,
            entity_versions=file.entity_versions,
            control_numbers=file.control_numbers,
            ack_status="awaiting_997" if file.control_numbers else "not_expected",
        )
        deliveries.append(
            Delivery(
                delivery_id,
                uploaded.remote_path,
                uploaded.sha256,
                file.record_count,
                file.control_numbers,
                file.entity_versions,
            )
        )
    return deliveries


def send_feed(
    client: QboClient,
    ledger: Ledger,
    files: PartnerFiles,
    config: Config,
    partner_name: str,
    feed_name: str,
    *,
    as_of: dt.datetime,
    trigger: Trigger = "schedule",
) -> FeedRun:
    """Refresh the feed's entities from QBO into the ledger, select what the trigger calls for, deliver it.

    Refreshing here (changes only, after the first time) means a feed never renders a snapshot older
    than its own run, whichever sensor or schedule started it. A change-triggered run with nothing new
    (the other sensor's run already sent it) delivers no file.
    """
    partner = config.partner(partner_name)
    feed = partner.outbound[feed_name]
    realm_id = config.company(partner.company).realm_id
    entities = sorted({FEED_ENTITIES[word] for word in feed.entities})
    mapping.refresh_reference(client, ledger, realm_id, entities)
    selection = "changed_since_last" if trigger == "change" else feed.select
    records = feed_records(ledger, realm_id, partner_name, feed_name, feed, selection=selection)
    not_sent: list[str] = []
    rendered = render_feed(
        config, partner_name, feed_name, records, ledger, as_of=as_of, skip_empty=trigger == "change", not_sent=not_sent
    )
    skipped = (*not_sent, *(reason for file in rendered for reason in file.skipped))
    deliveries = deliver_many(files, partner_name, feed_name, rendered, ledger, done_file=feed.done_file)
    return FeedRun(trigger, selection, deliveries, sum(len(r) for r in records.values()), skipped)
