"""What the CLI prints: aligned tables with human headers, JSON for scripts, money.

Tables go through Rich, which colours only on a terminal (and honours ``NO_COLOR``); piped,
they are plain text as wide as their content, never wrapped at 80 columns. ``--json``
prints the API's own field names, so scripts do not depend on the headers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

Kind = Literal["text", "usd", "int", "bool", "time"]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich exits with 1 here; the CLI's one path ends a closed pipe quietly instead."""
        raise BrokenPipeError


def console() -> Console:
    """A console on the current ``sys.stdout`` (tests and pipes swap it)."""
    tty = sys.stdout.isatty()
    return _Console(
        file=sys.stdout,
        highlight=False,
        soft_wrap=not tty,
        width=None if tty else 100_000,
        no_color=None if tty else True,
    )


def money(value: Any) -> str:
    """USD with cents, and with up to six decimals when a value has them ($0.000125): the
    cost of one call is often less than a cent."""
    if value is None or value == "":
        return "-"
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    sign = "-" if d < 0 else ""
    d = abs(d).quantize(Decimal("0.000001"))
    text = f"{d:,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{sign}${whole}.{frac.ljust(2, '0')}"


@dataclass(frozen=True)
class Column:
    """One column: the field's path in the API's answer (``budget.limit_usd``) and its header."""

    path: str
    header: str
    kind: Kind = "text"

    def cell(self, row: Any) -> str:
        value = dig(row, self.path)
        if self.kind == "usd":
            return money(value)
        if value is None or value == "":
            return "-"
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "time":
            text = str(value)
            try:  # seconds, no microseconds, no +00:00: the list is for people
                return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
            except ValueError:
                return text
        if self.kind == "int" and isinstance(value, int):
            return f"{value:,}"
        return str(value)


def col(path: str, header: str | None = None, kind: Kind | None = None) -> Column:
    """A column, its kind guessed from the field's name when not given."""
    if kind is None:
        if path.endswith("_usd"):
            kind = "usd"
        elif path.endswith(("_at", "timestamp")):
            kind = "time"
        elif path.endswith(("tokens", "requests", "findings")):
            kind = "int"
        else:
            kind = "text"
    return Column(path, header or path.rsplit(".", 1)[-1].replace("_usd", "").replace("_", " ").title(), kind)


def plain(value: Any) -> Any:
    """Pydantic models (and lists of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def dig(row: Any, path: str) -> Any:
    for part in path.split("."):
        row = row.get(part) if isinstance(row, dict) else None
    return row


def emit_json(value: Any) -> None:
    print(json.dumps(plain(value), indent=2, default=str))


def table(rows: Iterable[Any], columns: Sequence[Column], *, empty: str = "none") -> None:
    data = [plain(r) for r in rows]
    if not data:
        print(empty)
        return
    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for c in columns:
        t.add_column(c.header, justify="right" if c.kind in ("usd", "int") else "left", no_wrap=True)
    for row in data:
        t.add_row(*(c.cell(row) for c in columns))
    con = console()
    if con.is_terminal:
        con.print(t)
        return
    with con.capture() as captured:
        con.print(t)
    for line in captured.get().splitlines():
        print(line.rstrip())


def record(value: Any, columns: Sequence[Column]) -> None:
    """One object as ``Header  value`` lines."""
    data = plain(value)
    width = max(len(c.header) for c in columns)
    for c in columns:
        print(f"{c.header:<{width}}  {c.cell(data)}")


def show(value: Any, columns: Sequence[Column], as_json: bool, *, empty: str = "none") -> None:
    """A listing (or one object) as a table, or as JSON with ``--json``."""
    if as_json:
        emit_json(value)
    elif isinstance(value, list | tuple):
        table(value, columns, empty=empty)
    else:
        record(value, columns)


def note(text: str) -> None:
    """A message for the person at the terminal (stderr: stdout stays the command's answer)."""
    print(text, file=sys.stderr, flush=True)
