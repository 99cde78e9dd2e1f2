"""pytest plugin (registered as ``iron_cage``): fixtures for governed agents.

- ``fake_provider``: a running :class:`FakeProvider`.
- ``governed_runtime``: an entered :class:`AgentRuntime` ($10, redact).
- ``mock_runtime``: an entered :class:`MockRuntime` ($10, redact; no sockets).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iron_cage.library import AgentRuntime
from iron_cage.testing._fake import FakeProvider
from iron_cage.testing._mock import MockRuntime


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def governed_runtime() -> Iterator[AgentRuntime]:
    with AgentRuntime(budget=10.0) as rt:
        yield rt


@pytest.fixture
def mock_runtime() -> Iterator[MockRuntime]:
    with MockRuntime(budget=10.0) as rt:
        yield rt
