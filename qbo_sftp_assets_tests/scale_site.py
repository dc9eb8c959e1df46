"""Several QBO companies, each with three partners, on one sandbox and one SFTP server: the scale test and bench.

Every company is its own sandbox realm (the manufacturer seed, so the bench's vendors and accounts
resolve), with its own rate limits. The state backends are the embedded files, or with `state_url` the
ledger, the tokens and the realms' shared request budgets in that PostgreSQL database. Inbound runs
are started as separate OS processes (`scale_worker`), each one run as a run worker on another host
runs it, against a Dagster instance every process opens from the same DAGSTER_HOME.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from qbo_sftp_assets.config import CONFIG_PATH_ENV, Config, load_config
from qbo_sftp_assets.dagster_dev import PROJECT_ROOT
from qbo_sftp_assets.defs.event_log_storage import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_ENV
from qbo_sftp_assets.defs.partitions import INBOUND_FILES
from qbo_sftp_assets.embedded import create_partner_folders, embedded_config, environment_variables
from qbo_sftp_assets.ledger import ledger_for
from qbo_sftp_assets.mapping import refresh_reference
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.qbo.tokens import TokenGrant, TokenRecord, open_token_store
from qbo_sftp_assets.sandbox.qbo_server import RealmSpec, RunningSandbox, SandboxSettings, start_sandbox
from qbo_sftp_assets.sandbox.sftp_server import EmbeddedSftp, start_embedded_sftp
from qbo_sftp_assets_tests.bench.bench_pipeline import EDIFACT_PARTNER, DroppedFile, generate

FIRST_SCALE_REALM = 9130357992230001
STATE_URL_ENV = "QBO_SFTP_POSTGRES_URL"
# The embedded config's two inbound partners and the bench's EDIFACT one, per company: the partner
# names the bench's files carry.
INBOUND_PARTNERS = ("great_lakes_steel", "legacy_erp", "baltic_mills")


@dataclass(frozen=True)
class ScaleSite:
    workdir: Path
    config_path: Path
    qbo: RunningSandbox
    sftp: EmbeddedSftp
    environ: dict[str, str]
    realms: dict[str, str]  # company name -> realm id

    def config(self) -> Config:
        return load_config(self.config_path)

    def realm_stats(self) -> dict[str, dict[str, Any]]:
        """The sandbox's own counters for each of our realms (requests, writes, 429s, token refreshes)."""
        realms = self.qbo.state.stats()["realms"]
        return {realm: realms[realm] for realm in self.realms.values()}


def company_name(index: int) -> str:
    return f"company_{index}"


def partner_name(partner: str, index: int) -> str:
    return f"{partner}_{index}"


def _site_config(workdir: Path, qbo: RunningSandbox, sftp: EmbeddedSftp, realm_ids: list[str]) -> dict[str, Any]:
    base = embedded_config(workdir, qbo, sftp)
    template = base["companies"].popitem()[1]
    partners = {name: dict(base["partners"][name]) for name in INBOUND_PARTNERS[:2]}
    partners["baltic_mills"] = {"sftp": sftp.endpoint_settings(), **EDIFACT_PARTNER}
    for partner in partners.values():
        partner.pop("outbound", None)  # inbound only: no schedules or feeds beside the runs measured
    settings: dict[str, Any] = {**base, "companies": {}, "partners": {}}
    for index, realm in enumerate(realm_ids):
        company = company_name(index)
        settings["companies"][company] = {**template, "realm_id": realm}
        for name, partner in partners.items():
            folders = {**partner["folders"], "root": partner_name(name, index)}
            settings["partners"][partner_name(name, index)] = {**partner, "company": company, "folders": folders}
    return settings


@contextlib.contextmanager
def scale_site(
    workdir: Path,
    *,
    realms: int,
    state_url: str | None = None,
    sandbox: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> Iterator[ScaleSite]:
    """Start the sandbox with `realms` companies and the SFTP server, write the config, connect every
    company (a token pair minted for each) and load its reference data into the ledger.

    `sandbox`: SandboxSettings fields (limits, latency); `limits`: each company's client limits.
    """
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    realm_ids = [str(FIRST_SCALE_REALM + index) for index in range(realms)]
    specs = tuple(RealmSpec(realm, f"Scale Company {n}", "manufacturer") for n, realm in enumerate(realm_ids))
    with (
        start_sandbox(SandboxSettings(realms=specs, **(sandbox or {}))) as qbo,
        start_embedded_sftp(workdir / "sftp", workdir / "keys") as sftp,
    ):
        settings = _site_config(workdir, qbo, sftp, realm_ids)
        if limits:
            for company in settings["companies"].values():
                company["limits"] = dict(limits)
        environ = {
            "QBO_CLIENT_ID": qbo.settings.client_id,
            "QBO_CLIENT_SECRET": qbo.settings.client_secret,
        }
        if state_url is not None:
            settings["ledger"]["backend"] = "postgres"
            settings["tokens"]["backend"] = "postgres"
            settings["postgres"] = {"url_env": STATE_URL_ENV}
            environ[STATE_URL_ENV] = state_url
        config_path = workdir / "qbo_sftp.yaml"
        config_path.write_text(yaml.safe_dump(settings, sort_keys=False))
        environ[CONFIG_PATH_ENV] = str(config_path)
        site = ScaleSite(
            workdir, config_path, qbo, sftp, environ, {company_name(n): r for n, r in enumerate(realm_ids)}
        )
        with environment_variables(environ):
            config = site.config()
            create_partner_folders(config, sftp.root)
            store = open_token_store(config)
            ledger = ledger_for(config)
            for company, realm in site.realms.items():
                store.put(TokenRecord.from_grant(realm, TokenGrant.from_json(qbo.state.issue_tokens(realm))))
                with qbo_client_for(config, company) as client:
                    refresh_reference(client, ledger, realm)
        yield site


def site_files(count: int, realms: int) -> list[list[DroppedFile]]:
    """The bench's `count` files (CSV, X12 810, EDIFACT in turn), dealt out to the companies' partners."""
    dealt: list[list[DroppedFile]] = [[] for _ in range(realms)]
    for index, file in enumerate(generate(count)):
        realm = index % realms
        dealt[realm].append(dataclasses.replace(file, partner=partner_name(file.partner, realm)))
    return dealt


def file_key(file: DroppedFile) -> str:
    return f"{file.partner}/{file.name}"


def add_partitions(instance: dg.DagsterInstance, files: list[DroppedFile]) -> None:
    """Each file's `inbound_files` partition, in this order (a run's range is contiguous in it)."""
    instance.add_dynamic_partitions(INBOUND_FILES, [file_key(file) for file in files])


def start_worker(home: Path, site: ScaleSite, first: str, last: str, realm: str, log: Path) -> subprocess.Popen[bytes]:
    """One inbound run over the partitions `first`..`last`, tagged with its realm, in a new OS process."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "qbo_sftp_assets_tests.scale_worker", first, last, realm],
            cwd=PROJECT_ROOT,
            # As `qbo-sftp dev` runs its processes: Dagster hands the event log batches of events.
            env={**os.environ, EVENT_BATCH_SIZE_ENV: str(EVENT_BATCH_SIZE), **site.environ, "DAGSTER_HOME": str(home)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def filed(root: Path, files: list[DroppedFile]) -> tuple[int, list[str]]:
    """How many files sit in archive/ or error/ with their ack, and what is still in inbound/ or processing/."""
    done, waiting = 0, []
    for partner in {file.partner for file in files}:
        folder = root / partner
        waiting += [
            f"{partner}/{kind}/{p.name}" for kind in ("inbound", "processing") for p in (folder / kind).iterdir()
        ]
        acks = [p.name for p in (folder / "acks").iterdir()]
        for file in (f for f in files if f.partner == partner):
            in_place = (folder / "archive" / file.name).exists() or (folder / "error" / file.name).exists()
            done += in_place and any(ack.startswith(file.name) for ack in acks)
    return done, sorted(waiting)
