"""The ``iron-cage`` command line (Click; tables through Rich).

Every command returns its exit code; every expected failure goes through one error path
(``_errors.explain``): one or two lines on stderr and an exit code of its kind, a traceback
only with ``--debug`` (or ``IRON_CAGE_DEBUG=1``). Piped, output is flushed line by line and
a closed pipe (``iron-cage prices | head``) ends the command quietly. docs/cli.md is
generated from this help (``python scripts/cli_docs.py``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

import click

import iron_cage as ic
from iron_cage.cli import admin, agents, local
from iron_cage.cli._errors import Exit, explain
from iron_cage.cli.control_panel import control_panel
from iron_cage.cli.prices import prices

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _PipeClosedError(Exception):
    """A closed stdout, kept from Click (which would exit 1 on it)."""


class _Root(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _PipeClosedError from None


@click.group(cls=_Root, context_settings=CONTEXT)
@click.option("--debug", is_flag=True, help="Show the traceback of a failure (also: IRON_CAGE_DEBUG=1).")
@click.version_option(ic.__version__, prog_name="iron-cage", message="%(prog)s %(version)s")
def cli(debug: bool) -> None:
    """Governance runtime for AI agents: budgets, PII, breakers, secrets and a Control Panel.

    \b
    Start here:
      iron-cage demo                              the governed demo agent
      iron-cage start agent.py --budget 5         run your agent governed
      iron-cage control-panel serve --open        the Control Panel and its dashboard
      iron-cage login                             then: agent, token, budget, usage, user

    Exit codes: 0 done, 1 did not succeed, 2 bad arguments or configuration, 3 Control Panel
    unreachable, 4 not logged in / login expired / locked, 5 refused by the Control Panel,
    6 Control Panel error, 7 port in use or file unavailable, 70 bug, 130 interrupted.
    """


for command in (
    local.demo,
    local.version,
    prices,
    local.secret,
    local.fake_provider,
    local.router,
    control_panel,
    *admin.COMMANDS,
    *agents.COMMANDS,
):
    cli.add_command(command)


def _debug_wanted(argv: list[str]) -> tuple[bool, list[str]]:
    """``--debug`` anywhere before ``--`` (people add it at the end), or ``IRON_CAGE_DEBUG``."""
    end = argv.index("--") if "--" in argv else len(argv)
    head, tail = argv[:end], argv[end:]
    debug = "--debug" in head or os.environ.get("IRON_CAGE_DEBUG", "") not in ("", "0")
    return debug, [a for a in head if a != "--debug"] + tail


def _command_path(args: list[str]) -> str:
    """``iron-cage budget set`` for ``budget set 4 25``: whose --help to point at."""
    cmd: click.Command = cli
    path = ["iron-cage"]
    for a in args:
        if a.startswith("-"):
            continue
        if not isinstance(cmd, click.Group) or a not in cmd.commands:
            break
        cmd = cmd.commands[a]
        path.append(a)
    return " ".join(path)


def _quiet_stdout() -> None:
    """After a broken pipe: further writes (and the interpreter's final flush) go nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug, args = _debug_wanted(args)
    with contextlib.suppress(AttributeError, ValueError):  # line by line, piped too
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        code = cli.main(args=args, prog_name="iron-cage", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        print("\niron-cage: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except (BrokenPipeError, _PipeClosedError):
        _quiet_stdout()
        return Exit.OK
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        if isinstance(exc, OSError) and exc.errno == 32:  # EPIPE raised as a plain OSError
            _quiet_stdout()
            return Exit.OK
        if debug:
            raise
        failure = explain(exc, _command_path(args))
        failure.print()
        return failure.code
    if isinstance(code, int):
        return code
    return Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
