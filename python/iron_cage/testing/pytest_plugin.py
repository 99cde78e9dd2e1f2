"""pytest plugin (registered as ``iron_cage``): fixtures for governed agents.

- ``fake_provider``: a running :class:`FakeProvider`.
- ``governed_runtime``: an entered :class:`AgentRuntime` ($10, redact).
- ``mock_runtime``: an entered :class:`MockRuntime` ($10, redact; no sockets).

The plugin loads without the compiled Rust core (pytest loads it in every session of an
environment where iron-cage is installed): ``mock_runtime`` is then the pure-Python
MockRuntime, and the two fixtures that need the core raise an ImportError saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from iron_cage.testing import MockRuntime

if TYPE_CHECKING:
    from iron_cage.library import AgentRuntime
    from iron_cage.testing._fake import FakeProvider


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    from iron_cage.testing._fake import FakeProvider

    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def governed_runtime() -> Iterator[AgentRuntime]:
    from iron_cage.library import AgentRuntime

    with AgentRuntime(budget=10.0) as rt:
        yield rt


@pytest.fixture
def mock_runtime() -> Iterator[MockRuntime]:
    with MockRuntime(budget=10.0) as rt:
        yield rt
