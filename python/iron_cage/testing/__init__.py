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
"""

from iron_cage._core import ManualClock
from iron_cage.testing import _media as media
from iron_cage.testing._fake import FakeProvider
from iron_cage.testing._helpers import (
    assert_budget_exceeded,
    assert_pii_detected,
    pii_samples,
    provider_response,
)
from iron_cage.testing._mock import MockRuntime

__all__ = [
    "FakeProvider",
    "ManualClock",
    "MockRuntime",
    "assert_budget_exceeded",
    "assert_pii_detected",
    "media",
    "pii_samples",
    "provider_response",
]
