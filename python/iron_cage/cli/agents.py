"""``iron-cage start|ps|status|stop|logs|reload`` and ``iron-cage config check``: supervised agents."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from iron_cage._exceptions import ConfigError
from iron_cage.cli import _output as out
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


def resolve_config(args: Any) -> tuple[config_mod.AgentConfig, str | None]:
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


def _start(args: Any) -> int:
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


def _detach(args: Any, agent_id: str, token: str | None) -> int:
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
    return out.money(x) if isinstance(x, int | float) else "-"


def _ps(args: Any) -> int:
    agents = state.all_agents()
    if not args.all:
        agents = [a for a in agents if a.get("state") not in state.FINAL_STATES]
    if args.json:
        print(json.dumps(agents, indent=2, default=str))
        return 0
    if not agents:
        print("no agents" + ("" if args.all else " running (iron-cage ps --all shows stopped ones)"))
        return 0
    rows = [{**a, "progress": (a.get("metrics") or {}).get("progress", "")} for a in agents]
    out.table(
        rows,
        (
            out.col("agent_id", "ID"),
            out.col("name"),
            out.col("state"),
            out.col("pid", "PID", "int"),
            out.col("restarts", "Restarts", "int"),
            out.col("spent_usd", "Spent"),
            out.col("budget_usd", "Budget"),
            out.col("progress"),
        ),
    )
    return 0


def _status(args: Any) -> int:
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


def _stop(args: Any) -> int:
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


def _reload(args: Any) -> int:
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


def _logs(args: Any) -> int:
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


def _config_check(args: Any) -> int:
    cfg = config_mod.build(file=args.file, environ={})
    print(
        f"{args.file}: OK (budget {_fmt_money(cfg.budget) if cfg.budget else 'none'}, "
        f"safety {cfg.safety_mode}, "
        f"env {cfg.environment}, restart {cfg.restart.policy} up to {cfg.restart.max_restarts}, "
        f"logs {cfg.logging.format}/{cfg.logging.level})"
    )
    return 0


_HIDDEN_ID = "--agent-id"


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "allow_interspersed_args": True,
    }
)
@click.argument("script")
@click.argument("agent_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--budget", type=click.FloatRange(min=0), default=None, help="USD the agent may spend (across restarts)."
)
@click.option("--safety-mode", default=None, help="redact, block or warn (PII in replies).")
@click.option(
    "--config",
    metavar="FILE",
    default=None,
    help="A TOML or YAML config file (see `iron-cage config check`).",
)
@click.option("--env", default=None, help="dev, staging or prod: which secrets the agent gets.")
@click.option("--name", default=None, help="The agent's name (default: the script's).")
@click.option("--control-panel", metavar="URL", default=None, help="The Control Panel's URL.")
@click.option("--ic-token", default=None, help="The agent's IC token (better: $IRON_CAGE_IC_TOKEN).")
@click.option("--restart", default=None, help="no, on-failure (default) or always.")
@click.option(
    "--max-restarts", type=click.IntRange(min=0), default=None, help="Restarts before giving up (5)."
)
@click.option("-v", "--verbose", is_flag=True, help="DEBUG logs.")
@click.option("--log-format", default=None, help="text (default) or json, on the terminal.")
@click.option("--detach", is_flag=True, help="Run in the background; print the agent ID.")
@click.option(_HIDDEN_ID, "agent_id", default=None, hidden=True)
@click.option(DETACHED_FLAG, "_detached", is_flag=True, hidden=True)
def start(script: str, agent_args: tuple[str, ...], **flags: Any) -> int:
    """Run agent SCRIPT as a governed, supervised process.

    Every LLM call is governed, the process is restarted after a crash with its budget
    continuing, and secrets are injected. iron-cage's options may come before or after
    the script; put the agent's own arguments after `--` when they could be mistaken for
    iron-cage's. Exits with the agent's exit code.

    \b
    Examples:
      iron-cage start agent.py --budget 5
      iron-cage start --config agent.toml agent.py -- --its-own-flag
      iron-cage start agent.py --budget 5 --detach
    """
    return _start(SimpleNamespace(script=script, agent_args=list(agent_args), **flags))


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Stopped and crashed agents too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ps(all_: bool, as_json: bool) -> int:
    """List supervised agents.

    \b
    Examples:
      iron-cage ps
      iron-cage ps --all --json
    """
    return _ps(SimpleNamespace(all=all_, json=as_json))


@click.command()
@click.argument("agent_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(agent_id: str, as_json: bool) -> int:
    """One supervised agent's status and metrics.

    \b
    Example:
      iron-cage status lead-gen-1a2b3c4d
    """
    return _status(SimpleNamespace(agent_id=agent_id, json=as_json))


@click.command()
@click.argument("agent_id")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Grace period in seconds, then SIGKILL (10).",
)
def stop(agent_id: str, timeout: float | None) -> int:
    """Stop a supervised agent gracefully (its call in flight finishes).

    \b
    Example:
      iron-cage stop lead-gen-1a2b3c4d --timeout 30
    """
    return _stop(SimpleNamespace(agent_id=agent_id, timeout=timeout))


@click.command()
@click.argument("agent_id")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=None, help="Only the last N lines.")
@click.option("--json", "as_json", is_flag=True, help="The JSON lines as stored.")
def logs(agent_id: str, follow: bool, lines: int | None, as_json: bool) -> int:
    """A supervised agent's logs.

    \b
    Examples:
      iron-cage logs lead-gen-1a2b3c4d -n 50
      iron-cage logs lead-gen-1a2b3c4d -f --json | jq .
    """
    return _logs(SimpleNamespace(agent_id=agent_id, follow=follow, lines=lines, json=as_json))


@click.command()
@click.argument("agent_id")
def reload(agent_id: str) -> int:
    """Reload a supervised agent's secrets into its environment (SIGUSR1).

    \b
    Example:
      iron-cage reload lead-gen-1a2b3c4d
    """
    return _reload(SimpleNamespace(agent_id=agent_id))


@click.group()
def config() -> None:
    """Supervisor configuration files.

    \b
    Example:
      iron-cage config check agent.toml
    """


@config.command("check")
@click.argument("file")
def config_check(file: str) -> int:
    """Validate a TOML or YAML config FILE without running anything.

    \b
    Example:
      iron-cage config check agent.yaml
    """
    return _config_check(SimpleNamespace(file=file))


COMMANDS = (start, ps, status, stop, logs, reload, config)
