"""Writes docs/cli.md from the CLI's own help: ``python -m iron_cage.cli._docs [docs/cli.md]``.
A test checks that the file in the tree is what this makes, so the page cannot drift from the
commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from iron_cage.cli import cli

WIDTH = 100

INTRO = """# The `iron-cage` command

Generated from the commands' own help by `python -m iron_cage.cli._docs` (a test checks that it
is current); `iron-cage COMMAND --help` prints the same. Every command has examples; every
listing takes `--json` (the API's field names, for scripts). Tables are aligned with human
headers, money is shown to the cent (to the micro-dollar when a value has more, such as the cost
of one call); colours only on a terminal (`NO_COLOR` turns them off); piped output is flushed
line by line and a closed pipe (`iron-cage prices | head`) ends the command quietly.

## Errors and exit codes

Every expected failure is one or two lines on stderr: what was wrong, what is allowed, what to
do. `--debug` (anywhere on the line) or `IRON_CAGE_DEBUG=1` adds the traceback.

| code | meaning |
|---|---|
| 0 | done |
| 1 | the command ran and did not succeed (an agent still stopping, ...) |
| 2 | bad arguments or configuration: fix the command line, file or environment |
| 3 | the Control Panel cannot be reached (the message says where its URL came from) |
| 4 | not logged in, login expired or revoked, wrong password or locked: `iron-cage login` |
| 5 | the Control Panel refused the request (4xx: not allowed, not found, invalid) |
| 6 | the Control Panel failed (5xx) |
| 7 | a local resource is unavailable (port in use, file not readable) |
| 70 | a bug in iron-cage: run again with `--debug` and report the output |
| 130 | interrupted (Ctrl-C) |

`iron-cage start` exits with the agent's own exit code.

## First run and admin recovery

`iron-cage control-panel serve` prints the dashboard's and the API docs' addresses and where
the database and master key are, and creates the first admin with a one-time password.
`iron-cage login` asks for what is missing (the email, then the password without echo); a wrong
password says how many attempts are left before the lock. `iron-cage user passwd` changes your
password (in the dashboard: the Account page, the e-mail in its header). Locked out, or the
password lost: on the server host, where database access is the
authority, `iron-cage control-panel unlock EMAIL` clears the failed logins and
`iron-cage control-panel reset-admin` gives an admin a new password. The lockout is set with
`IRON_CAGE_MAX_FAILED_LOGINS` (5, per account and address), `IRON_CAGE_MAX_FAILED_LOGINS_PER_ADDRESS`
(20), `IRON_CAGE_MAX_FAILED_LOGINS_PER_ACCOUNT` (50) and `IRON_CAGE_LOCKOUT_S` (900), or
`serve --max-failed-logins N --lockout SECONDS`.

## Commands
"""


def _walk(
    command: click.Command, parent: click.Context | None, name: str
) -> Iterator[tuple[str, click.Context]]:
    ctx = click.Context(
        command,
        info_name=name,
        parent=parent,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        help_option_names=["-h", "--help"],
    )
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for sub_name in sorted(command.commands):
            yield from _walk(command.commands[sub_name], ctx, sub_name)


def generate() -> str:
    parts = [INTRO]
    for path, ctx in _walk(cli, None, "iron-cage"):
        if ctx.parent is None:
            parts.append(f"\n```text\n{ctx.get_help().rstrip()}\n```\n")
            continue
        level = "#" * min(2 + path.count(" "), 4)
        parts.append(f"\n{level} `{path}`\n\n```text\n{ctx.get_help().rstrip()}\n```\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).parents[3] / "docs" / "cli.md"
    target.write_text(generate(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
