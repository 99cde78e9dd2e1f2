"""Writes ``_async_operations.py`` from ``_operations.py``: the same methods, ``async def`` and
``await``-ed. Run ``python python/iron_cage/client/_generate.py`` after adding an operation; a
test checks that the file in the tree is what this makes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "_operations.py"
TARGET = HERE / "_async_operations.py"
MAX_LINE = 110

HEADER = '''"""Generated from ``_operations.py`` by ``python python/iron_cage/client/_generate.py``.
Do not edit: change ``_operations.py`` and run the generator.

Every operation of the Control Panel API as an ``async`` method of ``AsyncOperations``, which
``AsyncControlPanelClient`` runs over an httpx ``AsyncClient``.
"""
'''


def generate(source: str) -> str:
    """The async module for the sync ``source``."""
    body = source[source.index("from __future__") :]
    body = body.replace("class Operations:", "class AsyncOperations:")
    body = re.sub(r"^    def ", "    async def ", body, flags=re.MULTILINE)
    body = body.replace("return self._run(", "return await self._run(")
    out = HEADER + "\n" + body
    long = [n for n, line in enumerate(out.splitlines(), 1) if len(line) > MAX_LINE]
    if long:
        raise SystemExit(
            f"generated lines {long} are longer than {MAX_LINE} characters: split the matching "
            f"signatures in {SOURCE.name} over several lines"
        )
    return out


def main() -> int:
    TARGET.write_text(generate(SOURCE.read_text()))
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
