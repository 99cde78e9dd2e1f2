"""Typed clients of the Control Panel API: ``ControlPanelClient`` and ``AsyncControlPanelClient``."""

from __future__ import annotations

from iron_cage.client._client import AsyncControlPanelClient, ControlPanelClient

__all__ = ["AsyncControlPanelClient", "ControlPanelClient"]
