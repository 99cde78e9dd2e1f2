"""Helpers for testing code that uses iron-cage.

``ManualClock`` drives time-dependent behaviour (circuit breaker cooldowns) by
hand: ``CircuitBreaker(..., clock=clock)`` then ``clock.advance(60)``.
"""

from iron_cage._core import ManualClock

__all__ = ["ManualClock"]
