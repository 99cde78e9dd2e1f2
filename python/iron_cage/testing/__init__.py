"""Helpers for testing code that uses iron-cage.

- ``FakeProvider``: an OpenAI/Anthropic-compatible server on loopback with exact
  usage, streaming and scripted faults.
- ``MockRuntime``: an ``AgentRuntime`` that answers calls in-process (no sockets)
  while running the real budget, breaker and PII engines, and records the calls.
- ``assert_budget_exceeded``, ``assert_pii_detected``, ``pii_samples``,
  ``provider_response``; pytest fixtures ``fake_provider``, ``governed_runtime``,
  ``mock_runtime`` (plugin ``iron_cage.testing.pytest_plugin``, auto-registered).
- ``ManualClock`` drives breaker cooldowns by hand: ``clock.advance(60)``.
- ``media``: valid PNG images of any size, PDFs of any page count and WAV audio,
  with the content parts each API takes, for tests of multimodal budgets.

Without the compiled Rust core, ``MockRuntime`` is its pure-Python mode (an in-memory
budget, a small PII detector, FakeProvider's replies rendered in Python; see
docs/testing.md), the helpers, ``media`` and the ``mock_runtime`` fixture work, and
``FakeProvider``, ``ManualClock`` and the other fixtures raise an ImportError saying why.
"""

import typing as _typing

from iron_cage import _native
from iron_cage.testing import _media as media
from iron_cage.testing._helpers import (
    assert_budget_exceeded,
    assert_pii_detected,
    pii_samples,
    provider_response,
)

#: True when this is the pure-Python mode (``iron_cage._core`` cannot be imported).
PURE = _native.MISSING is not None

if _typing.TYPE_CHECKING or not PURE:
    from iron_cage._core import ManualClock
    from iron_cage.testing._fake import FakeProvider
    from iron_cage.testing._mock import MockRuntime
else:
    from iron_cage.testing._pure_mock import PureMockRuntime as MockRuntime

    def __getattr__(name: str) -> _typing.Any:
        if name in ("FakeProvider", "ManualClock"):
            raise _native.missing(f"iron_cage.testing.{name}")
        raise AttributeError(f"module 'iron_cage.testing' has no attribute {name!r}")


__all__ = [
    "FakeProvider",
    "ManualClock",
    "MockRuntime",
    "PURE",
    "assert_budget_exceeded",
    "assert_pii_detected",
    "media",
    "pii_samples",
    "provider_response",
]
