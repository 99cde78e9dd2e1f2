"""Whether the compiled Rust core (``iron_cage._core``) can be imported, and the error
every name that needs it raises when it cannot (docs/decisions/0009)."""

from __future__ import annotations

import importlib

try:
    importlib.import_module("iron_cage._core")
except ImportError as exc:
    #: Why the core cannot be imported (``None``: it can).
    MISSING: ImportError | None = exc
else:
    MISSING = None


class CoreMissingError(ImportError):
    """A name that needs the compiled Rust core was used in an installation without it."""


def missing(what: str) -> CoreMissingError:
    """The error for ``what`` (``iron_cage.AgentRuntime``) when the core is missing."""
    return CoreMissingError(
        f"{what} needs iron-cage's compiled Rust core (iron_cage._core), which cannot be imported here "
        f"({MISSING}). Nothing is governed without it. Install a wheel built for this platform "
        "(pip install --force-reinstall iron-cage) or build it from a clone (make setup, which runs "
        "maturin develop). Without the core only iron_cage.testing (MockRuntime's pure-Python mode, the "
        "assertion helpers, the data generators, the pytest fixture mock_runtime) and the exception "
        "classes work.",
        name="iron_cage._core",
    )


def version() -> str:
    """The installed distribution's version (what ``_core.__version__`` reports otherwise)."""
    from importlib import metadata

    try:
        return metadata.version("iron-cage")
    except metadata.PackageNotFoundError:
        return "unknown"
