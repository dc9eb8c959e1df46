"""Each layer package's public names (its `__all__`) resolve from the package, and the lazy surfaces
(`qbo_sftp_assets.surface`) list every name alike in `__all__`, the TYPE_CHECKING imports and the
exports table, and keep a light module light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

PACKAGES = [
    "qbo_sftp_assets.formats",
    "qbo_sftp_assets.formats.x12",
    "qbo_sftp_assets.formats.edifact",
    "qbo_sftp_assets.qbo",
    "qbo_sftp_assets.sftp",
    "qbo_sftp_assets.ledger",
    "qbo_sftp_assets.mapping",
]
LAZY_PACKAGES = ["qbo_sftp_assets.formats", "qbo_sftp_assets.qbo", "qbo_sftp_assets.sftp", "qbo_sftp_assets.mapping"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_resolves_from_the_package(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__all__ == sorted(package.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for public in package.__all__:
        value = getattr(package, public)
        # A submodule of the same name would shadow the re-exported object once it is imported.
        assert not isinstance(value, types.ModuleType), f"{name}.{public} is a module"
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith(name), f"{name}.{public} comes from outside the package"
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    assert set(package.__all__) <= set(namespace)


def _listings(name: str) -> tuple[set[str], dict[str, str], dict[str, str]]:
    """`__all__`, the TYPE_CHECKING imports (name -> module) and the lazy exports table (name -> module)."""
    package = importlib.import_module(name)
    tree = ast.parse(Path(package.__file__ or "").read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    table: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                typed.update({alias.name: statement.module for alias in statement.names})
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            exports = node.value.args[2]
            assert isinstance(exports, ast.Dict)
            for key, value in zip(exports.keys, exports.values, strict=True):
                assert isinstance(key, ast.Constant) and isinstance(value, ast.Tuple)
                table.update(
                    {item.value: f"{name}.{key.value}" for item in value.elts if isinstance(item, ast.Constant)}
                )
    return set(package.__all__), typed, table


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_a_lazy_surface_lists_each_name_alike_in_all_three_places(name: str) -> None:
    public, typed, table = _listings(name)
    assert public == set(typed) == set(table)
    assert typed == table, "a name is imported from one module for type checkers and another at run time"


def test_an_unknown_name_is_an_attribute_error() -> None:
    package = importlib.import_module("qbo_sftp_assets.qbo")
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        package.NoSuchThing  # noqa: B018


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(done.stdout.split())


def test_a_light_module_does_not_load_its_whole_package() -> None:
    documents = _loaded_after("import qbo_sftp_assets.formats.documents")
    assert "qbo_sftp_assets.formats.x12" not in documents and "qbo_sftp_assets.formats.edifact" not in documents
    webhooks = _loaded_after("from qbo_sftp_assets.qbo import ChangeEvent")
    assert "httpx" not in webhooks and "qbo_sftp_assets.qbo.oauth" not in webhooks
    names = _loaded_after("from qbo_sftp_assets.sftp import remote_path")
    assert "paramiko" not in names
