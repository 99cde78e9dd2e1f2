"""Argument types and shared options: each bad value is refused with what is allowed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
UTC = timezone.utc


class Port(click.ParamType):  # type: ignore[type-arg]  # not generic in older Click
    name = "PORT"

    def __init__(self, allow_zero: bool = True) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            n = value
        else:
            try:
                n = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a port number: {self._allowed()}", param, ctx)
        lo = 0 if self.allow_zero else 1
        if not lo <= n <= 65535:
            self.fail(f"{n} is not a port: {self._allowed()}", param, ctx)
        return n

    def _allowed(self) -> str:
        return "use 1-65535" + (", or 0 for any free port" if self.allow_zero else "")


class Usd(click.ParamType):  # type: ignore[type-arg]  # not generic in older Click
    """An amount of USD, kept as the text typed (the server and the Rust core convert it once)."""

    name = "USD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().removeprefix("$")
        try:
            d = Decimal(text)
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount of USD: use a number such as 12.50", param, ctx)
        if not d.is_finite() or d < 0:
            self.fail(f"{value!r} is not an amount of USD: use 0 or more, such as 12.50", param, ctx)
        return text


_RELATIVE = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")


class When(click.ParamType):  # type: ignore[type-arg]  # not generic in older Click
    """A point in time: ISO 8601, ``today``, ``yesterday``, ``now`` or an age (``90m``, ``12h``,
    ``7d``, ``2w``); sent to the server as ISO 8601 in UTC."""

    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        now = datetime.now(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if text == "now":
            return now.isoformat()
        if text == "today":
            return midnight.isoformat()
        if text == "yesterday":
            return (midnight - timedelta(days=1)).isoformat()
        m = _RELATIVE.match(text)
        if m:
            n, unit = int(m.group(1)), m.group(2)
            step = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[unit]
            return (now - timedelta(seconds=n * step)).isoformat()
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(
                f"{value!r} is not a time: use ISO 8601 (2025-01-31, 2025-01-31T09:00:00Z), "
                "today, yesterday, or an age such as 12h or 7d",
                param,
                ctx,
            )
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.isoformat()


PORT = Port()
USD = Usd()
WHEN = When()
ID = click.IntRange(min=1)
ENVIRONMENTS = ("development", "staging", "production")


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (the API's field names) instead of a table."
    )(f)


def server_option(f: F) -> F:
    return click.option(
        "--server",
        metavar="URL",
        default=None,
        help="Control Panel URL, e.g. http://127.0.0.1:8700 "
        "(default: $IRON_CAGE_SERVER_URL, else the one you logged in to).",
    )(f)
