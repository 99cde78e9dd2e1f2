"""``python -m iron_cage.run AGENT.py [ARGS...]``: the bootstrap of an agent started by
``iron-cage start`` (see :mod:`iron_cage.supervisor.bootstrap`)."""

from __future__ import annotations

from iron_cage.supervisor.bootstrap import main

if __name__ == "__main__":
    raise SystemExit(main())
