"""``ic.Runtime``: start, watch and stop supervised agents from Python.

::

    rt = ic.Runtime(budget=50.0)
    agent_id = rt.start_agent("agent.py")
    rt.status(agent_id)["state"]        # "running"
    rt.get_metrics(agent_id)            # progress, throughput, latency, cost per unit, spent
    rt.stop_agent(agent_id)             # graceful: the call in flight finishes

Each agent runs under its own supervisor process (``iron-cage start --detach``), so it
outlives neither more nor less than a supervisor started from the command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from iron_cage._exceptions import ConfigError
from iron_cage.supervisor import state


class Runtime:
    """Defaults for the agents it starts: ``budget`` (USD per agent, across its restarts),
    ``safety_mode``, ``env``, ``restart``, ``max_restarts``, ``control_panel`` (+ ``ic_token``
    or ``$IRON_CAGE_IC_TOKEN``) and ``config`` (a TOML/YAML file)."""

    def __init__(
        self,
        budget: float | None = None,
        *,
        safety_mode: str | None = None,
        env: str | None = None,
        restart: str | None = None,
        max_restarts: int | None = None,
        control_panel: str | None = None,
        ic_token: str | None = None,
        config: str | os.PathLike[str] | None = None,
    ) -> None:
        self.defaults: dict[str, Any] = {
            "budget": budget,
            "safety_mode": safety_mode,
            "env": env,
            "restart": restart,
            "max_restarts": max_restarts,
            "control_panel": control_panel,
            "config": os.fspath(config) if config is not None else None,
        }
        self._ic_token = ic_token
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def __repr__(self) -> str:
        return f"Runtime(budget={self.defaults['budget']!r}, agents={sorted(self._procs)})"

    def start_agent(
        self,
        script: str | os.PathLike[str],
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        **options: Any,
    ) -> str:
        """Starts ``script`` under a supervisor; returns its agent ID once it runs.
        ``options`` override this runtime's defaults for this agent."""
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise ConfigError(f"unknown start_agent options {sorted(unknown)}: use {sorted(self.defaults)}")
        settings = {**self.defaults, **options, "name": name}
        path = os.fspath(script)
        if not os.path.isfile(path):
            raise ConfigError(f"{path}: no such agent script")
        agent_id = state.new_agent_id(path)
        argv = [sys.executable, "-m", "iron_cage", "start", "--agent-id", agent_id, "--_detached"]
        for key, value in settings.items():
            if value is not None:
                argv += ["--" + key.replace("_", "-"), str(value)]
        argv += ["--", path, *args]
        env = dict(os.environ)
        if self._ic_token:
            env["IRON_CAGE_IC_TOKEN"] = self._ic_token
        d = state.AgentDir(agent_id).create()
        fd = os.open(d.path / "supervisor.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True
            )
        finally:
            os.close(fd)
        self._procs[agent_id] = proc
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if d.exists() and d.read_status().get("state") != "starting":
                return agent_id
            if proc.poll() is not None:
                out = (d.path / "supervisor.out").read_text(errors="replace").strip()
                raise ConfigError(
                    f"{agent_id} did not start: {out.splitlines()[-1] if out else proc.returncode}"
                )
            time.sleep(0.05)
        raise ConfigError(f"{agent_id}: its supervisor did not report within 60 s")

    def status(self, agent_id: str) -> dict[str, Any]:
        """The agent's status: ``state`` (starting, running, stopping, stopped, crashed,
        restarting, budget_exhausted), pid, restarts, spent, budget, metrics, ..."""
        return state.AgentDir(state.check_id(agent_id)).read_status()

    def get_metrics(self, agent_id: str) -> dict[str, Any]:
        """Progress, success rate, throughput, per-unit latency, cost per unit, spent."""
        st = self.status(agent_id)
        metrics: dict[str, Any] = dict(st.get("metrics") or {})
        metrics.update(
            state=st.get("state"),
            restarts=st.get("restarts"),
            spent_usd=st.get("spent_usd"),
            budget_usd=st.get("budget_usd"),
        )
        return metrics

    def stop_agent(self, agent_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Stops the agent gracefully (``timeout``: grace period before SIGKILL, default 10 s)
        and returns its final status."""
        d = state.AgentDir(state.check_id(agent_id))
        st = d.read_status()
        if st.get("state") not in state.FINAL_STATES:
            d.request_stop(timeout)
            sup = st.get("supervisor_pid")
            if isinstance(sup, int):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(sup, signal.SIGTERM)
            proc = self._procs.get(agent_id)
            deadline = time.monotonic() + (timeout if timeout is not None else 10.0) + 15
            while time.monotonic() < deadline:
                if proc is not None and proc.poll() is not None:
                    break
                if proc is None and (not isinstance(sup, int) or not state.pid_alive(sup)):
                    break
                time.sleep(0.05)
        self._procs.pop(agent_id, None)
        return d.read_status()
