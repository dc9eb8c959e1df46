"""The code location's definitions on the embedded sandboxes: QBO connected, SFTP folders made, a Dagster instance."""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.definitions import build_definitions
from qbo_sftp_assets.embedded import EmbeddedEnvironment, connect_company, embedded_environment, environment_variables


@dataclass
class DefsEnvironment:
    env: EmbeddedEnvironment
    config: Config
    definitions: dg.Definitions
    instance: dg.DagsterInstance

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.definitions.resources)

    def assets(self, *names: str) -> list[Any]:
        """The definitions' own assets (and checks) with these names, unbound, for `dg.materialize`."""
        found = [
            a for a in self.definitions.assets or [] if isinstance(a, dg.AssetsDefinition) and a.key.path[-1] in names
        ]
        checks = [
            c for c in self.definitions.asset_checks or [] if any(k.asset_key.path[-1] in names for k in c.check_keys)
        ]
        assert len(found) == len(names), f"asked for {names}, found {[a.key for a in found]}"
        return [*found, *checks]

    def materialize(self, *names: str, **options: Any) -> dg.ExecuteInProcessResult:
        return dg.materialize(self.assets(*names), instance=self.instance, resources=self.resources, **options)

    def sftp_folder(self, partner: str, kind: str) -> Path:
        return self.env.sftp.root / partner / kind

    def drop(self, partner: str, name: str, content: bytes) -> None:
        """A partner's upload: written beside, then renamed into inbound/ (the `rename` readiness policy)."""
        folder = self.sftp_folder(partner, "inbound")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f".{name}.part").write_bytes(content)
        (folder / f".{name}.part").rename(folder / name)


@contextlib.contextmanager
def defs_environment(
    workdir: Path, edit: Callable[[dict[str, Any]], None] | None = None, *, webhooks: bool = False
) -> Iterator[DefsEnvironment]:
    """The embedded sandboxes with the company connected; `edit` may change the config before it is read.
    `webhooks`: the sandbox sends its signed webhooks to `env.env.webhook_port` (start a receiver there)."""
    with embedded_environment(workdir, webhooks=webhooks) as env, environment_variables(env.environ):
        if edit is not None:
            raw = yaml.safe_load(env.config_path.read_text())
            edit(raw)
            env.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        connect_company(env)
        config = env.config()
        home = workdir / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            yield DefsEnvironment(env, config, build_definitions(config), instance)
