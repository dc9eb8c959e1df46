"""The resources every asset, check and sensor uses, all reading the one configuration file once per run.

`ConfigFileResource` is the one place the file is read; the ledger, QBO and SFTP resources depend on
it, and its cache means a run reads the file once.
QBO app credentials are read from the environment variables the config names, exactly as the CLI does.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

from qbo_sftp_assets.config import Config, ConfigError, Partner, config_path, load_config
from qbo_sftp_assets.ledger import Ledger, ledger_for
from qbo_sftp_assets.qbo import QboClient, qbo_client_for
from qbo_sftp_assets.sftp import PartnerFiles, partner_files

# Everything that writes the DuckDB ledger runs in this pool; the instance sets its limit to 1
# (`dagster instance concurrency set duckdb_ledger 1`), so writers queue instead of failing on the lock.
LEDGER_POOL = "duckdb_ledger"
# Runs that write one QBO company carry this tag; a run-tag limit per value keeps each realm's runs serial.
REALM_TAG = "qbo/realm_id"


class ConfigFileResource(dg.ConfigurableResource):
    """Points at `qbo_sftp.yaml`; empty means $QBO_SFTP_CONFIG, else ./qbo_sftp.yaml.

    The parsed file is cached per process for as long as the file is unchanged (path, mtime, size):
    a run, which is one process, reads it once however many resources and steps ask, and a run
    started after an edit (a mapping fix before a replay) reads the new file.
    """

    config_path: str | None = None

    def load(self) -> Config:
        path = config_path(self.config_path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return load_config(path)  # raises the message that says how to create one
        version = (stat.st_mtime_ns, stat.st_size)
        cached = _PARSED.get(str(path.resolve()))
        if cached is None or cached[0] != version:
            cached = _PARSED[str(path.resolve())] = (version, load_config(path))
        return cached[1]


_PARSED: dict[str, tuple[tuple[int, int], Config]] = {}


class LedgerResource(dg.ConfigurableResource):
    """The ledger the config names (`ledger.backend`); `path` pins a DuckDB file instead. Connections are
    short-lived."""

    config: dg.ResourceDependency[ConfigFileResource]
    path: str | None = None

    def ledger(self) -> Ledger:
        return Ledger(self.path) if self.path else ledger_for(self.config.load())


class QboResource(dg.ConfigurableResource):
    """QuickBooks Online clients for the companies in the config.

    Each company names the environment variables holding its app's client id and secret
    (`client_id_env`, `client_secret_env`); they are read when a client is made, never stored here.
    """

    config: dg.ResourceDependency[ConfigFileResource]

    def client(self, company_name: str | None = None) -> QboClient:
        """A client for `company_name`, or for the only company when the config names just one."""
        config = self.config.load()
        if company_name is None:
            if len(config.companies) != 1:
                names = ", ".join(config.companies) or "none"
                raise ConfigError(f"say which company to use: the config names {len(config.companies)} ({names})")
            company_name = next(iter(config.companies))
        return qbo_client_for(config, company_name)

    def credential_env_names(self) -> dict[str, tuple[str, str]]:
        """Per company, the names of the variables holding its client id and secret (for messages)."""
        return {
            name: (company.client_id_env, company.client_secret_env)
            for name, company in self.config.load().companies.items()
        }


class SftpResource(dg.ConfigurableResource):
    """Sessions to the partners' SFTP servers, each verified against the host keys pinned in the config."""

    config: dg.ResourceDependency[ConfigFileResource]

    def partner_config(self, name: str) -> Partner:
        return self.config.load().partner(name)

    @contextlib.contextmanager
    def partner(self, name: str) -> Iterator[PartnerFiles]:
        """One verified session to partner `name`'s server, closed when the block ends."""
        with partner_files(name, self.partner_config(name)) as files:
            yield files


class _PerPartitionPickles(PickledObjectFilesystemIOManager):
    """Pickles a partitioned output given as `{partition_key: value}`, one file per partition and run.

    Dagster's filesystem IO manager refuses an output that spans several partitions, which is what
    a single-run backfill over many inbound files produces; here every file keeps its own stored
    value, so re-materializing one file's partition later reads exactly that file's upstream value.
    Inputs always arrive as `{partition_key: value}`, for one partition or many.

    Two runs may hold the same file's partition at once (a range asked twice, a sensor's run beside a
    replay): the one that lost the file's claim stores "no file" for it. So each run writes its own
    copy under `RUNS_FOLDER/<run id>/` and a step reads what its upstream step produced in that run
    (or in the parent run, for a re-execution). The partition's plain path is a hard link to the newest
    copy, replaced atomically, for a run that loads the value without producing it.
    """

    RUNS_FOLDER = "partition_values_by_run"

    def _run_copy(self, path: Any, run_id: str) -> Any:
        return self._base_path / self.RUNS_FOLDER / run_id / path.relative_to(self._base_path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not context.has_asset_partitions:
            super().handle_output(context, obj)
            return
        paths = self._get_paths_for_partitions(context)
        missing = sorted(set(paths) - set(obj))
        if missing:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()} returned no value for partitions {missing}"
            )
        for key, path in paths.items():
            run_copy = self._run_copy(path, context.run_id)
            self.make_directory(run_copy.parent)
            self.make_directory(path.parent)
            # Each value is a new file renamed into place, so a reader sees the old value or the new one,
            # never half a pickle, and a step retried in this run does not rewrite the file `path` links to.
            written = run_copy.with_name(f".{run_copy.name}.writing")
            self.dump_to_path(context=context, obj=obj[key], path=written)
            written.replace(run_copy)
            newest = path.with_name(f".{path.name}.{context.run_id}")
            newest.unlink(missing_ok=True)  # left by a crash between the link and the rename
            newest.hardlink_to(run_copy)
            newest.replace(path)

    def load_input(self, context: dg.InputContext) -> Any:
        if not context.has_asset_partitions:
            return super().load_input(context)
        producing_run = _producing_run(context)
        values = {}
        for key, path in self._get_paths_for_partitions(context).items():
            run_copy = self._run_copy(path, producing_run) if producing_run else None
            values[key] = self.load_from_path(context, run_copy if run_copy and run_copy.exists() else path)
        return values


def _producing_run(context: dg.InputContext) -> str | None:
    """The run whose step produced this input (this run, or the parent of a re-execution); None when
    the upstream asset is loaded from storage without a step of this run's plan behind it."""
    upstream = context.upstream_output
    if upstream is None:
        return None
    try:
        return upstream.run_id
    except dg.DagsterInvariantViolationError:  # Dagster's way of saying the output context has no run
        return None


class FilePartitionsIOManager(dg.ConfigurableIOManagerFactory):
    """Stores each partition of a many-partition output separately, under the instance's storage folder."""

    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> _PerPartitionPickles:
        base_dir = self.base_dir
        if base_dir is None:
            if context.instance is None:
                raise dg.DagsterInvariantViolationError("FilePartitionsIOManager needs base_dir outside an instance")
            base_dir = context.instance.storage_directory()
        return _PerPartitionPickles(base_dir=base_dir)


def build_resources(config_path: str | None = None) -> dict[str, Any]:
    """The code location's resources; one ConfigFileResource shared by the others."""
    config_file = ConfigFileResource(config_path=config_path)
    return {
        "qbo_sftp_config": config_file,
        "ledger": LedgerResource(config=config_file),
        "qbo": QboResource(config=config_file),
        "sftp": SftpResource(config=config_file),
        "file_partitions_io_manager": FilePartitionsIOManager(),
    }
