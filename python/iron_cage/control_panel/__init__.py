"""The iron-cage Control Panel: a FastAPI service for users, IC tokens, budget leasing,
usage, provider keys and secrets, on SQLite (default) or PostgreSQL.

``iron-cage control-panel serve`` runs it; ``create_app(Settings(...))`` builds the ASGI app.
Install with ``pip install 'iron-cage[control-panel]'``.
"""

from __future__ import annotations

from iron_cage.control_panel.app import create_app
from iron_cage.control_panel.settings import Settings
from iron_cage.control_panel.state import ControlPanel

__all__ = ["ControlPanel", "Settings", "create_app"]
