"""Commands against a Control Panel: ``login``, ``logout``, ``user``, ``agent``, ``token``,
``budget``, ``usage`` and ``secret --remote`` (all through ``iron_cage.client``)."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from iron_cage._exceptions import ConfigError, ControlPanelError
from iron_cage.cli import _output as out
from iron_cage.cli._errors import CliError, Exit
from iron_cage.cli._params import ENVIRONMENTS, ID, USD, WHEN, json_option, server_option

SESSION_ENV = "IRON_CAGE_SESSION"
DEFAULT_SERVER = "http://127.0.0.1:8700"
T = TypeVar("T")


def session_path() -> Path:
    return Path(os.environ.get(SESSION_ENV) or Path.home() / ".iron-cage" / "session.json")


def _save_session(server: str, access: str | None, refresh: str | None) -> None:
    path = session_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"server": server, "access_token": access, "refresh_token": refresh}, f)


def _load_session() -> dict[str, str]:
    path = session_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CliError(
            f"the login session {path} cannot be read", "run `iron-cage login` again", Exit.AUTH
        ) from None
    return data if isinstance(data, dict) else {}


def check_url(url: str, what: str = "--server", example: str = DEFAULT_SERVER) -> str:
    """``url`` if it is an http(s) URL with a host; else a CliError saying how to write it."""
    from urllib.parse import urlsplit

    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        looks_like_host = "://" not in text and ("." in text or ":" in text or text == "localhost")
        guess = f"http://{text}" if looks_like_host else example
        raise CliError(
            f"{what} {url!r} is not an http:// or https:// URL",
            f"write it with its scheme, e.g. {guess}",
            Exit.USAGE,
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise CliError(
            f"{what} {url!r} has a bad port", f"use a port from 1 to 65535, e.g. {example}"
        ) from None
    return text.rstrip("/")


def _client_class() -> Any:
    try:
        from iron_cage.client import ControlPanelClient
    except ImportError as exc:
        raise ConfigError(f"{exc.name} is missing: pip install 'iron-cage[control-panel]'") from None
    return ControlPanelClient


class Remote:
    """The Control Panel a command talks to: --server, $IRON_CAGE_SERVER_URL or the login
    session's, with the session's tokens (kept up to date when a refresh rotates them)."""

    def __init__(self, server: str | None) -> None:
        saved = _load_session()
        url = server or os.environ.get("IRON_CAGE_SERVER_URL") or saved.get("server")
        if not url:
            raise CliError(
                "which Control Panel? no --server URL, $IRON_CAGE_SERVER_URL or login session",
                "run `iron-cage login --server URL` (e.g. http://127.0.0.1:8700)",
                Exit.USAGE,
            )
        if server:
            self.origin = "--server"
        elif os.environ.get("IRON_CAGE_SERVER_URL"):
            self.origin = "$IRON_CAGE_SERVER_URL"
        else:
            self.origin = f"your login session ({session_path()})"
        self.url = check_url(url, "--server" if server else f"the server URL of {self.origin}")
        token = os.environ.get("IRON_CAGE_ACCESS_TOKEN") or (
            saved.get("access_token") if saved.get("server") == self.url or not server else None
        )
        if not token:
            raise CliError(
                f"not logged in to {self.url}", f"run `iron-cage login --server {self.url}`", Exit.AUTH
            )
        self.saved = saved
        self.token = token

    def run(self, fn: Callable[[Any], T]) -> T:
        client = _client_class()(
            self.url, token=self.token, refresh_token=self.saved.get("refresh_token"), timeout=15.0
        )
        try:
            return fn(client)
        except Exception as exc:
            import httpx

            if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
                why = str(exc).split("] ")[-1] or type(exc).__name__
                raise CliError(
                    f"cannot reach the Control Panel at {self.url} ({why}); the URL is from {self.origin}",
                    "is it running (`iron-cage control-panel serve`)? pass --server URL, or log in to "
                    "the one you mean: `iron-cage login --server URL`",
                    Exit.UNREACHABLE,
                ) from exc
            raise
        finally:
            access, refresh = client.tokens
            if self.saved and access != self.saved.get("access_token"):  # a refresh rotated them
                _save_session(self.saved["server"], access, refresh)
            client.close()


def _cmd(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --server to a command (and passes a Remote as its first argument)."""

    @server_option
    def wrapper(server: str | None, **kwargs: Any) -> Any:
        return fn(Remote(server), **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


# --- login ----------------------------------------------------------------------------------


def _ask_password(prompt: str = "password: ") -> str:
    return getpass.getpass(prompt)


@click.command()
@click.option("--server", metavar="URL", default=None, help=f"Control Panel URL (default: {DEFAULT_SERVER}).")
@click.option("--email", default=None, help="Your email (asked for when missing and at a terminal).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (the default when stdin is not a terminal).",
)
def login(server: str | None, email: str | None, password_stdin: bool) -> int:
    """Log in to a Control Panel; the session is kept in ~/.iron-cage/session.json (0600).

    Asks for what is missing: the email, then the password without echo. With a password
    piped on stdin, pass --email (a piped password is never taken for an email).

    \b
    Examples:
      iron-cage login --server http://127.0.0.1:8700
      iron-cage login --email admin@example.com
      echo "$PASSWORD" | iron-cage login --server https://cp.example.com --email me@example.com
    """
    url = check_url(
        server or os.environ.get("IRON_CAGE_SERVER_URL") or _load_session().get("server") or DEFAULT_SERVER
    )
    interactive = sys.stdin.isatty() and not password_stdin
    if not email:
        if not interactive:
            raise CliError(
                "--email is missing, and standard input is not a terminal to ask for it",
                "pass --email YOU with a piped password, e.g. "
                '`echo "$PASSWORD" | iron-cage login --email you@example.com`',
            )
        email = click.prompt("email").strip()
    password = _ask_password() if interactive else sys.stdin.readline().rstrip("\n")
    if not password:
        raise CliError("empty password", "type it at the prompt, or pipe it on standard input")
    with _client_class()(url, email=email, password=password, timeout=15.0) as client:
        try:
            pair = client.login()
        except ControlPanelError as exc:
            if exc.status == 401:
                raise CliError(
                    str(exc).split(": ", 2)[-1],
                    "a forgotten admin password is reset on the server host: "
                    "`iron-cage control-panel reset-admin`",
                    Exit.AUTH,
                ) from None
            raise
    _save_session(url, pair.access_token, pair.refresh_token)
    print(f"logged in to {url} as {pair.user.email} ({pair.user.role}); session in {session_path()}")
    return 0


@click.command()
def logout() -> int:
    """Forget the saved login session.

    \b
    Example:
      iron-cage logout
    """
    path = session_path()
    path.unlink(missing_ok=True)
    print(f"logged out ({path} removed)")
    return 0


# --- user -----------------------------------------------------------------------------------

ROLES = ("admin", "developer", "viewer", "super_user")
USER_COLUMNS = (
    out.col("id", "ID"),
    out.col("email"),
    out.col("role"),
    out.col("status"),
    out.col("name"),
    out.col("last_login_at", "Last login"),
)


@click.group()
def user() -> None:
    """Users of the Control Panel (admins manage them; everyone changes their own password).

    \b
    Examples:
      iron-cage user list
      iron-cage user add dev@example.com --role developer
      iron-cage user passwd
    """


@user.command("list")
@json_option
@_cmd
def user_list(remote: Remote, as_json: bool) -> int:
    """List users.

    \b
    Example:
      iron-cage user list --json
    """
    out.show(remote.run(lambda c: c.list_users()), USER_COLUMNS, as_json, empty="no users")
    return 0


@user.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the part of the email before @).")
@click.option(
    "--role", type=click.Choice(ROLES), default="developer", show_default=True, help="The user's role."
)
@json_option
@_cmd
def user_add(remote: Remote, email: str, name: str, role: str, as_json: bool) -> int:
    """Create a user; prints their one-time password.

    \b
    Example:
      iron-cage user add ops@example.com --role viewer
    """
    made = remote.run(lambda c: c.create_user(email, name=name, role=role))
    if as_json:
        out.emit_json(made)
        return 0
    out.record(made.user, USER_COLUMNS[:5])
    if made.password:
        print(f"one-time password: {made.password}")
        out.note("give it to them; they change it with `iron-cage user passwd`. It is not shown again.")
    return 0


def _user_action(name: str, method: str, doc: str) -> None:
    @user.command(name)
    @click.argument("user_id", type=ID)
    @json_option
    @_cmd
    def action(remote: Remote, user_id: int, as_json: bool) -> int:
        result = remote.run(lambda c: getattr(c, method)(user_id))
        if result is None:
            print(f"user {user_id}: {name} done")
        elif hasattr(result, "password") and not as_json:
            print(f"new one-time password for user {user_id}: {result.password}")
        else:
            out.show(result, USER_COLUMNS, as_json)
        return 0

    action.help = doc


_user_action(
    "suspend",
    "suspend_user",
    "Suspend user USER_ID: their sessions end at once.\n\n\b\nExample:\n  iron-cage user suspend 3",
)
_user_action(
    "activate",
    "activate_user",
    "Activate user USER_ID again (also clears their failed-login counts).\n\n\b\nExample:\n"
    "  iron-cage user activate 3",
)
_user_action(
    "reset-password",
    "reset_password",
    "Give user USER_ID a new one-time password (admins).\n\n\b\nExample:\n  iron-cage user reset-password 3",
)
_user_action(
    "delete",
    "delete_user",
    "Delete user USER_ID (one who owns agents is suspended instead).\n\n\b\nExample:\n"
    "  iron-cage user delete 3",
)


@user.command("passwd")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the current and the new password from standard input, one per line.",
)
@_cmd
def user_passwd(remote: Remote, password_stdin: bool) -> int:
    """Change your own password (asked for without echo; the new one twice).

    Every session of yours ends, this one too: log in again afterwards.

    \b
    Examples:
      iron-cage user passwd
      printf '%s\\n%s\\n' "$OLD" "$NEW" | iron-cage user passwd --password-stdin
    """
    if sys.stdin.isatty() and not password_stdin:
        current = _ask_password("current password: ")
        new = _ask_password("new password (at least 12 characters): ")
        if _ask_password("new password again: ") != new:
            raise CliError("the two new passwords differ", "run `iron-cage user passwd` again")
    else:
        current = sys.stdin.readline().rstrip("\n")
        new = sys.stdin.readline().rstrip("\n")
        if not current or not new:
            raise CliError("give the current and the new password on standard input, one per line")
    try:
        remote.run(lambda c: c.change_password(current, new))
    except ControlPanelError as exc:
        if exc.status == 400:  # the current one is wrong, or the new one too short
            raise CliError(str(exc).split(": ", 2)[-1], "run `iron-cage user passwd` again") from None
        raise
    _save_session(remote.url, None, None)
    print(f"password changed; every session ended: log in again with `iron-cage login --server {remote.url}`")
    return 0


# --- agent, token ---------------------------------------------------------------------------

AGENT_COLUMNS = (
    out.col("id", "ID"),
    out.col("name"),
    out.col("owner_id", "Owner"),
    out.col("project"),
    out.col("provider"),
    out.col("status"),
    out.col("budget.limit_usd", "Budget"),
    out.col("budget.spent_usd", "Spent"),
    out.col("budget.leased_usd", "Leased"),
)


@click.group()
def agent() -> None:
    """Agents on the Control Panel, their budgets and stop/resume.

    \b
    Examples:
      iron-cage agent list
      iron-cage agent add crawler --budget 20
      iron-cage agent stop 4
    """


@agent.command("list")
@json_option
@_cmd
def agent_list(remote: Remote, as_json: bool) -> int:
    """List agents with their budget, spent and leased USD.

    \b
    Example:
      iron-cage agent list --json
    """
    out.show(remote.run(lambda c: c.list_agents()), AGENT_COLUMNS, as_json, empty="no agents")
    return 0


@agent.command("add")
@click.argument("name")
@click.option("--owner-id", type=ID, default=None, help="The developer who owns it (default: you).")
@click.option("--budget", type=USD, default=None, help="Its allocation in USD (admins).")
@click.option("--project", default="default", show_default=True, help="The project it belongs to.")
@click.option("--provider", default="openai", show_default=True, help="Whose provider key its runtime gets.")
@json_option
@_cmd
def agent_add(
    remote: Remote,
    name: str,
    owner_id: int | None,
    budget: str | None,
    project: str,
    provider: str,
    as_json: bool,
) -> int:
    """Create agent NAME.

    \b
    Example:
      iron-cage agent add crawler --budget 20 --project sales
    """
    made = remote.run(
        lambda c: c.create_agent(
            name, project=project, provider=provider, owner_id=owner_id, budget_usd=budget
        )
    )
    out.show(made, AGENT_COLUMNS, as_json)
    if not as_json:
        out.note(f"next: `iron-cage token create {made.id}` makes the IC token its runtime uses")
    return 0


def _agent_action(name: str, doc: str) -> None:
    @agent.command(name)
    @click.argument("agent_id", type=ID)
    @json_option
    @_cmd
    def action(remote: Remote, agent_id: int, as_json: bool) -> int:
        out.show(remote.run(lambda c: getattr(c, f"{name}_agent")(agent_id)), AGENT_COLUMNS, as_json)
        return 0

    action.help = doc


_agent_action(
    "stop",
    "Stop agent AGENT_ID: no new leases; its runtime stops within seconds.\n\n\b\nExample:\n"
    "  iron-cage agent stop 4",
)
_agent_action("resume", "Resume a stopped agent AGENT_ID.\n\n\b\nExample:\n  iron-cage agent resume 4")

TOKEN_COLUMNS = (
    out.col("id", "ID"),
    out.col("agent_id", "Agent"),
    out.col("name"),
    out.col("environment"),
    out.col("prefix"),
    out.col("revoked", "Revoked", "bool"),
    out.col("last_used_at", "Last used"),
)


@click.group()
def token() -> None:
    """IC tokens: what an agent's runtime authenticates with.

    \b
    Examples:
      iron-cage token create 4 --env staging
      iron-cage token list 4
      iron-cage token revoke 9
    """


@token.command("create")
@click.argument("agent_id", type=ID)
@click.option("--name", default="", help="A label, e.g. the machine it runs on.")
@click.option(
    "--env",
    type=click.Choice(ENVIRONMENTS),
    default="production",
    show_default=True,
    help="The environment whose secrets the token reads.",
)
@json_option
@_cmd
def token_create(remote: Remote, agent_id: int, name: str, env: str, as_json: bool) -> int:
    """Create an IC token for agent AGENT_ID (printed once).

    \b
    Example:
      export IRON_CAGE_TOKEN=$(iron-cage token create 4)
    """
    made = remote.run(lambda c: c.create_token(agent_id, name, environment=env))
    if as_json:
        out.emit_json(made)
        return 0
    print(made.token)
    out.note(f"token {made.info.id} ({made.info.environment}) for agent {agent_id}: shown once, store it now")
    return 0


@token.command("list")
@click.argument("agent_id", type=ID)
@json_option
@_cmd
def token_list(remote: Remote, agent_id: int, as_json: bool) -> int:
    """List agent AGENT_ID's tokens (prefixes only).

    \b
    Example:
      iron-cage token list 4
    """
    out.show(remote.run(lambda c: c.list_tokens(agent_id)), TOKEN_COLUMNS, as_json, empty="no tokens")
    return 0


@token.command("revoke")
@click.argument("token_id", type=ID)
@_cmd
def token_revoke(remote: Remote, token_id: int) -> int:
    """Revoke token TOKEN_ID: refused from now on.

    \b
    Example:
      iron-cage token revoke 9
    """
    remote.run(lambda c: c.revoke_token(token_id))
    print(f"token {token_id} revoked")
    return 0


@token.command("regenerate")
@click.argument("token_id", type=ID)
@json_option
@_cmd
def token_regenerate(remote: Remote, token_id: int, as_json: bool) -> int:
    """Replace token TOKEN_ID with a new one (same agent, name, environment); the old one is refused.

    \b
    Example:
      iron-cage token regenerate 9
    """
    made = remote.run(lambda c: c.regenerate_token(token_id))
    if as_json:
        out.emit_json(made)
    else:
        print(made.token)
        out.note(f"token {made.info.id} replaces {token_id}: shown once, store it now")
    return 0


# --- budget ---------------------------------------------------------------------------------

BUDGET_COLUMNS = (
    out.col("agent_id", "Agent"),
    out.col("limit_usd", "Budget"),
    out.col("spent_usd", "Spent"),
    out.col("leased_usd", "Leased"),
    out.col("available_usd", "Available"),
    out.col("pool_id", "Pool"),
)
POOL_COLUMNS = (
    out.col("id", "Pool"),
    out.col("user_id", "Developer"),
    out.col("team_id", "Team"),
    out.col("limit_usd", "Limit"),
    out.col("allocated_usd", "Allocated"),
    out.col("unallocated_usd", "Unallocated"),
    out.col("spent_usd", "Spent"),
    out.col("leased_usd", "Leased"),
)
REQUEST_COLUMNS = (
    out.col("id", "ID"),
    out.col("agent_id", "Agent"),
    out.col("amount_usd", "Amount"),
    out.col("status"),
    out.col("reason"),
    out.col("created_at", "Asked"),
)


@click.group()
def budget() -> None:
    """Allocations: agents', developers' and teams' pools, and requests for more.

    \b
    Examples:
      iron-cage budget show 4
      iron-cage budget set 4 25
      iron-cage budget request 4 10 --reason "more leads"
      iron-cage budget approve 2
    """


@budget.command("show")
@click.argument("agent_id", type=ID)
@json_option
@_cmd
def budget_show(remote: Remote, agent_id: int, as_json: bool) -> int:
    """Agent AGENT_ID's allocation: budget, spent, leased, available.

    \b
    Example:
      iron-cage budget show 4
    """
    out.show(remote.run(lambda c: c.get_budget(agent_id)), BUDGET_COLUMNS, as_json)
    return 0


@budget.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("agent_id", type=ID)
@click.argument("usd", type=USD)
@json_option
@_cmd
def budget_set(remote: Remote, agent_id: int, usd: str, as_json: bool) -> int:
    """Set agent AGENT_ID's allocation to USD (admins; not below spent + leased).

    \b
    Example:
      iron-cage budget set 4 25
    """
    out.show(remote.run(lambda c: c.set_budget(agent_id, usd)), BUDGET_COLUMNS, as_json)
    return 0


@budget.command("mine")
@json_option
@_cmd
def budget_mine(remote: Remote, as_json: bool) -> int:
    """Your pools and your agents' allocations.

    \b
    Example:
      iron-cage budget mine
    """
    mine = remote.run(lambda c: c.my_budgets())
    if as_json:
        out.emit_json(mine)
        return 0
    print("pools:")
    out.table(mine.pools, POOL_COLUMNS, empty="  none")
    print("agents:")
    out.table(mine.agents, BUDGET_COLUMNS, empty="  none")
    return 0


@budget.command("developer", context_settings={"ignore_unknown_options": True})
@click.argument("user_id", type=ID)
@click.argument("usd", type=USD)
@json_option
@_cmd
def budget_developer(remote: Remote, user_id: int, usd: str, as_json: bool) -> int:
    """Allocate USD to developer USER_ID's pool (admins).

    \b
    Example:
      iron-cage budget developer 3 100
    """
    out.show(remote.run(lambda c: c.set_developer_budget(user_id, usd)), POOL_COLUMNS, as_json)
    return 0


@budget.command("team", context_settings={"ignore_unknown_options": True})
@click.argument("team_id", type=ID)
@click.argument("usd", type=USD)
@json_option
@_cmd
def budget_team(remote: Remote, team_id: int, usd: str, as_json: bool) -> int:
    """Allocate USD to team TEAM_ID's pool (admins).

    \b
    Example:
      iron-cage budget team 1 500
    """
    out.show(remote.run(lambda c: c.set_team_budget(team_id, usd)), POOL_COLUMNS, as_json)
    return 0


@budget.command("allocate", context_settings={"ignore_unknown_options": True})
@click.argument("agent_id", type=ID)
@click.argument("usd", type=USD)
@click.option("--pool", "pool_id", type=ID, required=True, help="The pool to draw from.")
@json_option
@_cmd
def budget_allocate(remote: Remote, agent_id: int, usd: str, pool_id: int, as_json: bool) -> int:
    """Give agent AGENT_ID an allocation of USD from a pool.

    \b
    Example:
      iron-cage budget allocate 4 20 --pool 2
    """
    out.show(remote.run(lambda c: c.allocate(agent_id, usd, pool_id=pool_id)), BUDGET_COLUMNS, as_json)
    return 0


@budget.command("request", context_settings={"ignore_unknown_options": True})
@click.argument("agent_id", type=ID)
@click.argument("usd", type=USD)
@click.option("--reason", default="", help="Why, for the admin who decides.")
@json_option
@_cmd
def budget_request(remote: Remote, agent_id: int, usd: str, reason: str, as_json: bool) -> int:
    """Ask for USD more for agent AGENT_ID.

    \b
    Example:
      iron-cage budget request 4 10 --reason "the March campaign"
    """
    out.show(remote.run(lambda c: c.request_budget(agent_id, usd, reason)), REQUEST_COLUMNS, as_json)
    return 0


@budget.command("requests")
@click.option(
    "--status", type=click.Choice(["pending", "approved", "rejected"]), default=None, help="Only these."
)
@json_option
@_cmd
def budget_requests(remote: Remote, status: str | None, as_json: bool) -> int:
    """List requests for more budget.

    \b
    Example:
      iron-cage budget requests --status pending
    """
    rows = remote.run(lambda c: c.list_budget_requests(status))
    out.show(rows, REQUEST_COLUMNS, as_json, empty="no requests")
    return 0


def _decide(name: str) -> None:
    @budget.command(name)
    @click.argument("request_id", type=ID)
    @json_option
    @_cmd
    def decide(remote: Remote, request_id: int, as_json: bool) -> int:
        result = remote.run(lambda c: getattr(c, f"{name}_budget_request")(request_id))
        out.show(result, REQUEST_COLUMNS, as_json)
        return 0

    decide.help = (
        f"{name.title()} budget request REQUEST_ID (admins"
        f"{'; the allocation rises at once' if name == 'approve' else ''}).\n\n\b\nExample:\n"
        f"  iron-cage budget {name} 2"
    )


_decide("approve")
_decide("reject")


# --- usage ----------------------------------------------------------------------------------


@click.command()
@click.option(
    "--by",
    type=click.Choice(["developer", "agent", "project", "provider", "model"]),
    default=None,
    help="Group by this (default: one total).",
)
@click.option(
    "--since",
    type=WHEN,
    default=None,
    help="From (ISO 8601, today, yesterday, 12h, 7d; default 30 days ago).",
)
@click.option("--until", type=WHEN, default=None, help="Until (same forms; default now).")
@click.option("--agent", "agent_id", type=ID, default=None, help="Only this agent's.")
@json_option
@_cmd
def usage(
    remote: Remote, by: str | None, since: str | None, until: str | None, agent_id: int | None, as_json: bool
) -> int:
    """Spend, calls and tokens, in total or grouped.

    \b
    Examples:
      iron-cage usage
      iron-cage usage --by model --since 7d
      iron-cage usage --agent 4 --since yesterday --json
    """
    totals = (
        out.col("requests", "Calls"),
        out.col("input_tokens", "Input tokens"),
        out.col("output_tokens", "Output tokens"),
        out.col("cost_usd", "Cost"),
        out.col("pii_findings", "PII findings"),
    )
    if by:
        groups = remote.run(lambda c: c.usage_breakdown(by, since=since, until=until, agent_id=agent_id))
        out.show(groups, (out.col("key", by.title()), *totals), as_json, empty="no usage in that period")
    else:
        out.show(
            remote.run(lambda c: c.usage_summary(since=since, until=until, agent_id=agent_id)),
            totals,
            as_json,
        )
    return 0


# --- secret --remote ------------------------------------------------------------------------


def _find_secret(c: Any, name: str, env: str) -> Any:
    found = c.list_secrets(name=name, environment=env)
    if not found:
        raise CliError(
            f"no secret {name} ({env}) on the Control Panel",
            "see `iron-cage secret --remote list`",
            Exit.REFUSED,
        )
    return found[0]


def reveal_remote(remote: Remote, name: str, env: str) -> str:
    try:  # an admin's reveal, audited on the server
        secret = remote.run(lambda c: c.reveal_secret(_find_secret(c, name, env).id))
    except ControlPanelError as exc:
        if exc.status != 403:
            raise
        raise CliError(
            "your role sees this secret masked only", "admins reveal values", Exit.REFUSED
        ) from None
    return str(secret.value)


def delete_remote(remote: Remote, name: str, env: str) -> None:
    remote.run(lambda c: c.delete_secret(_find_secret(c, name, env).id))


COMMANDS = (login, logout, user, agent, token, budget, usage)
