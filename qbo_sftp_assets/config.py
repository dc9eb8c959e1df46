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
from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.layouts import CsvLayout, FixedWidthLayout

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
    """Entities rendered for a partner and deposited in its outbound folder on a schedule."""

    entities: list[Literal["bills", "invoices", "vendors", "accounts", "classes", "customers", "items", "terms"]]
    format: Literal["csv", "x12_810"] = "csv"
    schedule: str | None = None  # cron, evaluated in `timezone`
    timezone: str = "UTC"
    on_change: bool = False
    filename: str = "{feed}_{timestamp}.{ext}"
    layout: str | None = None
    done_file: bool = False

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


class Mapping_(_Strict):
    """Partner codes to QBO names or ids; an unmapped code is a validation failure, never a guess."""

    accounts: dict[str, str] = Field(default_factory=dict)
    classes: dict[str, str] = Field(default_factory=dict)
    vendors: dict[str, str] = Field(default_factory=dict)
    customers: dict[str, str] = Field(default_factory=dict)
    items: dict[str, str] = Field(default_factory=dict)
    default_expense_account: str | None = None


class X12Identity(_Strict):
    """Our and the partner's interchange and group ids (ISA05-08, GS02-03)."""

    our_qualifier: str = Field(default="ZZ", min_length=2, max_length=2)
    our_id: str = Field(min_length=1, max_length=15)
    partner_qualifier: str = Field(default="ZZ", min_length=2, max_length=2)
    partner_id: str = Field(min_length=1, max_length=15)
    our_group_id: str | None = None
    partner_group_id: str | None = None
    version: str = "00401"
    usage: Literal["P", "T"] = "P"
    request_ta1: bool = False


class EdifactIdentity(_Strict):
    our_id: str = Field(min_length=1, max_length=35)
    our_qualifier: str | None = None
    partner_id: str = Field(min_length=1, max_length=35)
    partner_qualifier: str | None = None
    syntax: Literal["UNOA", "UNOB", "UNOC"] = "UNOC"


class Acknowledgment(_Strict):
    format: Literal["auto", "x12_997", "edifact_contrl", "csv"] = "auto"
    sla_hours: float = Field(default=24.0, gt=0)


class Partner(_Strict):
    company: str
    sftp: SftpEndpoint
    folders: Folders = Field(default_factory=Folders)
    readiness: Readiness = Field(default_factory=Readiness)
    outbound: dict[str, OutboundFeed] = Field(default_factory=dict)
    inbound: list[InboundRule] = Field(default_factory=list)
    mapping: Mapping_ = Field(default_factory=Mapping_)
    ack: Acknowledgment = Field(default_factory=Acknowledgment)
    x12: X12Identity | None = None
    edifact: EdifactIdentity | None = None


class LedgerSettings(_Strict):
    path: str = ".data/ledger.duckdb"


class TokenStoreSettings(_Strict):
    path: str = ".data/tokens.json"


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
    companies: dict[str, Company] = Field(default_factory=dict)
    partners: dict[str, Partner] = Field(default_factory=dict)
    layouts: dict[str, LayoutConfig] = Field(default_factory=dict)

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

_CRON_FIELDS = (
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
        allowed = f"{low}-{high}" + (f" or {min(names, key=names.get)}-{max(names, key=names.get)}" if names else "")
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
            if feed.layout and feed.layout not in layouts:
                yield f"{where}.layout: {_unknown('layout', feed.layout, layouts)}"
            if feed.format == "x12_810" and partner.x12 is None:
                yield f"partners.{name}.x12: feed {feed_name!r} writes X12, which needs the x12 identities"


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
