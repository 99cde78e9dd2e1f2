"""The public surface: names, the exception tree, typing markers."""

from __future__ import annotations

import importlib.resources
import inspect
import types

import pytest

import iron_cage as ic
from iron_cage import _core


def test_all_is_sorted_and_unique() -> None:
    assert ic.__all__ == sorted(ic.__all__)
    assert len(set(ic.__all__)) == len(ic.__all__)


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(ic).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(ic.__all__)
    for name in ic.__all__:
        assert hasattr(ic, name), name


# Core objects that the Python layer wraps or re-exports elsewhere (iron_cage.testing).
CORE_INTERNALS = {
    "BreakerCore",
    "BreakerPermit",
    "CallCore",
    "FakeProviderCore",
    "FallbackStats",
    "GovernorCore",
    "KeyProxyCore",
    "LeaseClientCore",
    "ManualClock",
    "PiiScannerCore",
    "PiiStream",
    "RetryPolicy",
    "RouterCore",
    "SecretVaultCore",
    "StreamCore",
    "convert_litellm_prices",
    "mask_secret",
    "parse_retry_after",
    "pii_patterns",
    "render_fake_reply",
    "status_is_failure",
}


def test_every_core_export_is_public_or_private_on_purpose() -> None:
    core_public = {n for n in dir(_core) if not n.startswith("_")}
    assert core_public - CORE_INTERNALS <= set(ic.__all__), core_public - CORE_INTERNALS - set(ic.__all__)


@pytest.mark.parametrize(
    "cls",
    [
        ic.BudgetExceededError,
        ic.PiiBlockedError,
        ic.CircuitOpenError,
        ic.ConfigError,
        ic.SecretError,
        ic.ControlPanelError,
        ic.ReservationError,
        ic.FallbackExhaustedError,
    ],
)
def test_exception_tree(cls: type[Exception]) -> None:
    assert issubclass(cls, ic.IronCageError)
    assert cls.__module__ == "iron_cage._exceptions"


def test_builtin_bases_where_they_fit() -> None:
    assert issubclass(ic.ConfigError, ValueError)
    assert issubclass(ic.ReservationError, RuntimeError)


def test_tree_is_documented_in_the_defining_module() -> None:
    module = inspect.getmodule(ic.IronCageError)
    assert module is not None
    doc = module.__doc__ or ""
    for cls in ic.IronCageError.__subclasses__():
        assert cls.__name__ in doc, cls.__name__


def test_package_is_typed() -> None:
    files = importlib.resources.files("iron_cage")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_core.pyi").is_file()


def test_version_is_exposed() -> None:
    assert ic.__version__.count(".") == 2
    assert ic.PRICE_TABLE_VERSION[:2] == "20"
