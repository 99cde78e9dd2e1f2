"""The iron-cage Control Panel: a FastAPI service for users, IC tokens, budget leasing,
usage, provider keys and secrets, on SQLite (default) or PostgreSQL.

``iron-cage control-panel serve`` runs it; ``create_app(Settings(...))`` builds the ASGI app.
Install with ``pip install 'iron-cage[control-panel]'``.

The names below are imported on first use, so that ``iron_cage.control_panel.wire`` (the
API's pydantic models, which ``iron_cage.client`` uses) imports without FastAPI or SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iron_cage.control_panel.app import create_app
    from iron_cage.control_panel.settings import Settings
    from iron_cage.control_panel.state import ControlPanel

__all__ = ["ControlPanel", "Settings", "create_app"]

_WHERE = {"ControlPanel": "state", "Settings": "settings", "create_app": "app"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
