"""The one YAML configuration file, loaded into typed models; a bad file is one readable message.

Secrets are only ever *named* here (an environment variable, a key file); an inline secret is an error.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats import CsvLayout, EdifactIdentity, FixedWidthLayout, X12Identity
from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts

DEFAULT_CONFIG_FILE = "qbo_sftp.yaml"
CONFIG_PATH_ENV = "QBO_SFTP_CONFIG"

# Keys that would hold a secret's value. Each has a `<key>_env` sibling that names a variable instead.
SECRET_KEYS = frozenset(
    {
        "password",
        "passphrase",
        "client_secret",
        "client_id",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "verifier_token",
        "private_key",
        "api_key",
    }
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(UserFacingError):
    """The configuration file cannot be used; the text names the key path, the problem and the fix."""

    exit_code = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_var_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits and _ only)")
    return value


class QboLimits(_Strict):
    """Per-realm limits the client keeps to; QBO's documented ceilings are the defaults."""

    requests_per_minute: int = Field(default=500, ge=1)
    max_in_flight: int = Field(default=10, ge=1)
    batch_requests_per_minute: int = Field(default=40, ge=1)
    max_retries: int = Field(default=5, ge=0)
    backoff_seconds: float = Field(default=1.0, gt=0)
    max_backoff_seconds: float = Field(default=60.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=60.0, gt=0)


class Company(_Strict):
    """A QBO company (realm) and the app credentials, by environment variable name, that reach it."""

    realm_id: str = Field(pattern=r"^[0-9]+$")
    environment: Literal["production", "sandbox", "local"] = "sandbox"
    base_url: str | None = None  # only for `local`: the sandbox server's URL
    client_id_env: str = "QBO_CLIENT_ID"
    client_secret_env: str = "QBO_CLIENT_SECRET"
    webhook_verifier_env: str | None = None
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    minor_version: int = 75
    limits: QboLimits = Field(default_factory=QboLimits)

    @field_validator("client_id_env", "client_secret_env", "webhook_verifier_env")
    @classmethod
    def _names_are_env_vars(cls, value: str | None) -> str | None:
        return _env_var_name(value)

    @model_validator(mode="after")
    def _local_needs_base_url(self) -> Company:
        if self.environment == "local" and not self.base_url:
            raise ValueError("environment 'local' needs base_url: the sandbox server's URL")
        return self


class SftpAuth(_Strict):
    """Key-file or password authentication; the password and passphrase are env var names."""

    key_file: str | None = None
    passphrase_env: str | None = None
    password_env: str | None = None

    @field_validator("passphrase_env", "password_env")
    @classmethod
    def _names_are_env_vars(cls, value: str | None) -> str | None:
        return _env_var_name(value)

    @model_validator(mode="after")
    def _exactly_one_method(self) -> SftpAuth:
        if bool(self.key_file) == bool(self.password_env):
            raise ValueError("set exactly one of key_file or password_env")
        if self.passphrase_env and not self.key_file:
            raise ValueError("passphrase_env only applies with key_file")
        return self


class SftpTimeouts(_Strict):
    connect: float = Field(default=15.0, gt=0)
    banner: float = Field(default=15.0, gt=0)
    auth: float = Field(default=15.0, gt=0)
    channel: float = Field(default=15.0, gt=0)
    operation: float = Field(default=300.0, gt=0)
    keepalive: int = Field(default=30, ge=0)


class SftpEndpoint(_Strict):
    """Where a partner's SFTP server is and how we prove who we are and who it is."""

    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(min_length=1)
    auth: SftpAuth
    host_keys: list[str] = Field(default_factory=list)
    legacy_algorithms: bool = False
    timeouts: SftpTimeouts = Field(default_factory=SftpTimeouts)

    @field_validator("host_keys")
    @classmethod
    def _pins_are_known_hosts_lines_or_fingerprints(cls, pins: list[str]) -> list[str]:
        for pin in pins:
            if pin.startswith("SHA256:"):
                continue
            parts = pin.split()
            if len(parts) < 3 or not parts[1].startswith(("ssh-", "ecdsa-", "sk-")):
                raise ValueError(
                    f"{pin[:40]!r} is neither a known_hosts line ('host ssh-ed25519 AAAA...') "
                    "nor a 'SHA256:...' fingerprint"
                )
        return pins


class Folders(_Strict):
    # The remote directory the relative folders below live in; empty means the login directory.
    root: str = ""
    inbound: str = "inbound"
    processing: str = "processing"
    archive: str = "archive"
    error: str = "error"
    acks: str = "acks"
    outbound: str = "outbound"


class Readiness(_Strict):
    """When an inbound file is complete: stable across two listings, a done-file, or renamed into place."""

    policy: Literal["stable", "done_file", "rename"] = "stable"
    min_age_seconds: float = Field(default=30.0, ge=0)
    done_suffix: str = ".done"


class OutboundFeed(_Strict):
    """Entities rendered for a partner and deposited in its outbound folder, on a schedule and/or on change.

    `trigger`: `schedule` (the cron below), `on_change` (a QBO change seen by the webhook or CDC sensor,
    after `debounce_seconds` without further changes, so a burst of edits makes one file) or `both`.
    Left out, it follows the older keys: `on_change: true` means on change (both when there is also a
    `schedule`), otherwise schedule. A change-triggered file carries what changed since the feed's last
    delivery; a scheduled (or hand-run) file carries what `select` says: `all` rows, `all_open` (open
    bills and invoices, active lists) or `changed_since_last`. Deleted and voided records are sent with
    their status (a `status` column in CSV); an X12 810 cannot say "deleted", so `x12_deleted` either
    skips them (logged, and named in the run's metadata) or sends a cancellation (BIG08 = 01).
    """

    entities: list[Literal["bills", "invoices", "vendors", "accounts", "classes", "customers", "items", "terms"]]
    format: Literal["csv", "x12_810"] = "csv"
    schedule: str | None = None  # cron, evaluated in `timezone`
    timezone: str = "UTC"
    on_change: bool = False
    trigger: Literal["schedule", "on_change", "both"] | None = None
    debounce_seconds: float = Field(default=60.0, ge=0, le=86_400)
    select: Literal["all", "all_open", "changed_since_last"] = "all"
    x12_deleted: Literal["skip", "cancel"] = "skip"
    # None: the layout's encoding decides (CSV layouts default to UTF-8 with a BOM).
    bom: bool | None = None
    filename: str = "{feed}_{timestamp}.{ext}"
    # A CSV layout's name for every entity, or one per entity word ({vendors: vendor_layout, ...}).
    layout: str | dict[str, str] | None = None
    done_file: bool = False

    @property
    def effective_trigger(self) -> Literal["schedule", "on_change", "both"]:
        if self.trigger is not None:
            return self.trigger
        if self.on_change:
            return "both" if self.schedule else "on_change"
        return "schedule"

    @property
    def follows_changes(self) -> bool:
        return self.effective_trigger in ("on_change", "both")

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None and self.effective_trigger in ("schedule", "both")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            check_cron(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_time_zone(value)
        return value


class InboundRule(_Strict):
    """Which inbound files (by glob) are read how, and what they post as."""

    pattern: str = "*"
    format: Literal["csv", "fixed", "x12", "edifact"]
    layout: str | None = None
    document: Literal["auto", "bill", "vendor_credit", "journal_entry"] = "auto"


# --- the partner's mapping: partner codes to QBO references ---------------------------------------
# Each rule lists how a value from the file finds its QBO object, tried in the order given; an
# unmatched value is a failure naming the key to add, never a guess.

VendorMatch = Literal["table", "acct_num", "display_name", "id"]
AccountMatch = Literal["table", "acct_num", "fully_qualified_name", "name", "id"]
ItemMatch = Literal["table", "name", "sku", "id"]
TermMatch = Literal["table", "name", "days"]
# The strategies each rule tries when the configuration names none, in order.
DEFAULT_VENDOR_MATCH: tuple[VendorMatch, ...] = ("table", "acct_num", "display_name")
DEFAULT_ACCOUNT_MATCH: tuple[AccountMatch, ...] = ("table", "acct_num", "fully_qualified_name")
DEFAULT_TERM_MATCH: tuple[TermMatch, ...] = ("table", "name", "days")


def _flat_table(value: Any, fields: Iterable[str]) -> Any:
    """The old flat shape `{code: qbo_name}` (no key of the new model, all values text) as `{table: ...}`."""
    if (
        isinstance(value, dict)
        and value
        and not set(value) & set(fields)
        and all(isinstance(v, str) for v in value.values())
    ):
        return {"table": value}
    return value


class _TableRule(_Strict):
    @model_validator(mode="before")
    @classmethod
    def _old_flat_shape(cls, value: Any) -> Any:
        return _flat_table(value, cls.model_fields)

    @field_validator("table", check_fields=False)
    @classmethod
    def _table_keys_are_text(cls, table: dict[str, str]) -> dict[str, str]:
        for key, target in table.items():
            if not str(key).strip() or not str(target).strip():
                raise ValueError(f"table entry {key!r}: {target!r} needs a partner value and a QBO name or Id")
        return table


class PartyMapping(_TableRule):
    """How the file's party (X12 N1 id / name, EDIFACT NAD GLN or VAT id, CSV vendor number / name)
    finds the QBO Vendor or Customer: `match` strategies in order, each tried with the party's id and
    then its name. `table` maps a partner value to a QBO DisplayName or Id."""

    match: list[VendorMatch] = Field(default_factory=lambda: list(DEFAULT_VENDOR_MATCH), min_length=1)
    table: dict[str, str] = Field(default_factory=dict)


class AccountMapping(_TableRule):
    """GL codes to QBO Accounts, and the accounts lines without a code post to."""

    match: list[AccountMatch] = Field(default_factory=lambda: list(DEFAULT_ACCOUNT_MATCH), min_length=1)
    # partner GL code -> QBO account (AcctNum, fully qualified name or Id)
    table: dict[str, str] = Field(default_factory=dict)
    # item / part number -> QBO account, for lines that carry an item but no GL code
    items: dict[str, str] = Field(default_factory=dict)
    # the expense account for a bill line with no GL code and no item rule; unset = such a line fails
    default_expense: str | None = None
    # freight and other charges (X12 SAC / EDIFACT ALC charges) and allowances
    charges: str | None = None
    allowances: str | None = None
    # tax lines (EDIFACT summary TAX) posted as an expense; unset = a tax line fails
    tax: str | None = None
    # the A/P account bills and vendor credits post to; unset = QuickBooks' default A/P account
    ap_account: str | None = None


class ClassMapping(_TableRule):
    """Partner class codes to QBO Classes; `tracking: auto` follows the company's Preferences
    (ClassTrackingPerTxn / ClassTrackingPerTxnLine), `off` drops the file's classes on purpose."""

    tracking: Literal["auto", "per_line", "per_txn", "off"] = "auto"
    table: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class DepartmentMapping(_Strict):
    """The department (QBO 'location') this partner's documents post to: a QBO Department name or Id."""

    default: str | None = None


class TermMapping(_TableRule):
    """The file's payment terms (a name like 'Net 30', or days) to QBO Terms."""

    match: list[TermMatch] = Field(default_factory=lambda: list(DEFAULT_TERM_MATCH), min_length=1)
    table: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class ItemMapping(_TableRule):
    """Item / part numbers to QBO Items; when `match` is set, lines whose item resolves post as
    ItemBasedExpenseLineDetail. Empty (the default): lines post to accounts only."""

    match: list[ItemMatch] = Field(default_factory=list)
    table: dict[str, str] = Field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.match or self.table)


class PartnerMapping(_Strict):
    """Partner codes to QBO references for posting; an unmapped code is a validation failure, never a guess."""

    vendors: PartyMapping = Field(default_factory=PartyMapping)
    customers: PartyMapping = Field(default_factory=PartyMapping)
    employees: PartyMapping = Field(default_factory=lambda: PartyMapping(match=["table", "display_name"]))
    accounts: AccountMapping = Field(default_factory=AccountMapping)
    classes: ClassMapping = Field(default_factory=ClassMapping)
    departments: DepartmentMapping = Field(default_factory=DepartmentMapping)
    terms: TermMapping = Field(default_factory=TermMapping)
    items: ItemMapping = Field(default_factory=ItemMapping)

    @model_validator(mode="before")
    @classmethod
    def _old_default_expense_key(cls, value: Any) -> Any:
        # The first config shape had `default_expense_account` beside a flat `accounts` table.
        if isinstance(value, dict) and "default_expense_account" in value:
            value = dict(value)
            default = value.pop("default_expense_account")
            accounts = _flat_table(value.get("accounts") or {}, AccountMapping.model_fields)
            if isinstance(accounts, dict):
                accounts = {**accounts}
                accounts.setdefault("default_expense", default)
            value["accounts"] = accounts
        return value


class Acknowledgment(_Strict):
    format: Literal["auto", "x12_997", "edifact_contrl", "csv"] = "auto"
    sla_hours: float = Field(default=24.0, gt=0)
    # After posting, an X12 partner gets an 824 and an EDIFACT partner an APERAK naming the documents
    # that were syntactically accepted but not posted (the 997 / CONTRL stay syntax acknowledgments).
    application_advice: bool = False


class PostingPolicy(_Strict):
    """How a partner's documents are posted into QuickBooks."""

    # A document already in QuickBooks (same vendor and number) whose content changed: report it and
    # leave QuickBooks alone (skip), or send a sparse update with the current SyncToken (update).
    on_existing: Literal["skip", "update"] = "skip"
    # Post nothing from a file unless every document in it passes validation.
    all_or_nothing: bool = False
    # Attach the partner's original file to each bill it produced (a QBO Attachable).
    attach_source: bool = False


class PartnerAckFolder(_Strict):
    """The partner's 997s for our outbound X12: the folder they arrive in and which names are acks."""

    folder: str = "acks_in"
    pattern: str = "*"
    archive: str = "acks_in/archive"


class Partner(_Strict):
    company: str
    sftp: SftpEndpoint
    folders: Folders = Field(default_factory=Folders)
    readiness: Readiness = Field(default_factory=Readiness)
    outbound: dict[str, OutboundFeed] = Field(default_factory=dict)
    inbound: list[InboundRule] = Field(default_factory=list)
    mapping: PartnerMapping = Field(default_factory=PartnerMapping)
    posting: PostingPolicy = Field(default_factory=PostingPolicy)
    ack: Acknowledgment = Field(default_factory=Acknowledgment)
    # Seconds between two looks at the inbound folder (the SFTP sensor's interval).
    poll_interval: float = Field(default=60.0, ge=5)
    # Where the partner leaves its 997s for our outbound X12 (relative to folders.root, like the others).
    partner_acks: PartnerAckFolder = Field(default_factory=lambda: PartnerAckFolder())
    x12: X12Identity | None = None
    edifact: EdifactIdentity | None = None


class LedgerSettings(_Strict):
    path: str = ".data/ledger.duckdb"
    # `duckdb`: the file at `path`, one writer at a time (runs that write it share the duckdb_ledger pool).
    # `postgres`: the `postgres:` database, written by any number of runs on any hosts at once.
    backend: Literal["duckdb", "postgres"] = "duckdb"


class TokenStoreSettings(_Strict):
    path: str = ".data/tokens.json"
    # `file`: the 0600 JSON file at `path` (one host). `postgres`: one row per realm in the `postgres:`
    # database, so run workers on several hosts refresh a realm's token once between them.
    backend: Literal["file", "postgres"] = "file"


class LimiterSettings(_Strict):
    """Where every process keeps a realm's shared QBO request budget (the per-process limiter is always on)."""

    # `sqlite`: a file beside the token file, shared by the processes of one host. `postgres`: a table in
    # the `postgres:` database, shared by every process on every host that runs against the realm.
    # Unset: `postgres` when the tokens are there, else `sqlite`.
    backend: Literal["sqlite", "postgres"] | None = None


class PostgresSettings(_Strict):
    """The PostgreSQL database of the server backends; its URL is read from an environment variable."""

    url_env: str = "QBO_SFTP_POSTGRES_URL"

    @field_validator("url_env")
    @classmethod
    def _name_is_env_var(cls, value: str) -> str:
        _env_var_name(value)
        return value

    def url(self, environ: Mapping[str, str] | None = None) -> str:
        """The libpq URL (postgresql://user:password@host:port/db) from the environment, or a ConfigError."""
        url = (os.environ if environ is None else environ).get(self.url_env, "")
        if not url:
            raise ConfigError(
                f"postgres.url_env: set the environment variable {self.url_env} to the PostgreSQL URL "
                "(postgresql://user:password@host:port/database) the server backends use"
            )
        return url


class WebhookSettings(_Strict):
    """The webhook receiver (`qbo-sftp webhooks serve`): its spool and what it refuses."""

    # `sqlite`: the file at `spool_path`, shared by the receiver and the code location on one host.
    # `postgres`: a table in the `postgres:` database, so receivers, sensors and runs on any hosts share it.
    # Unset: `sqlite` when `spool_path` is set, else `postgres` when the ledger is there (the runs that
    # read the spool then run on any host), else `sqlite`.
    spool_backend: Literal["sqlite", "postgres"] | None = None
    spool_path: str = ".data/webhooks.sqlite"  # SQLite, never the ledger file
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    # Events whose lastUpdated / time is older are ignored (counted): a replay cannot bring back an old
    # change, and CDC (30 days) catches anything the receiver really missed.
    max_event_age_hours: float = Field(default=24.0, gt=0)
    # A company's webhook sensor deletes its events received longer ago than this once it has read past
    # them; at least the max event age, since a deleted event no longer stops a young replay.
    retention_hours: float = Field(default=168.0, gt=0)

    @model_validator(mode="after")
    def _spool_path_only_for_sqlite(self) -> WebhookSettings:
        if self.spool_backend == "postgres" and "spool_path" in self.model_fields_set:
            raise ValueError(
                "spool_path names a SQLite file, which spool_backend postgres does not use: remove spool_path "
                "(the spool is then in the database postgres.url_env names) or set spool_backend: sqlite"
            )
        return self

    @model_validator(mode="after")
    def _retention_covers_replays(self) -> WebhookSettings:
        if self.retention_hours < self.max_event_age_hours:
            raise ValueError(
                f"retention_hours ({self.retention_hours:g}) must be at least max_event_age_hours "
                f"({self.max_event_age_hours:g}): a pruned event no longer stops a signed replay that young"
            )
        return self


def _layout_kind(value: Any) -> str:
    """The layout's `kind`; a layout that does not say is CSV, the common case."""
    return value.get("kind", "csv") if isinstance(value, dict) else getattr(value, "kind", "csv")


LayoutConfig = Annotated[
    Annotated[CsvLayout, Tag("csv")] | Annotated[FixedWidthLayout, Tag("fixed")],
    Discriminator(_layout_kind),
]


class Config(_Strict):
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    tokens: TokenStoreSettings = Field(default_factory=TokenStoreSettings)
    limiter: LimiterSettings = Field(default_factory=LimiterSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    companies: dict[str, Company] = Field(default_factory=dict)
    partners: dict[str, Partner] = Field(default_factory=dict)
    layouts: dict[str, LayoutConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sqlite_budget_needs_the_token_file(self) -> Config:
        if self.limiter.backend == "sqlite" and self.tokens.backend != "file":
            raise ValueError("limiter.backend sqlite sits beside the token file: use it with tokens.backend file")
        return self

    @property
    def limiter_backend(self) -> Literal["sqlite", "postgres"]:
        """Where the realms' shared request budgets are kept (`limiter.backend`, else where the tokens are)."""
        if self.limiter.backend is not None:
            return self.limiter.backend
        return "postgres" if self.tokens.backend == "postgres" else "sqlite"

    @property
    def spool_backend(self) -> Literal["sqlite", "postgres"]:
        """Where the webhook spool is: `webhooks.spool_backend`; unset, a named `spool_path` is SQLite, else
        the spool follows the ledger."""
        if self.webhooks.spool_backend is not None:
            return self.webhooks.spool_backend
        if "spool_path" in self.webhooks.model_fields_set:
            return "sqlite"
        return "postgres" if self.ledger.backend == "postgres" else "sqlite"

    def partner(self, name: str) -> Partner:
        try:
            return self.partners[name]
        except KeyError:
            raise ConfigError(_unknown("partner", name, self.partners)) from None

    def company(self, name: str) -> Company:
        try:
            return self.companies[name]
        except KeyError:
            raise ConfigError(_unknown("company", name, self.companies)) from None

    def company_of(self, partner_name: str) -> Company:
        return self.companies[self.partner(partner_name).company]

    def all_layouts(self) -> dict[str, CsvLayout | FixedWidthLayout]:
        """The built-in layouts, overridden and extended by the file's own `layouts:`."""
        return {**builtin_layouts(), **self.layouts}

    def layout(self, name: str) -> CsvLayout | FixedWidthLayout:
        layouts = self.all_layouts()
        try:
            return layouts[name]
        except KeyError:
            raise ConfigError(_unknown("layout", name, layouts)) from None


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "none are configured"
    return f"unknown {kind} {name!r}{hint} (known: {listing})"


# --- cron and time zones ------------------------------------------------------------------------

# Each field's label, lowest and highest value, and the names it takes for values (month, weekday).
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
        },
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)


def check_cron(expression: str) -> None:
    """Raise ValueError naming the bad field unless `expression` is a 5-field cron string."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} is not a cron schedule: it needs 5 fields (minute hour day-of-month month "
            f"day-of-week), e.g. '0 6 * * 1' for Mondays at 06:00"
        )
    for text, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            _check_cron_part(expression, part, label, low, high, names)


def _check_cron_part(expression: str, part: str, label: str, low: int, high: int, names: Mapping[str, int]) -> None:
    def bad(why: str) -> ValueError:
        by_value = sorted(names, key=lambda name: names[name])
        allowed = f"{low}-{high}" + (f" or {by_value[0]}-{by_value[-1]}" if names else "")
        return ValueError(f"{expression!r}: the {label} field {part!r} {why} (allowed {allowed})")

    def number(token: str) -> int:
        if token.lower() in names:
            return names[token.lower()]
        if not token.isdigit():
            raise bad("is not a number")
        value = int(token)
        if not low <= value <= high:
            raise bad("is out of range")
        return value

    body, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        raise bad("has a bad step")
    if body == "*":
        return
    start, dash, end = body.partition("-")
    first = number(start)
    if dash and number(end) < first:
        raise bad("is a backwards range")


def check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone; use a name like 'America/Chicago' or 'UTC'") from None


# --- loading --------------------------------------------------------------------------------------


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The file to read: the explicit path, else $QBO_SFTP_CONFIG, else ./qbo_sftp.yaml."""
    return Path(explicit or os.environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_FILE)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the configuration file, or raise one ConfigError that says what to fix."""
    file = config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no configuration file here. Create it (see the README's configuration "
            f"reference) or point ${CONFIG_PATH_ENV} at one."
        ) from None
    return parse_config(text, source=str(file))


def parse_config(text: str, *, source: str = "<config>") -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys (ledger, companies, partners, ...)")
    problems = list(_inline_secrets(raw, ()))
    try:
        config = Config.model_validate(_without_secrets(raw))
    except ValidationError as error:
        problems += [_describe(item) for item in error.errors()]
        # Cross-references are checked on the typed model below; while the file does not validate,
        # the commonest one (a partner naming an unknown company) is still reported in this pass.
        problems += list(_unknown_companies(raw))
    else:
        problems += list(_broken_references(config))
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(f"{source}: {len(problems)} {noun}:\n{listing}")
    return config


def _inline_secrets(node: Any, path: tuple[str | int, ...]) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*path, key)
            if isinstance(key, str) and key.lower() in SECRET_KEYS and value not in (None, ""):
                yield (
                    f"{_dotted(here)}: a secret must not be written in the file. Put it in an "
                    f"environment variable and name it: {key}_env: SOME_VARIABLE"
                )
            else:
                yield from _inline_secrets(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _inline_secrets(value, (*path, index))
    elif isinstance(node, str) and "PRIVATE KEY-----" in node:
        yield f"{_dotted(path)}: a private key must not be written in the file; use key_file: PATH"


def _without_secrets(node: Any) -> Any:
    """A copy with inline secrets removed, so they are reported once, as secrets, not as unknown keys."""
    if isinstance(node, dict):
        return {
            key: _without_secrets(value)
            for key, value in node.items()
            if not (isinstance(key, str) and key.lower() in SECRET_KEYS and value not in (None, ""))
        }
    if isinstance(node, list):
        return [_without_secrets(value) for value in node]
    return node


def _unknown_companies(raw: Mapping[str, Any]) -> Iterable[str]:
    """`partners.NAME.company` values that name no company, read from the raw file."""
    companies = raw.get("companies")
    partners = raw.get("partners")
    if not isinstance(partners, dict):
        return
    known = companies if isinstance(companies, dict) else {}
    for name, partner in partners.items():
        company = partner.get("company") if isinstance(partner, dict) else None
        if isinstance(company, str) and company not in known:
            yield f"partners.{name}.company: {_unknown('company', company, known)}"


def _broken_references(config: Config) -> Iterable[str]:
    layouts = config.all_layouts()
    for name, partner in config.partners.items():
        if partner.company not in config.companies:
            yield f"partners.{name}.company: {_unknown('company', partner.company, config.companies)}"
        for index, rule in enumerate(partner.inbound):
            where = f"partners.{name}.inbound.{index}"
            if rule.format in ("csv", "fixed"):
                if not rule.layout:
                    yield f"{where}.layout: a {rule.format} rule needs a layout; add layout: NAME from layouts"
                elif rule.layout not in layouts:
                    yield f"{where}.layout: {_unknown('layout', rule.layout, layouts)}"
                elif layouts[rule.layout].kind != rule.format:
                    yield f"{where}.layout: {rule.layout!r} is a {layouts[rule.layout].kind} layout"
            if rule.format == "x12" and partner.x12 is None:
                yield f"partners.{name}.x12: an x12 inbound rule needs the x12 identities (our_id, partner_id)"
            if rule.format == "edifact" and partner.edifact is None:
                yield f"partners.{name}.edifact: an edifact inbound rule needs edifact identities"
        for feed_name, feed in partner.outbound.items():
            where = f"partners.{name}.outbound.{feed_name}"
            named = feed.layout.values() if isinstance(feed.layout, dict) else [feed.layout] if feed.layout else []
            for layout_name in named:
                if layout_name not in layouts:
                    yield f"{where}.layout: {_unknown('layout', layout_name, layouts)}"
            if feed.format == "x12_810" and partner.x12 is None:
                yield f"partners.{name}.x12: feed {feed_name!r} writes X12, which needs the x12 identities"
        yield from _mapping_problems(f"partners.{name}.mapping", partner.mapping)


def _mapping_problems(where: str, mapping: PartnerMapping) -> Iterable[str]:
    """What the mapping section says that cannot work, found without asking QuickBooks."""
    rules: dict[str, Any] = {
        "vendors": mapping.vendors,
        "customers": mapping.customers,
        "employees": mapping.employees,
        "accounts": mapping.accounts,
        "terms": mapping.terms,
        "items": mapping.items,
    }
    for key, rule in rules.items():
        seen: set[str] = set()
        for strategy in rule.match:
            if strategy in seen:
                yield f"{where}.{key}.match: {strategy!r} is listed twice; list each way to match once"
            seen.add(strategy)
        if rule.table and "table" not in rule.match and rule.match:
            yield (
                f"{where}.{key}.match: the {key} table is never used because match does not list it; "
                f"add 'table' to {where}.{key}.match"
            )
    if mapping.classes.tracking == "off" and (mapping.classes.default or mapping.classes.table):
        yield (
            f"{where}.classes.tracking: 'off' drops every class, so classes.default and classes.table are "
            "never used; remove them or set tracking: auto"
        )


_TYPE_WORDS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list (- item lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
}


def _describe(item: Mapping[str, Any]) -> str:
    loc = tuple(item["loc"])
    if len(loc) > 2 and loc[0] == "layouts" and loc[2] in ("csv", "fixed"):
        loc = loc[:2] + loc[3:]  # drop the union's tag: the user wrote layouts.NAME.field
    where = _dotted(loc)
    kind = item["type"]
    if kind == "missing":
        return f"{where}: required key is missing; add `{loc[-1]}: ...` here"
    if kind == "extra_forbidden":
        fields = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1) if fields else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = f" (allowed: {', '.join(sorted(fields))})" if fields and not close else ""
        return f"{where}: unknown key{hint}{allowed}"
    if kind in _TYPE_WORDS:
        return f"{where}: must be {_TYPE_WORDS[kind]}, got {item.get('input')!r}"
    if kind == "union_tag_invalid":
        return f"{where}: {item.get('ctx', {}).get('tag')!r} is not a layout kind; use kind: csv or kind: fixed"
    if kind == "literal_error":
        expected = item.get("ctx", {}).get("expected", "")
        return f"{where}: {item.get('input')!r} is not allowed; use one of {expected}"
    if kind == "value_error":
        message = str(item.get("ctx", {}).get("error", item["msg"]))
        return f"{where}: {message}"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "realm_id":
        return f"{where}: {item.get('input')!r} is not a realm id; it is the company's number (digits only)"
    return f"{where}: {item['msg'][0].lower()}{item['msg'][1:]}, got {item.get('input')!r}"


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _fields_at(path: tuple[Any, ...]) -> list[str]:
    """The keys the model allows at `path`, to suggest the closest one for a typo."""
    model: Any = Config
    index = 0
    if path[:1] == ("layouts",) and len(path) >= 2:
        if len(path) == 2:  # either kind of layout: suggest from both
            return sorted(set(CsvLayout.model_fields) | set(FixedWidthLayout.model_fields))
        model, index = FixedWidthLayout, 2  # only fixed-width layouts nest deeper
    while index < len(path):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        info = model.model_fields.get(str(path[index]))
        if info is None:
            return []
        model, index = _unwrap(info.annotation), index + 1
        if getattr(model, "__origin__", None) in (dict, list):
            model, index = _unwrap(model.__args__[-1]), index + 1
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    if getattr(annotation, "__origin__", None) in (dict, list):
        return annotation
    if args and len(args) == 1:
        return args[0]
    return annotation
