"""Package surfaces: each layer package re-exports its public names from `__init__` (docs/architecture.md,
"Package surfaces"), and loads the module behind a name only when the name is first used.

A package's `__init__` runs whenever any of its modules is imported, so eager re-exports would make
the lightest module (`formats.documents`, `qbo.webhooks`) cost the whole package (X12, EDIFACT,
httpx, OAuth). The package lists each name three times, and `test_package_surfaces` checks they agree:
in `__all__`, in an `if TYPE_CHECKING:` import (what type checkers and readers follow), and in the
`exports` table given to `lazy_exports` (what Python follows).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, tuple[str, ...]]
) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: a name of `exports` (module, relative to the package ->
    its public names) is imported from its module on first use and kept in `namespace`."""
    origins = {name: f"{package}.{module}" for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = origins.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
