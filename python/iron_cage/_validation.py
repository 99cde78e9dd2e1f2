"""Pydantic's validation errors in words: what was wrong, what is allowed.

``Input should be greater than or equal to 0`` becomes ``limit_usd must be at least 0 (got
-1)``. The Control Panel words its 422 answers with it, and the CLI the errors it meets
itself. A value is echoed only when it is short and its field is not a credential.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_SECRET_WORDS = ("password", "token", "secret", "key", "value", "authorization")
_DATES = "use ISO 8601, such as 2025-01-31 or 2025-01-31T09:00:00Z"


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "the request"


def _got(where: str, value: Any) -> str:
    if any(w in where.lower() for w in _SECRET_WORDS):
        return ""
    if isinstance(value, bool) or value is None:
        return f" (got {str(value).lower()})"
    if isinstance(value, int | float):
        return f" (got {value})"
    if isinstance(value, str) and len(value) <= 40:
        return f" (got {value!r})"
    return ""


def describe_error(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``exc.errors()``) as a sentence."""
    where = _where(err.get("loc", ()))
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    got = _got(where, err.get("input"))
    if kind == "missing":
        return f"{where} is required"
    if kind == "extra_forbidden":
        return f"{where} is not a field of this request: remove it"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": ("ge", "at least"),
            "greater_than": ("gt", "more than"),
            "less_than_equal": ("le", "at most"),
            "less_than": ("lt", "less than"),
        }[kind]
        bound = ctx.get(words[0])
        return f"{where} must be {words[1]} {bound}{got}"
    if kind in ("string_too_short", "too_short"):
        n = ctx.get("min_length")
        unit = "characters" if kind.startswith("string") else "items"
        return f"{where} is too short: at least {n} {unit}"
    if kind in ("string_too_long", "too_long"):
        n = ctx.get("max_length")
        unit = "characters" if kind.startswith("string") else "items"
        return f"{where} is too long: at most {n} {unit}"
    if kind in ("literal_error", "enum"):
        return f"{where} must be one of {ctx.get('expected', '?')}{got}"
    if kind.startswith(("datetime_", "date_", "time_")):
        return f"{where} is not a date or time{got}: {_DATES}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{where} must be a whole number{got}"
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type", "finite_number"):
        return f"{where} must be a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{where} must be true or false{got}"
    if kind == "string_pattern_mismatch":
        return f"{where} has characters or a form that is not allowed{got}"
    if kind in ("value_error", "assertion_error"):
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"{where}: {msg}"
    msg = str(err.get("msg", "invalid"))
    return f"{where}: {msg[:1].lower()}{msg[1:]}{got}"


def describe_errors(errors: Iterable[Mapping[str, Any]], limit: int = 5) -> list[str]:
    return [describe_error(e) for e in list(errors)[:limit]]
