"""The CLI's one error path: every expected failure becomes one or two lines on stderr and an
exit code of its kind; a traceback only with ``--debug``.

Exit codes (docs/cli.md):

==  ==========================================================================
0   done
1   the command ran and did not succeed (an agent still stopping, ...)
2   bad arguments or configuration: fix the command line, file or environment
3   the Control Panel cannot be reached
4   not logged in, login expired, wrong password or locked: ``iron-cage login``
5   the Control Panel refused the request (4xx: not allowed, not found, invalid)
6   the Control Panel failed (5xx)
7   a local resource is unavailable (port in use, file not readable)
70  a bug in iron-cage (the message says how to report it)
130 interrupted (Ctrl-C)
==  ==========================================================================
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
from enum import IntEnum

import click

from iron_cage._exceptions import ConfigError, ControlPanelError, IronCageError, SecretError
from iron_cage._validation import describe_errors


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    AUTH = 4
    REFUSED = 5
    SERVER_ERROR = 6
    UNAVAILABLE = 7
    BUG = 70
    INTERRUPTED = 130


class CliError(Exception):
    """An expected failure the CLI words itself: the message, what to do, the exit code."""

    def __init__(self, message: str, hint: str = "", code: Exit = Exit.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class Failure:
    message: str
    hint: str
    code: Exit

    def print(self) -> None:
        lines = [f"iron-cage: {self.message}"]
        if self.hint:
            lines.append(f"  {self.hint}")
        print("\n".join(lines), file=sys.stderr, flush=True)


def _http_failure(exc: BaseException, help_hint: str) -> Failure | None:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx comes with the client
        return None
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Failure(
            f"bad server URL: {exc}", "use http://HOST:PORT, e.g. http://127.0.0.1:8700", Exit.USAGE
        )
    if isinstance(exc, httpx.TimeoutException):
        url = exc.request.url if _has_request(exc) else "the Control Panel"
        return Failure(
            f"the Control Panel at {url} did not answer in time",
            "is it overloaded or behind a firewall? try again, or pass --server URL",
            Exit.UNREACHABLE,
        )
    if isinstance(exc, httpx.TransportError):
        where = f"{exc.request.url.scheme}://{exc.request.url.netloc.decode()}" if _has_request(exc) else ""
        why = str(exc).split("] ")[-1] or type(exc).__name__
        return Failure(
            f"cannot reach the Control Panel at {where or 'the server'} ({why})",
            "is it running (`iron-cage control-panel serve`)? pass --server URL, or log in to "
            "another one with `iron-cage login --server URL`",
            Exit.UNREACHABLE,
        )
    return None


def _has_request(exc: BaseException) -> bool:
    try:
        return exc.request is not None  # type: ignore[attr-defined]
    except RuntimeError:
        return False


def _server_failure(exc: ControlPanelError, help_hint: str) -> Failure:
    status = exc.status
    message = str(exc)
    # The client prefixes "METHOD /path: status code:"; people need the server's sentence.
    parts = message.split(": ", 2)
    if len(parts) == 3 and parts[0].split(" ")[0] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        message = parts[2]
    if status is None:
        return Failure(message, help_hint, Exit.USAGE)
    if status == 401:
        return Failure(
            f"not logged in, or the login expired or was revoked ({message})",
            "run `iron-cage login` (the session is kept in ~/.iron-cage/session.json or $IRON_CAGE_SESSION)",
            Exit.AUTH,
        )
    if status == 423:
        return Failure(
            message,
            "wait, or on the server host: `iron-cage control-panel unlock EMAIL`",
            Exit.AUTH,
        )
    if status == 403:
        return Failure(
            f"refused (403): {message}", "ask an admin, or log in as a user whose role may", Exit.REFUSED
        )
    if status >= 500:
        return Failure(
            f"the Control Panel failed ({status}): {message}",
            "see the server's log; try again once it is fixed",
            Exit.SERVER_ERROR,
        )
    return Failure(f"refused ({status} {exc.code}): {message}", help_hint, Exit.REFUSED)


def explain(exc: BaseException, command_path: str = "iron-cage") -> Failure:
    """The words and exit code of any exception a command raised."""
    help_hint = f"see `{command_path} --help`"
    if isinstance(exc, CliError):
        return Failure(exc.message, exc.hint, exc.code)
    if isinstance(exc, click.UsageError):
        path = exc.ctx.command_path if exc.ctx is not None else command_path
        return Failure(exc.format_message(), f"see `{path} --help`", Exit.USAGE)
    if isinstance(exc, click.ClickException):
        return Failure(exc.format_message(), "", Exit.USAGE)
    if isinstance(exc, ControlPanelError):
        return _server_failure(exc, help_hint)
    if isinstance(exc, ConfigError | SecretError):
        return Failure(str(exc), "", Exit.USAGE)
    if isinstance(exc, IronCageError):
        return Failure(str(exc), "", Exit.FAILED)
    http = _http_failure(exc, help_hint)
    if http is not None:
        return http
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - pydantic is a dependency
        ValidationError = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(exc, ValidationError):
        problems = "; ".join(describe_errors(exc.errors()))
        return Failure(f"invalid {exc.title}: {problems}", help_hint, Exit.USAGE)
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE or "Address already in use" in str(exc):
            return Failure(
                str(exc),
                "another process has that port: pick another with --port (0: any free one)",
                Exit.UNAVAILABLE,
            )
        where = f"{exc.filename}: " if exc.filename else ""
        return Failure(f"{where}{exc.strerror or exc}", "", Exit.UNAVAILABLE)
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "", Exit.INTERRUPTED)
    return Failure(
        f"internal error: {type(exc).__name__}: {exc}",
        "run again with --debug for the traceback, and report it with that output",
        Exit.BUG,
    )
