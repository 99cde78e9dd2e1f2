"""Helpers for testing code that uses iron-cage.

``FakeProvider`` is an OpenAI/Anthropic-compatible server on loopback with
exact usage, streaming and scripted faults. ``ManualClock`` drives
time-dependent behaviour (circuit breaker cooldowns) by hand:
``CircuitBreaker(..., clock=clock)`` then ``clock.advance(60)``.
"""

from iron_cage._core import ManualClock
from iron_cage.testing._fake import FakeProvider

__all__ = ["FakeProvider", "ManualClock"]
