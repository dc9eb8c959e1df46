"""The embedded default: the QBO sandbox and the SFTP server on loopback, and a config that points at them.

`make demo` and `make dev` run on this, so nobody needs an Intuit account or an SFTP server to try it.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from qbo_sftp_assets.config import CONFIG_PATH_ENV, Config, load_config
from qbo_sftp_assets.qbo.oauth import ConsentError, Endpoints, OAuthClient, check_callback, new_state
from qbo_sftp_assets.qbo.tokens import TokenRecord, TokenStore
from qbo_sftp_assets.sandbox.qbo_server import FIRST_REALM_ID, RunningSandbox, SandboxSettings, start_sandbox
from qbo_sftp_assets.sandbox.sftp_server import EmbeddedSftp, start_embedded_sftp
from qbo_sftp_assets.webhooks.receiver import WEBHOOK_PATH

COMPANY = "northwind"
# Loopback only: the sandbox never sends the browser anywhere, it redirects straight back here.
REDIRECT_URI = "http://127.0.0.1:8765/callback"
# Seconds between two looks at a partner's inbound folder: short, so a dropped file shows up in the UI
# within a tick or two (the daemon ticks every 5 s at best).
DEV_POLL_INTERVAL = 5.0
# With webhooks on (`qbo-sftp dev`): the variable holding the sandbox's verifier token, the feed that
# follows bill changes, and its quiet period (short, so a change shows up as a file within a minute).
WEBHOOK_VERIFIER_ENV = "QBO_WEBHOOK_VERIFIER"
CHANGE_FEED = ("legacy_erp", "bill_changes")
DEV_DEBOUNCE_SECONDS = 10.0


@dataclass(frozen=True)
class EmbeddedEnvironment:
    """Both sandboxes running, the config file written for them, and the env vars that config names."""

    workdir: Path
    config_path: Path
    qbo: RunningSandbox
    sftp: EmbeddedSftp
    environ: dict[str, str]
    # The loopback port the sandbox POSTs its signed webhooks to (None: webhooks off); the receiver
    # is started by whoever runs the environment (`qbo-sftp dev`), from the config's settings.
    webhook_port: int | None = None

    def config(self) -> Config:
        return load_config(self.config_path)


def embedded_config(workdir: Path, qbo: RunningSandbox, sftp: EmbeddedSftp) -> dict[str, Any]:
    """Three partners on the one embedded SFTP server, each in its own folder, posting into one company."""
    endpoint = sftp.endpoint_settings()
    return {
        "ledger": {"path": str(workdir / "ledger.duckdb")},
        "tokens": {"path": str(workdir / "tokens.json")},
        "companies": {
            COMPANY: {
                "realm_id": FIRST_REALM_ID,
                "environment": "local",
                "base_url": qbo.base_url,
                "redirect_uri": REDIRECT_URI,
            }
        },
        "partners": {
            "great_lakes_steel": {
                "company": COMPANY,
                "sftp": endpoint,
                "folders": {"root": "great_lakes_steel"},
                "readiness": {"policy": "rename"},
                "poll_interval": DEV_POLL_INTERVAL,
                "inbound": [{"pattern": "*.edi", "format": "x12"}],
                "x12": {"our_id": "NORTHWINDFAB", "partner_id": "GREATLAKES"},
                # The 810's N1 id is the vendor's account number in QBO (matched by acct_num); its lines
                # carry part numbers, not GL codes, so each part names the account it posts to.
                "mapping": {
                    "accounts": {
                        "items": {"A36-025": "Steel & Raw Materials", "SQT-2X2": "Steel & Raw Materials"},
                        "charges": "Freight In",
                    },
                },
            },
            "acme_tractor": {
                "company": COMPANY,
                "sftp": endpoint,
                "folders": {"root": "acme_tractor"},
                "outbound": {
                    "weekly_invoices": {
                        "entities": ["invoices"],
                        "format": "x12_810",
                        "schedule": "0 6 * * 1",
                        "timezone": "America/New_York",
                    }
                },
                "x12": {"our_id": "NORTHWINDFAB", "partner_id": "ACMETRACTOR"},
            },
            "legacy_erp": {
                "company": COMPANY,
                "sftp": endpoint,
                "folders": {"root": "legacy_erp"},
                "readiness": {"policy": "rename"},
                "poll_interval": DEV_POLL_INTERVAL,
                "inbound": [{"pattern": "*.csv", "format": "csv", "layout": "bills_csv"}],
                # Vendor ids are QBO account numbers and most GL codes are QBO AcctNums (matched as they
                # are); the ERP's own 6150 needs a table entry. GL 5250 is missing on purpose: the demo's
                # sample file uses it, the check fails naming it, and the demo then adds it and replays.
                "mapping": {"accounts": {"table": {"6150": "Shop Supplies"}}},
                "outbound": {
                    "vendor_list": {
                        "entities": ["vendors", "accounts", "classes"],
                        "format": "csv",
                        "schedule": "30 5 * * *",
                        "timezone": "America/New_York",
                    }
                },
                "ack": {"format": "csv"},
            },
        },
    }


def add_webhooks(settings: dict[str, Any], workdir: Path) -> None:
    """The receiver's spool and verifier variable, and a bill feed that follows changes, in `settings`."""
    settings["webhooks"] = {"spool_path": str(workdir / "webhooks.sqlite")}
    settings["companies"][COMPANY]["webhook_verifier_env"] = WEBHOOK_VERIFIER_ENV
    partner, feed = CHANGE_FEED
    settings["partners"][partner]["outbound"][feed] = {
        "entities": ["bills"],
        "format": "csv",
        "trigger": "on_change",
        "debounce_seconds": DEV_DEBOUNCE_SECONDS,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def embedded_environment(
    workdir: Path, *, extra_partners: dict[str, dict[str, Any]] | None = None, webhooks: bool = False
) -> Iterator[EmbeddedEnvironment]:
    """Start both sandboxes, write `workdir/qbo_sftp.yaml` for them, and stop them on exit.

    `extra_partners` adds partners (their `sftp` endpoint filled in) beside the demo's three.
    `webhooks`: the sandbox POSTs signed webhooks to `webhook_port` on loopback, and the config names
    the receiver's spool, the verifier variable (set in `environ`) and an `on_change` bill feed.
    """
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # The receiver's port is chosen before the sandbox starts: its webhook URL is a start-up setting.
    webhook_port = _free_port() if webhooks else None
    sandbox_settings = (
        SandboxSettings(webhook_url=f"http://127.0.0.1:{webhook_port}{WEBHOOK_PATH}") if webhooks else SandboxSettings()
    )
    with (
        start_sandbox(sandbox_settings) as qbo,
        start_embedded_sftp(workdir / "sftp", workdir / "keys") as sftp,
    ):
        config_path = workdir / "qbo_sftp.yaml"
        settings = embedded_config(workdir, qbo, sftp)
        if webhooks:
            add_webhooks(settings, workdir)
        for name, partner in (extra_partners or {}).items():
            settings["partners"][name] = {"company": COMPANY, "sftp": sftp.endpoint_settings(), **partner}
        config_path.write_text(yaml.safe_dump(settings, sort_keys=False))
        create_partner_folders(load_config(config_path), sftp.root)
        environ = {
            # The sandbox's published demo credentials, not secrets; the config names these variables.
            "QBO_CLIENT_ID": qbo.settings.client_id,
            "QBO_CLIENT_SECRET": qbo.settings.client_secret,
            CONFIG_PATH_ENV: str(config_path),
        }
        if webhooks:
            environ[WEBHOOK_VERIFIER_ENV] = qbo.settings.webhook_verifier_token
        yield EmbeddedEnvironment(workdir, config_path, qbo, sftp, environ, webhook_port)


def create_partner_folders(config: Config, sftp_root: Path) -> list[Path]:
    """Every folder the config names for each partner, made on the embedded server's disk (it is the server's jail)."""
    made = []
    for partner in config.partners.values():
        folders = partner.folders
        base = sftp_root / folders.root.strip("/")
        names = [folders.inbound, folders.processing, folders.archive, folders.error, folders.acks, folders.outbound]
        if partner.outbound:  # where the partner's 997s for our files arrive, and are filed once read
            names += [partner.partner_acks.folder, partner.partner_acks.archive]
        for name in names:
            folder = base / name.strip("/")
            folder.mkdir(parents=True, exist_ok=True)
            made.append(folder)
    return made


@contextlib.contextmanager
def environment_variables(values: dict[str, str]) -> Iterator[None]:
    """Set `values` in os.environ for the block, restoring what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect_company(env: EmbeddedEnvironment) -> TokenRecord:
    """The OAuth consent flow against the sandbox, with an HTTP client standing in for the browser."""
    config = env.config()
    company = config.company(COMPANY)
    state = new_state()
    oauth = OAuthClient(env.qbo.settings.client_id, env.qbo.settings.client_secret, Endpoints.for_company(company))
    try:
        consent = httpx.get(oauth.consent_url(company.redirect_uri, state), follow_redirects=False, timeout=10)
        if consent.status_code != 302:
            raise ConsentError(f"the sandbox's consent page answered {consent.status_code}, not a redirect")
        callback = check_callback(dict(httpx.URL(consent.headers["location"]).params), state)
        grant = oauth.exchange_code(callback.code, company.redirect_uri)
    finally:
        oauth.close()
    record = TokenRecord.from_grant(callback.realm_id, grant)
    TokenStore(config.tokens.path).put(record)
    return record
