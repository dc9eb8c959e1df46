"""Versioned schema migrations for the ledger; each runs once, in order, inside one transaction."""

from __future__ import annotations

# Append new migrations; never edit one that has shipped. Index + 1 is the schema version.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE SEQUENCE inbound_file_ids START 1;
    CREATE TABLE inbound_files (
        id            BIGINT PRIMARY KEY DEFAULT nextval('inbound_file_ids'),
        sha256        VARCHAR NOT NULL,
        partner       VARCHAR NOT NULL,
        remote_path   VARCHAR NOT NULL,
        size          BIGINT NOT NULL,
        received_at   TIMESTAMPTZ NOT NULL,
        status        VARCHAR NOT NULL,
        duplicate_of  BIGINT,
        detail        VARCHAR,
        updated_at    TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX inbound_files_sha256 ON inbound_files (sha256);

    CREATE TABLE postings (
        file_sha256    VARCHAR NOT NULL,
        record_index   INTEGER NOT NULL,
        document_key   VARCHAR NOT NULL,
        source_line    INTEGER,
        source_segment INTEGER,
        entity_type    VARCHAR NOT NULL,
        request_id     VARCHAR NOT NULL UNIQUE,
        qbo_id         VARCHAR,
        sync_token     VARCHAR,
        status         VARCHAR NOT NULL,
        error          VARCHAR,
        created_at     TIMESTAMPTZ NOT NULL,
        updated_at     TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (file_sha256, record_index)
    );
    CREATE INDEX postings_qbo_id ON postings (entity_type, qbo_id);

    CREATE SEQUENCE outbound_delivery_ids START 1;
    CREATE TABLE outbound_deliveries (
        id               BIGINT PRIMARY KEY DEFAULT nextval('outbound_delivery_ids'),
        partner          VARCHAR NOT NULL,
        feed             VARCHAR NOT NULL,
        remote_path      VARCHAR NOT NULL,
        sha256           VARCHAR NOT NULL,
        record_count     INTEGER NOT NULL,
        entity_versions  JSON NOT NULL,
        control_numbers  JSON,
        ack_status       VARCHAR NOT NULL,
        delivered_at     TIMESTAMPTZ NOT NULL,
        acked_at         TIMESTAMPTZ
    );

    CREATE TABLE control_numbers (
        partner  VARCHAR NOT NULL,
        kind     VARCHAR NOT NULL,
        value    BIGINT NOT NULL,
        PRIMARY KEY (partner, kind)
    );

    CREATE TABLE cursors (
        name        VARCHAR PRIMARY KEY,
        value       VARCHAR NOT NULL,
        updated_at  TIMESTAMPTZ NOT NULL
    );

    CREATE SEQUENCE acknowledgment_ids START 1;
    CREATE TABLE acknowledgments (
        id              BIGINT PRIMARY KEY DEFAULT nextval('acknowledgment_ids'),
        partner         VARCHAR NOT NULL,
        direction       VARCHAR NOT NULL,
        kind            VARCHAR NOT NULL,
        file_sha256     VARCHAR,
        remote_path     VARCHAR,
        control_number  VARCHAR,
        status          VARCHAR NOT NULL,
        detail          VARCHAR,
        created_at      TIMESTAMPTZ NOT NULL
    );
    """,
    # 2: posting into QuickBooks — who a posting belongs to and what it carried, the reference data
    # mapping resolves against, interchanges seen (duplicate EDI envelopes), and the acks' own bytes
    # so a re-sent file can be answered with the acknowledgment it got the first time.
    """
    ALTER TABLE postings ADD COLUMN partner VARCHAR;
    ALTER TABLE postings ADD COLUMN realm_id VARCHAR;
    ALTER TABLE postings ADD COLUMN doc_number VARCHAR;
    ALTER TABLE postings ADD COLUMN vendor_id VARCHAR;
    ALTER TABLE postings ADD COLUMN content_sha256 VARCHAR;
    ALTER TABLE postings ADD COLUMN operation VARCHAR;
    ALTER TABLE postings ADD COLUMN error_code VARCHAR;
    ALTER TABLE postings ADD COLUMN attempts INTEGER DEFAULT 0;
    CREATE INDEX postings_document ON postings (partner, entity_type, vendor_id, doc_number);

    ALTER TABLE inbound_files ADD COLUMN stage VARCHAR;

    ALTER TABLE acknowledgments ADD COLUMN content BLOB;
    ALTER TABLE acknowledgments ADD COLUMN revision INTEGER DEFAULT 1;

    CREATE TABLE reference_rows (
        realm_id              VARCHAR NOT NULL,
        entity                VARCHAR NOT NULL,
        qbo_id                VARCHAR NOT NULL,
        sync_token            VARCHAR,
        last_updated          TIMESTAMPTZ,
        name                  VARCHAR,
        fully_qualified_name  VARCHAR,
        acct_num              VARCHAR,
        active                BOOLEAN NOT NULL DEFAULT TRUE,
        deleted               BOOLEAN NOT NULL DEFAULT FALSE,
        data                  JSON NOT NULL,
        refreshed_at          TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (realm_id, entity, qbo_id)
    );

    CREATE TABLE interchanges (
        partner         VARCHAR NOT NULL,
        standard        VARCHAR NOT NULL,
        sender          VARCHAR NOT NULL,
        control_number  VARCHAR NOT NULL,
        file_sha256     VARCHAR NOT NULL,
        first_seen      TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (partner, standard, sender, control_number)
    );
    """,
    # 3: batch posting — the batch request a pending posting went out in (its requestid and the item's
    # bId) and the body it carried, so a run that crashed mid-batch re-sends the same request next time.
    """
    ALTER TABLE postings ADD COLUMN batch_request_id VARCHAR;
    ALTER TABLE postings ADD COLUMN batch_bid VARCHAR;
    ALTER TABLE postings ADD COLUMN payload JSON;
    ALTER TABLE postings ADD COLUMN linked_file_sha256 VARCHAR;
    """,
    # 4: which landing holds an inbound file. A run that resumes a file from processing/ takes it over;
    # the run it took the file from then leaves acknowledging and filing it to the newer one.
    """
    ALTER TABLE inbound_files ADD COLUMN landing VARCHAR;
    """,
)

LATEST_SCHEMA_VERSION = len(MIGRATIONS)
