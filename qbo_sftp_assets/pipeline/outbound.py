"""Outbound steps: QBO entities rendered per feed (CSV or X12 810) and deposited atomically for a partner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.formats.csv_format import render_csv, render_reference_csv
from qbo_sftp_assets.formats.documents import Account, Class, Vendor
from qbo_sftp_assets.formats.layouts import CsvLayout
from qbo_sftp_assets.formats.x12 import Parties, write_810
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping.from_qbo import (
    account_from_qbo,
    bill_from_qbo,
    class_from_qbo,
    invoice_from_qbo,
    vendor_from_qbo,
)
from qbo_sftp_assets.sftp import PartnerFiles

# The QBO entity behind each feed entity name, and how its rows become documents.
ENTITIES = {
    "bills": ("Bill", bill_from_qbo),
    "invoices": ("Invoice", invoice_from_qbo),
    "vendors": ("Vendor", vendor_from_qbo),
    "accounts": ("Account", account_from_qbo),
    "classes": ("Class", class_from_qbo),
}
REFERENCE_KINDS = {"vendors": Vendor, "accounts": Account, "classes": Class}


class FeedNotRenderable(ValueError):
    """A feed asks for something its format cannot carry (e.g. vendors in an X12 810)."""


@dataclass(frozen=True)
class RenderedFile:
    name: str
    content: bytes
    record_count: int
    entity_versions: dict[str, str]
    control_numbers: dict[str, int] | None


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    remote_path: str
    sha256: str
    record_count: int
    control_numbers: dict[str, int] | None


class _RecordingCounter:
    """Hands out the ledger's control numbers and remembers them for the delivery row."""

    def __init__(self, ledger: Ledger, partner: str) -> None:
        self._numbers = ledger.control_numbers_for(partner)
        self.used: dict[str, int] = {}

    def next(self, kind: str) -> int:
        value = self._numbers.next(kind)
        self.used.setdefault(kind, value)
        return value


def render_feed(
    config: Config,
    partner_name: str,
    feed_name: str,
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    ledger: Ledger,
    *,
    as_of: dt.datetime,
) -> list[RenderedFile]:
    """One file per entity kind of the feed, named by the feed's `filename` pattern.

    `rows` holds the QBO objects per feed entity name ("bills": [...]); control numbers come from the
    ledger's counters for the partner, so every X12 interchange is numbered once and never reused.
    """
    partner = config.partner(partner_name)
    feed = partner.outbound[feed_name]
    layout = config.layout(feed.layout) if feed.layout else None
    rendered = []
    for entity in feed.entities:
        objects = list(rows.get(entity, ()))
        if entity not in ENTITIES:
            raise FeedNotRenderable(f"partners.{partner_name}.outbound.{feed_name}: {entity} cannot be rendered yet")
        qbo_name, convert = ENTITIES[entity]
        documents = [convert(obj) for obj in objects]
        versions = {f"{qbo_name}/{obj['Id']}": str(obj.get("SyncToken", "")) for obj in objects}
        counter = None
        if feed.format == "x12_810":
            if entity not in ("bills", "invoices"):
                raise FeedNotRenderable(f"partners.{partner_name}.outbound.{feed_name}: an X12 810 carries no {entity}")
            counter = _RecordingCounter(ledger, partner_name)
            content = write_810(
                documents, parties=Parties.from_identity(partner.x12), control_numbers=counter, as_of=as_of
            )
            extension = "edi"
        elif entity in REFERENCE_KINDS:
            content = render_reference_csv(documents, kind=REFERENCE_KINDS[entity])
            extension = "csv"
        else:
            content = render_csv(documents, layout if isinstance(layout, CsvLayout) else CsvLayout(document="bill"))
            extension = "csv"
        name = feed.filename.format(
            feed=f"{feed_name}_{entity}" if len(feed.entities) > 1 else feed_name,
            timestamp=as_of.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            ext=extension,
        )
        rendered.append(
            RenderedFile(name, content, len(documents), versions, None if counter is None else counter.used)
        )
    return rendered


def deliver(
    files: PartnerFiles, partner_name: str, feed_name: str, rendered: RenderedFile, ledger: Ledger, *, done_file: bool
) -> Delivery:
    """Upload atomically to the partner's outbound folder and record the delivery in the ledger."""
    uploaded = files.upload(
        rendered.content, rendered.name, kind="outbound", done_suffix=".done" if done_file else None
    )
    delivery_id = ledger.record_delivery(
        partner=partner_name,
        feed=feed_name,
        remote_path=uploaded.remote_path,
        sha256=uploaded.sha256,
        record_count=rendered.record_count,
        entity_versions=rendered.entity_versions,
        control_numbers=rendered.control_numbers,
        ack_status="awaiting_997" if rendered.control_numbers else "not_expected",
    )
    return Delivery(delivery_id, uploaded.remote_path, uploaded.sha256, rendered.record_count, rendered.control_numbers)
