"""Many files through the inbound steps cost one ledger connection per step, not several per file.

Opening the DuckDB file costs tens of milliseconds (more on a loaded machine: 50 ms measured), so a
step that opened it for each ledger call spent ~0.3-0.8 s per file on connections alone. The steps run
on the embedded SFTP server and the QBO sandbox, as the asset graph runs them for one run of files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from qbo_sftp_assets.embedded import COMPANY, connect_company, embedded_environment, environment_variables
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping import refresh_reference
from qbo_sftp_assets.pipeline import inbound_batch
from qbo_sftp_assets.pipeline.inbound import FiledFile
from qbo_sftp_assets.qbo.client import QboClient, qbo_client_for
from qbo_sftp_assets.sftp import PartnerFiles, partner_files
from qbo_sftp_assets_tests.bench.bench_pipeline import EDIFACT_PARTNER, drop_all, generate

FILES = 24  # CSV, X12 810 and EDIFACT INVOIC in turn (three partners), 1-5 bills each


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Iterator[tuple[dict, Counter, Path, list]]:
    workdir = tmp_path_factory.mktemp("many_files")
    with (
        embedded_environment(workdir, extra_partners={"baltic_mills": EDIFACT_PARTNER}) as env,
        environment_variables(env.environ),
    ):
        connect_company(env)
        config = env.config()
        ledger = Ledger(config.ledger.path)
        with qbo_client_for(config, COMPANY) as client:
            refresh_reference(client, ledger, client.realm_id)
        files = generate(FILES)
        drop_all(env.sftp.root, files)
        keys = {f"{f.partner}/{f.name}": (f.partner, f.name) for f in files}

        def open_partner(name: str) -> contextlib.AbstractContextManager[PartnerFiles]:
            return partner_files(name, config.partner(name))

        def open_client(company: str) -> contextlib.AbstractContextManager[QboClient]:
            return qbo_client_for(config, company)

        opened: Counter = Counter()
        connect = duckdb.connect
        step = ""

        def counting_connect(*args, **kwargs):
            opened[step] += 1
            return connect(*args, **kwargs)

        now = dt.datetime.now(dt.UTC)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(duckdb, "connect", counting_connect)
            step = "landing"
            landed = inbound_batch.land_files(open_partner, keys, ledger, workdir / "landed")
            step = "reading"
            parsed = inbound_batch.read_files(landed, config, ledger, as_of=now)
            step = "validating"
            validated = inbound_batch.validate_files(parsed, config, ledger)
            step = "posting"
            posted = inbound_batch.post_validated_files(open_client, parsed, validated, config, ledger)
            step = "acknowledging"
            filed = inbound_batch.acknowledge_files(open_partner, parsed, posted, config, ledger, as_of=now)
        yield filed, opened, env.sftp.root, files


def test_every_file_is_acknowledged_and_archived(outcome):
    filed, _opened, root, files = outcome
    assert all(isinstance(result, FiledFile) and result.status == "accepted" for result in filed.values()), filed
    for file in files:
        assert (root / file.partner / "archive" / file.name).exists()
        assert any(ack.name.startswith(file.name + ".") for ack in (root / file.partner / "acks").iterdir())
    for partner in {file.partner for file in files}:
        assert not list((root / partner / "processing").iterdir())


def test_each_step_opens_the_ledger_once_per_partner_whatever_the_number_of_files(outcome):
    _filed, opened, _root, files = outcome
    partners = len({file.partner for file in files})
    assert set(opened) <= {"landing", "reading", "validating", "posting", "acknowledging"}
    # The SFTP steps hold one ledger session beside each partner's SFTP session; the others one in all.
    assert opened["landing"] <= partners and opened["acknowledging"] <= partners, dict(opened)
    assert all(opened[step] <= 1 for step in ("reading", "validating", "posting")), dict(opened)
