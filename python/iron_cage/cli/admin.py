"""Admin commands against a Control Panel: ``login``, ``user``, ``agent``, ``token``,
``budget``, ``usage`` and ``secret --remote`` (all through ``iron_cage.client``)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from iron_cage._exceptions import ConfigError, ControlPanelError

SESSION_ENV = "IRON_CAGE_SESSION"


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
    data: dict[str, str] = json.loads(path.read_text())
    return data


def _client(args: argparse.Namespace) -> Any:
    try:
        from iron_cage.client import ControlPanelClient
    except ImportError as exc:
        raise ConfigError(f"{exc.name} is missing: pip install 'iron-cage[control-panel]'") from None
    saved = _load_session()
    server = args.server or os.environ.get("IRON_CAGE_SERVER_URL") or saved.get("server")
    if not server:
        raise ConfigError(
            "which Control Panel? pass --server URL, set IRON_CAGE_SERVER_URL, or `iron-cage login`"
        )
    token = os.environ.get("IRON_CAGE_ACCESS_TOKEN") or saved.get("access_token")
    if not token:
        raise ConfigError("not logged in: run `iron-cage login --server URL --email YOU`")
    return ControlPanelClient(server, token=token, refresh_token=saved.get("refresh_token"))


def _run(args: argparse.Namespace, fn: Callable[[Any], Any]) -> Any:
    client = _client(args)
    try:
        return fn(client)
    finally:
        access, refresh = client.tokens
        saved = _load_session()
        if saved and access != saved.get("access_token"):  # a refresh rotated them: keep the new pair
            _save_session(saved["server"], access, refresh)
        client.close()


def _show(args: argparse.Namespace, value: Any, columns: Iterable[str] = ()) -> None:
    def plain(v: Any) -> Any:
        if isinstance(v, BaseModel):
            return v.model_dump(mode="json")
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    data = plain(value)
    if data is None:
        print("done")
        return
    cols = list(columns)
    if args.json or not cols:
        print(json.dumps(data, indent=2))
        return
    rows = data if isinstance(data, list) else [data]
    print("  ".join(f"{c:>{14 if c.endswith('usd') else 0}}" for c in cols).strip())
    for row in rows:
        print("  ".join(str(_dig(row, c)) for c in cols))


def _dig(row: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        row = row.get(part, "") if isinstance(row, dict) else ""
    return row


def _login(args: argparse.Namespace) -> int:
    from iron_cage.client import ControlPanelClient

    server = args.server or os.environ.get("IRON_CAGE_SERVER_URL") or "http://127.0.0.1:8700"
    email = args.email or input("email: ")
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    with ControlPanelClient(server, email=email, password=password) as client:
        pair = client.login()
    _save_session(server, pair.access_token, pair.refresh_token)
    print(f"logged in to {server} as {pair.user.email} ({pair.user.role}); session in {session_path()}")
    return 0


USER_COLS = ("id", "email", "role", "status", "name")
AGENT_COLS = (
    "id",
    "name",
    "owner_id",
    "project",
    "provider",
    "status",
    "budget.limit_usd",
    "budget.spent_usd",
    "budget.leased_usd",
)
REQUEST_COLS = ("id", "agent_id", "amount_usd", "status", "reason")


def _cmd(
    fn: Callable[[Any, argparse.Namespace], Any], cols: Iterable[str] = ()
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        _show(args, _run(args, lambda c: fn(c, args)), cols)
        return 0

    return run


def _by_id(method: str, arg: str, cols: Iterable[str] = ()) -> Callable[[argparse.Namespace], int]:
    """A command calling ``client.<method>(args.<arg>)``."""
    return _cmd(lambda c, a: getattr(c, method)(getattr(a, arg)), cols)


def _secret_value(name: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"value for {name} (input hidden): ")
    return sys.stdin.read().rstrip("\n")


def remote_secret(args: argparse.Namespace) -> int:
    """``iron-cage secret --remote add|list|get|delete|audit``."""

    def find(c: Any) -> Any:
        found = c.list_secrets(name=args.name, environment=args.env)
        if not found:
            raise ConfigError(f"no secret {args.name} ({args.env}) on the Control Panel")
        return found[0]

    action = args.secret_command
    if action == "add":
        value = _secret_value(args.name)
        if not value:
            raise ConfigError("empty value: pipe the secret on standard input or type it at the prompt")
        out = _run(args, lambda c: c.create_secret(args.name, value, environment=args.env))
        print(f"stored {out.name} ({out.environment}) version {out.version} as {out.masked}")
    elif action == "list":
        _show(
            args,
            _run(args, lambda c: c.list_secrets(environment=args.env)),
            ("id", "name", "environment", "version", "masked", "updated_at"),
        )
    elif action == "get":
        try:  # an admin's reveal, audited on the server
            secret = _run(args, lambda c: c.reveal_secret(find(c).id))
        except ControlPanelError as exc:
            if exc.status != 403:
                raise
            raise ConfigError("your role sees this secret masked only (admins reveal values)") from None
        print(secret.value)
    elif action == "delete":
        _run(args, lambda c: c.delete_secret(find(c).id))
        print(f"deleted {args.name} ({args.env})")
    elif action == "audit":
        _show(
            args,
            _run(args, lambda c: c.secret_audit(args.name)),
            (
                "timestamp",
                "requester_role",
                "user_id",
                "agent_id",
                "operation",
                "success",
                "secret_name",
                "environment",
                "error_message",
            ),
        )
    else:
        raise ConfigError(f"`secret {action}` works on the local vault only")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", default=None, help="Control Panel URL (default: the login session's)")
    common.add_argument("--json", action="store_true", help="print JSON")

    login = sub.add_parser(
        "login", parents=[common], help="log in to a Control Panel (password from stdin or a prompt)"
    )
    login.add_argument("--email", default=None)
    login.set_defaults(func=_login)

    user = sub.add_parser("user", help="users of the Control Panel (admin)").add_subparsers(
        dest="c", required=True
    )
    user.add_parser("list", parents=[common]).set_defaults(func=_cmd(lambda c, a: c.list_users(), USER_COLS))
    add = user.add_parser("add", parents=[common], help="create a user; prints a one-time password")
    add.add_argument("email")
    add.add_argument("--name", default="")
    add.add_argument("--role", default="developer", choices=["admin", "developer", "viewer", "super_user"])
    add.set_defaults(func=_cmd(lambda c, a: c.create_user(a.email, name=a.name, role=a.role)))
    for action in ("suspend", "activate", "reset-password", "delete"):
        p = user.add_parser(action, parents=[common])
        p.add_argument("user_id", type=int)
        method = {
            "suspend": "suspend_user",
            "activate": "activate_user",
            "reset-password": "reset_password",
            "delete": "delete_user",
        }[action]
        p.set_defaults(func=_by_id(method, "user_id", USER_COLS if action != "reset-password" else ()))

    agent = sub.add_parser("agent", help="agents and their budgets").add_subparsers(dest="c", required=True)
    agent.add_parser("list", parents=[common]).set_defaults(
        func=_cmd(lambda c, a: c.list_agents(), AGENT_COLS)
    )
    add = agent.add_parser("add", parents=[common])
    add.add_argument("name")
    add.add_argument("--owner-id", type=int, default=None)
    add.add_argument("--budget", default=None, help="USD allocation (admins)")
    add.add_argument("--project", default="default")
    add.add_argument("--provider", default="openai")
    add.set_defaults(
        func=_cmd(
            lambda c, a: c.create_agent(
                a.name, project=a.project, provider=a.provider, owner_id=a.owner_id, budget_usd=a.budget
            ),
            AGENT_COLS,
        )
    )
    for action in ("stop", "resume"):
        p = agent.add_parser(action, parents=[common])
        p.add_argument("agent_id", type=int)
        p.set_defaults(func=_by_id(f"{action}_agent", "agent_id", AGENT_COLS))

    token = sub.add_parser("token", help="IC tokens of agents").add_subparsers(dest="c", required=True)
    create = token.add_parser("create", parents=[common], help="a new IC token (printed once)")
    create.add_argument("agent_id", type=int)
    create.add_argument("--name", default="")
    create.add_argument(
        "--env",
        default="production",
        choices=["development", "staging", "production"],
        help="the environment whose secrets the token reads",
    )
    create.set_defaults(func=_cmd(lambda c, a: c.create_token(a.agent_id, a.name, environment=a.env)))
    lst = token.add_parser("list", parents=[common])
    lst.add_argument("agent_id", type=int)
    lst.set_defaults(
        func=_cmd(
            lambda c, a: c.list_tokens(a.agent_id),
            ("id", "agent_id", "name", "prefix", "revoked", "last_used_at"),
        )
    )
    for action in ("revoke", "regenerate"):
        p = token.add_parser(action, parents=[common])
        p.add_argument("token_id", type=int)
        p.set_defaults(func=_by_id(f"{action}_token", "token_id"))

    budget = sub.add_parser("budget", help="allocations and increase requests").add_subparsers(
        dest="c", required=True
    )
    show = budget.add_parser("show", parents=[common])
    show.add_argument("agent_id", type=int)
    cols = ("agent_id", "limit_usd", "spent_usd", "leased_usd", "available_usd")
    show.set_defaults(func=_cmd(lambda c, a: c.get_budget(a.agent_id), cols))
    st = budget.add_parser("set", parents=[common], help="set an agent's allocation (admin)")
    st.add_argument("agent_id", type=int)
    st.add_argument("usd")
    st.set_defaults(func=_cmd(lambda c, a: c.set_budget(a.agent_id, a.usd), cols))
    pool_cols = ("id", "user_id", "team_id", "limit_usd", "allocated_usd", "unallocated_usd")
    mine = budget.add_parser("mine", parents=[common], help="your pools and your agents' allocations")

    def run_mine(a: argparse.Namespace) -> int:
        out = _run(a, lambda c: c.my_budgets())
        if a.json:
            _show(a, out)
            return 0
        _show(a, out.pools, (*pool_cols, "spent_usd", "leased_usd"))
        _show(a, out.agents, (*cols, "pool_id"))
        return 0

    mine.set_defaults(func=run_mine)
    dev = budget.add_parser("developer", parents=[common], help="allocate to a developer's pool (admin)")
    dev.add_argument("user_id", type=int)
    dev.add_argument("usd")
    dev.set_defaults(func=_cmd(lambda c, a: c.set_developer_budget(a.user_id, a.usd), pool_cols))
    team = budget.add_parser("team", parents=[common], help="allocate to a team's pool (admin)")
    team.add_argument("team_id", type=int)
    team.add_argument("usd")
    team.set_defaults(func=_cmd(lambda c, a: c.set_team_budget(a.team_id, a.usd), pool_cols))
    alloc = budget.add_parser("allocate", parents=[common], help="an agent's allocation from a pool")
    alloc.add_argument("agent_id", type=int)
    alloc.add_argument("usd")
    alloc.add_argument("--pool", type=int, required=True, help="the pool to draw from")
    alloc.set_defaults(
        func=_cmd(lambda c, a: c.allocate(a.agent_id, a.usd, pool_id=a.pool), (*cols, "pool_id"))
    )
    req = budget.add_parser("request", parents=[common], help="ask for more budget for an agent")
    req.add_argument("agent_id", type=int)
    req.add_argument("usd")
    req.add_argument("--reason", default="")
    req.set_defaults(func=_cmd(lambda c, a: c.request_budget(a.agent_id, a.usd, a.reason), REQUEST_COLS))
    reqs = budget.add_parser("requests", parents=[common])
    reqs.add_argument("--status", choices=["pending", "approved", "rejected"])
    reqs.set_defaults(func=_cmd(lambda c, a: c.list_budget_requests(a.status), REQUEST_COLS))
    for action in ("approve", "reject"):
        p = budget.add_parser(action, parents=[common])
        p.add_argument("request_id", type=int)
        p.set_defaults(func=_by_id(f"{action}_budget_request", "request_id", REQUEST_COLS))

    usage = sub.add_parser("usage", parents=[common], help="spend and tokens, in total or grouped")
    usage.add_argument("--by", choices=["developer", "agent", "project", "provider", "model"])
    usage.add_argument("--since", help="ISO 8601 (default: 30 days ago)")
    usage.add_argument("--until", help="ISO 8601 (default: now)")
    usage.add_argument("--agent", type=int, default=None)

    def _usage(c: Any, a: argparse.Namespace) -> Any:
        if a.by:
            return c.usage_breakdown(a.by, since=a.since, until=a.until, agent_id=a.agent)
        return c.usage_summary(since=a.since, until=a.until, agent_id=a.agent)

    def run_usage(a: argparse.Namespace) -> int:
        cols = (
            ("key", "requests", "input_tokens", "output_tokens", "cost_usd")
            if a.by
            else ("requests", "input_tokens", "output_tokens", "cost_usd", "pii_findings")
        )
        _show(a, _run(a, lambda c: _usage(c, a)), cols)
        return 0

    usage.set_defaults(func=run_usage)
