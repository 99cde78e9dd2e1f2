"""``iron-cage start|ps|status|stop|logs|reload`` and ``iron-cage config check``: supervised agents."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from iron_cage._exceptions import ConfigError
from iron_cage.supervisor import config as config_mod
from iron_cage.supervisor import state
from iron_cage.supervisor.logs import human_line, use_colour

DETACHED_FLAG = "--_detached"
_START_FLAGS: dict[str, tuple[str, ...]] = {
    "budget": ("budget",),
    "safety_mode": ("safety_mode",),
    "env": ("environment",),
    "name": ("name",),
    "control_panel": ("control_panel", "url"),
    "restart": ("restart", "policy"),
    "max_restarts": ("restart", "max_restarts"),
    "log_format": ("logging", "format"),
}


def resolve_config(args: argparse.Namespace) -> tuple[config_mod.AgentConfig, str | None]:
    """The configuration (flags > IRON_CAGE_* > --config file > defaults) and the IC token."""
    flags: dict[tuple[str, ...], object] = {path: getattr(args, key) for key, path in _START_FLAGS.items()}
    if getattr(args, "ic_token", None):
        flags[("control_panel", "ic_token")] = args.ic_token
    file = args.config or os.environ.get("IRON_CAGE_CONFIG") or None
    cfg = config_mod.build(file=file, flags=flags)
    token = cfg.control_panel.ic_token.get_secret_value() if cfg.control_panel.ic_token else None
    if cfg.control_panel.url and not token:
        raise ConfigError(
            "--control-panel needs the agent's IC token: set IRON_CAGE_IC_TOKEN (or pass --ic-token)"
        )
    if token and not cfg.control_panel.url:
        raise ConfigError("an IC token was given without --control-panel URL (or IRON_CAGE_CONTROL_PANEL)")
    return cfg, token


def _script(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such agent script")
    return str(p)


def _start(args: argparse.Namespace) -> int:
    from iron_cage.supervisor.core import Launch, Supervisor

    script = _script(args.script)
    cfg, token = resolve_config(args)
    agent_id = state.check_id(args.agent_id) if args.agent_id else state.new_agent_id(script)
    if args.detach:
        return _detach(args, agent_id, token)
    launch = Launch(
        script=script,
        args=list(args.agent_args),
        config=cfg,
        agent_id=agent_id,
        ic_token=token,
        verbose=args.verbose,
        detached=args._detached,
    )
    return Supervisor(launch).run()


def _detach(args: argparse.Namespace, agent_id: str, token: str | None) -> int:
    """Starts the supervisor in its own session, its output in the agent's directory, and
    returns once the agent runs (or failed to)."""
    argv = [sys.executable, "-m", "iron_cage", "start", "--agent-id", agent_id, DETACHED_FLAG]
    for key in _START_FLAGS:
        value = getattr(args, key)
        if value is not None:
            argv += ["--" + key.replace("_", "-"), str(value)]
    if args.config:
        argv += ["--config", args.config]
    if args.verbose:
        argv.append("--verbose")
    argv += ["--", args.script, *args.agent_args]
    env = dict(os.environ)
    if token:
        env["IRON_CAGE_IC_TOKEN"] = token  # never in argv
    d = state.AgentDir(agent_id).create()
    fd = os.open(d.path / "supervisor.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True
        )
    finally:
        os.close(fd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if d.exists():
            st = d.read_status()
            if st.get("state") != "starting":
                print(agent_id)
                print(
                    f"{agent_id} {st.get('state')} (supervisor pid {proc.pid}); "
                    f"iron-cage logs {agent_id} -f / iron-cage stop {agent_id}",
                    file=sys.stderr,
                )
                return 0 if st.get("state") in ("running", "restarting") else 1
        if proc.poll() is not None:
            out = (d.path / "supervisor.out").read_text(errors="replace").strip()
            print(out, file=sys.stderr)
            return proc.returncode or 1
        time.sleep(0.05)
    print(f"{agent_id}: the supervisor did not report within 60 s", file=sys.stderr)
    return 1


def _fmt_money(x: object) -> str:
    return f"${x:,.2f}" if isinstance(x, int | float) else "-"


def _ps(args: argparse.Namespace) -> int:
    agents = state.all_agents()
    if not args.all:
        agents = [a for a in agents if a.get("state") not in state.FINAL_STATES]
    if args.json:
        print(json.dumps(agents, indent=2, default=str))
        return 0
    if not agents:
        print("no agents" + ("" if args.all else " running (iron-cage ps --all shows stopped ones)"))
        return 0
    head = f"{'ID':13} {'NAME':20} {'STATE':16} {'PID':>7} {'RESTARTS':>8} {'SPENT':>10} {'BUDGET':>10}"
    print(head + "  PROGRESS")
    for a in agents:
        m = a.get("metrics") or {}
        print(
            f"{a.get('agent_id', '?'):13} {str(a.get('name', ''))[:20]:20} {a.get('state', '?'):16} "
            f"{a.get('pid') or '-':>7} {a.get('restarts', 0):>8} {_fmt_money(a.get('spent_usd')):>10} "
            f"{_fmt_money(a.get('budget_usd')):>10}  {m.get('progress', '') if m.get('done') else ''}"
        )
    return 0


def _status(args: argparse.Namespace) -> int:
    st = state.AgentDir(state.check_id(args.agent_id)).read_status()
    if args.json:
        print(json.dumps(st, indent=2, default=str))
        return 0
    m = st.get("metrics") or {}
    lines = [
        f"{st['agent_id']}  {st.get('name')}  {st.get('state')}"
        + (f" ({st['reason']})" if st.get("reason") else ""),
        f"  script     {st.get('script')} {' '.join(st.get('args') or [])}",
        f"  pid        {st.get('pid') or '-'} (supervisor {st.get('supervisor_pid')})",
        f"  restarts   {st.get('restarts')} of {st.get('max_restarts')} ({st.get('restart_policy')})",
        f"  spent      {_fmt_money(st.get('spent_usd'))} of {_fmt_money(st.get('budget_usd'))}",
        f"  progress   {m.get('progress', '-')}, {m.get('throughput', '-')}, success rate "
        f"{m.get('success_rate') if m.get('success_rate') is not None else '-'}",
        f"  safety     {st.get('safety_mode')}, env {st.get('environment')}, "
        f"secrets {', '.join(st.get('secrets') or []) or '-'}",
        f"  logs       {st.get('log_file')}",
    ]
    if st.get("control_panel"):
        lines.append(f"  control    {st['control_panel']}")
    print("\n".join(lines))
    return 0


def _wait_gone(st: dict[str, Any], d: state.AgentDir, timeout_s: float) -> bool:
    sup = st.get("supervisor_pid")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not isinstance(sup, int) or not state.pid_alive(sup):
            return True
        time.sleep(0.05)
    return False


def _stop(args: argparse.Namespace) -> int:
    d = state.AgentDir(state.check_id(args.agent_id))
    st = d.read_status()
    if st.get("state") in state.FINAL_STATES:
        print(f"{args.agent_id} is already {st.get('state')}")
        return 0
    sup = st.get("supervisor_pid")
    d.request_stop(args.timeout)
    if isinstance(sup, int):
        with contextlib.suppress(ProcessLookupError):
            os.kill(sup, signal.SIGTERM)
    grace = args.timeout if args.timeout is not None else 10.0
    if not _wait_gone(st, d, grace + 15):
        print(f"{args.agent_id} is still stopping; see iron-cage status {args.agent_id}", file=sys.stderr)
        return 1
    final = d.read_status()
    print(f"{args.agent_id} {final.get('state')}: {final.get('reason', '')}")
    return 0


def _reload(args: argparse.Namespace) -> int:
    st = state.AgentDir(state.check_id(args.agent_id)).read_status()
    sup = st.get("supervisor_pid")
    if st.get("state") in state.FINAL_STATES or not isinstance(sup, int):
        raise ConfigError(f"{args.agent_id} is {st.get('state')}: nothing to reload")
    os.kill(sup, signal.SIGUSR1)
    print(f"{args.agent_id}: secrets reload requested (iron-cage logs {args.agent_id} shows the result)")
    return 0


def _print_line(line: str, raw: bool, colour: bool) -> None:
    line = line.rstrip("\n")
    if not line:
        return
    if raw:
        print(line, flush=True)
        return
    try:
        data = json.loads(line)
    except ValueError:
        print(line, flush=True)
        return
    print(human_line(data, colour=colour), flush=True)


def _logs(args: argparse.Namespace) -> int:
    d = state.AgentDir(state.check_id(args.agent_id))
    if not d.path.exists():
        raise ConfigError(f"no agent {args.agent_id}: see `iron-cage ps`")
    colour = use_colour(sys.stdout)
    path = d.log_file
    rotated = sorted(p for p in d.log_dir.glob("agent.log.*"))
    lines: list[str] = []
    for p in [*rotated, path]:
        if p.exists():
            lines += p.read_text(encoding="utf-8", errors="replace").splitlines()
    if args.lines is not None:
        lines = lines[-args.lines :] if args.lines > 0 else []
    for line in lines:
        _print_line(line, args.json, colour)
    if not args.follow:
        return 0
    f = path.open(encoding="utf-8", errors="replace") if path.exists() else None
    if f is not None:
        f.seek(0, os.SEEK_END)
    inode = os.stat(path).st_ino if path.exists() else None
    try:
        while True:
            line = f.readline() if f is not None else ""
            if line:
                _print_line(line, args.json, colour)
                continue
            time.sleep(0.1)
            if path.exists() and os.stat(path).st_ino != inode:  # rotated: read the new file
                if f is not None:
                    for rest in f:
                        _print_line(rest, args.json, colour)
                    f.close()
                f = path.open(encoding="utf-8", errors="replace")
                inode = os.stat(path).st_ino
    except KeyboardInterrupt:
        return 0
    finally:
        if f is not None:
            f.close()


def _config_check(args: argparse.Namespace) -> int:
    cfg = config_mod.build(file=args.file, environ={})
    print(
        f"{args.file}: OK (budget {_fmt_money(cfg.budget) if cfg.budget else 'none'}, "
        f"safety {cfg.safety_mode}, "
        f"env {cfg.environment}, restart {cfg.restart.policy} up to {cfg.restart.max_restarts}, "
        f"logs {cfg.logging.format}/{cfg.logging.level})"
    )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = sub.add_parser(
        "start",
        help="run an agent script as a governed, supervised process",
        description="Runs AGENT.py under a supervisor: every LLM call is governed, the process is "
        "restarted after a crash with its budget continuing, and secrets are injected. "
        "iron-cage's flags may come before or after the script; put the agent's own arguments "
        "after `--` when they could be mistaken for iron-cage's.",
        allow_abbrev=False,
    )
    start.add_argument("script", help="the agent's Python script")
    start.add_argument("--budget", type=float, default=None, help="USD the agent may spend (across restarts)")
    start.add_argument("--safety-mode", default=None, help="redact, block or warn (PII in replies)")
    start.add_argument(
        "--config", default=None, help="a TOML or YAML config file (iron-cage config check FILE)"
    )
    start.add_argument("--env", default=None, help="dev, staging or prod: which secrets the agent gets")
    start.add_argument("--name", default=None, help="the agent's name (default: the script's)")
    start.add_argument("--control-panel", default=None, help="the Control Panel's URL")
    start.add_argument("--ic-token", default=None, help="the agent's IC token (better: $IRON_CAGE_IC_TOKEN)")
    start.add_argument("--restart", default=None, help="no, on-failure (default) or always")
    start.add_argument("--max-restarts", type=int, default=None, help="restarts before giving up (5)")
    start.add_argument("-v", "--verbose", action="store_true", help="DEBUG logs")
    start.add_argument("--log-format", default=None, help="text (default) or json, on the terminal")
    start.add_argument("--detach", action="store_true", help="run in the background; print the agent ID")
    start.add_argument("--agent-id", default=None, help=argparse.SUPPRESS)
    start.add_argument(DETACHED_FLAG, dest="_detached", action="store_true", help=argparse.SUPPRESS)
    start.set_defaults(func=_start, agent_args=[])

    ps = sub.add_parser("ps", help="list supervised agents")
    ps.add_argument("-a", "--all", action="store_true", help="stopped and crashed agents too")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=_ps)
    status = sub.add_parser("status", help="one agent's status and metrics")
    status.add_argument("agent_id")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)
    stop = sub.add_parser("stop", help="stop an agent gracefully (its call in flight finishes)")
    stop.add_argument("agent_id")
    stop.add_argument(
        "--timeout", type=float, default=None, help="grace period in seconds, then SIGKILL (10)"
    )
    stop.set_defaults(func=_stop)
    logs = sub.add_parser("logs", help="an agent's logs")
    logs.add_argument("agent_id")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=None, help="only the last N lines")
    logs.add_argument("--json", action="store_true", help="the JSON lines as stored")
    logs.set_defaults(func=_logs)
    reload = sub.add_parser("reload", help="reload an agent's secrets into its environment (SIGUSR1)")
    reload.add_argument("agent_id")
    reload.set_defaults(func=_reload)
    config = sub.add_parser("config", help="supervisor configuration files")
    csub = config.add_subparsers(dest="config_command", required=True)
    check = csub.add_parser("check", help="validate a TOML or YAML config file without running anything")
    check.add_argument("file")
    check.set_defaults(func=_config_check)


def split_start_args(args: argparse.Namespace, extra: list[str]) -> None:
    """The tokens argparse did not take for ``start`` are the agent's arguments, in order
    (``--`` is dropped once)."""
    if "--" in extra:
        i = extra.index("--")
        extra = extra[:i] + extra[i + 1 :]
    args.agent_args = extra
