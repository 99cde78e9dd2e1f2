"""The supervisor: runs one agent script as a governed child process, keeps its status,
forwards stop signals gracefully, restarts it after a crash with its budget continuing, and
reloads its secrets on SIGUSR1.

The supervisor owns the governance configuration (budget, safety mode, breakers, the
Control Panel and its IC token, the secrets); the child's bootstrap
(:mod:`iron_cage.supervisor.bootstrap`) receives it over an inherited pipe, never argv, and
reports back over a second pipe.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from iron_cage._exceptions import ControlPanelError
from iron_cage.supervisor import secrets as secret_source
from iron_cage.supervisor.bootstrap import CTL_FD_ENV, EVENTS_FD_ENV
from iron_cage.supervisor.config import AgentConfig
from iron_cage.supervisor.cpclient import SupervisorClient
from iron_cage.supervisor.logs import AgentLog
from iron_cage.supervisor.metrics import UnitMetrics
from iron_cage.supervisor.state import AgentDir

# Variables the supervisor may hold that its agent never gets.
_PRIVATE_ENV = (
    "IRON_SECRETS_MASTER_KEY",
    "IRON_SECRETS_NEW_MASTER_KEY",
    "IRON_CAGE_IC_TOKEN",
    "IRON_CAGE_TOKEN",
    "IRON_CAGE_ACCESS_TOKEN",
    "IRON_CAGE_ADMIN_PASSWORD",
)
HEARTBEAT_S = 2.0
DEFAULT_LEASE_USD = 10.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def recommended_increase(limit_usd: float) -> float:
    """A quarter of the budget rounded up to 1, 2, 2.5 or 5 times a power of ten (as the
    Control Panel's alerts recommend)."""
    import math

    quarter = max(limit_usd / 4, 0.01)
    scale = 10.0 ** math.floor(math.log10(quarter))
    step = next(m for m in (1, 2, 2.5, 5, 10) if m * scale >= quarter * (1 - 1e-9))
    return round(step * scale, 2)


def _money(x: float) -> str:
    return f"${x:,.2f}" if x >= 0.01 or x == 0 else f"${x:.6f}"


def metrics_body(snap: dict[str, Any]) -> dict[str, Any]:
    """A metrics snapshot as the Control Panel's ``POST /runtime/metrics`` takes it."""
    keys = (
        "unit",
        "done",
        "total",
        "successes",
        "failures",
        "success_rate",
        "throughput_per_hour",
        "elapsed_s",
    )
    body = {k: snap[k] for k in keys}
    body["latency_s"] = snap["latency_s"] or None
    for k in ("cost_per_unit_usd", "spent_usd", "budget_usd"):
        body[k] = None if snap[k] is None else f"{snap[k]:.6f}"
    return body


@dataclass
class Launch:
    """What to run and how."""

    script: str
    args: list[str]
    config: AgentConfig
    agent_id: str
    ic_token: str | None = None
    verbose: bool = False
    detached: bool = False
    python: str = sys.executable


@dataclass
class _Child:
    proc: subprocess.Popen[bytes]
    ctl: int
    events: int
    started: float
    buf: bytearray = field(default_factory=bytearray)
    outputs: dict[int, tuple[str, bytearray]] = field(default_factory=dict)
    spent: float = 0.0
    reserved: float = 0.0
    lease_id: str | None = None
    exit_msg: dict[str, Any] | None = None
    fatal: str | None = None
    stopping_acked: bool = False


class Supervisor:
    def __init__(self, launch: Launch, *, stream: IO[str] | None = None) -> None:
        self.launch = launch
        self.cfg = launch.config
        self.agent_id = launch.agent_id
        self.name = self.cfg.name or Path(launch.script).stem
        self.dir = AgentDir(self.agent_id)
        self.stream = stream if stream is not None else sys.stderr
        self.client = (
            SupervisorClient(self.cfg.control_panel.url, launch.ic_token)
            if self.cfg.control_panel.url and launch.ic_token
            else None
        )
        self.log: AgentLog | None = None
        self.metrics = UnitMetrics()
        self.state = "starting"
        self.reason = ""
        self.restarts = 0
        self.carried = 0.0  # spent by earlier processes of this agent (their worst case if they died)
        self.fired: set[float] = set()
        self.child: _Child | None = None
        self.stop_reason: str | None = None
        self.stop_deadline: float | None = None
        self.forced = False
        self.last_exit: int | None = None
        self.secret_names: list[str] = []
        self.generation = 0
        self._pending_pii: list[str] = []
        self._cp_queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._cp_stop = threading.Event()
        self._cp_error = ""
        self._last_status_write = 0.0
        self._last_metrics_push = 0.0
        self._wake_r, self._wake_w = os.pipe()
        self._signals: list[int] = []
        self._started_at = now_iso()

    # -- public --------------------------------------------------------------------------------
    @property
    def total_spent(self) -> float:
        child = self.child
        return self.carried + (child.spent if child is not None else 0.0)

    def run(self) -> int:
        """Runs the agent until it is stopped or gives up; the exit code mirrors the agent's."""
        secrets = secret_source.load(self.cfg, self.client)  # errors here: nothing has started
        self.secret_names = sorted(secrets)
        self.dir.create()
        self.log = AgentLog(
            self.agent_id,
            self.cfg.logging,
            self.dir.log_file,
            stream=self.stream,
            verbose=self.launch.verbose,
        )
        self.dir.write_pid("supervisor.pid", os.getpid())
        self._install_signals()
        cp_thread = threading.Thread(target=self._cp_worker, name="iron-cage-cp", daemon=True)
        cp_thread.start()
        budget = f"budget {_money(self.cfg.budget)}" if self.cfg.budget is not None else "no budget limit"
        where = f", Control Panel {self.cfg.control_panel.url}" if self.client else ""
        self.log.info(
            "supervisor_started",
            f"supervising {self.launch.script} as {self.agent_id} ({budget}, safety {self.cfg.safety_mode}, "
            f"env {self.cfg.environment}{where}); logs: iron-cage logs {self.agent_id}",
            script=self.launch.script,
            budget_usd=self.cfg.budget,
            secrets=self.secret_names,
        )
        if self.cfg.budget is None and not self.client:
            self.log.warning("no_budget", "no --budget: spending is tracked, not limited")
        try:
            code = self._loop(secrets)
        finally:
            self._write_status(force=True)
            self._push_metrics(force=True)
            self._cp_queue.put(None)
            cp_thread.join(timeout=10)
            self.dir.write_pid("pid", None)
            self.dir.write_pid("supervisor.pid", None)
            self._restore_signals()
            self.log.close()
        return code

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self, secrets: dict[str, str]) -> int:
        assert self.log is not None
        consecutive = 0
        first = True
        while True:
            if self._budget_gone():
                self._finish("budget_exhausted", f"the budget of {_money(self.cfg.budget or 0)} is spent")
                return 3
            self._spawn(secrets)
            if first:
                self._event("agent_started", f"agent started (pid {self._pid()})", pid=self._pid())
                first = False
            else:
                self._event(
                    "agent_restarted",
                    f"agent restarted (pid {self._pid()}, restart {self.restarts} of "
                    f"{self.cfg.restart.max_restarts}) after: {self.reason}; budget continues at "
                    f"{_money(self.total_spent)} spent",
                    pid=self._pid(),
                    restarts=self.restarts,
                    reason=self.reason,
                    spent_usd=round(self.total_spent, 6),
                )
            self._set_state("running")
            rc = self._wait_child()
            child = self.child
            assert child is not None
            ran_s = time.monotonic() - child.started
            self._settle_child(child, rc)
            self.last_exit = rc
            if self.stop_reason is None and child.exit_msg and child.exit_msg.get("stop_requested"):
                self.stop_reason = "stopped from the Control Panel"
            if self.stop_reason is not None:
                self._finish("stopped", f"stopped ({self.stop_reason})", exit_code=rc)
                return self._code(rc)
            if child.fatal is not None:
                self._finish(
                    "crashed",
                    f"the agent could not start: {child.fatal}",
                    exit_code=rc,
                    event="agent_crashed",
                )
                return 2
            if self._budget_gone() or bool(child.exit_msg and child.exit_msg.get("budget_refused")):
                self._finish(
                    "budget_exhausted", "the budget is spent: the agent was refused a call", exit_code=rc
                )
                return self._code(rc)
            policy = self.cfg.restart.policy
            failed = rc != 0
            if failed:
                self._event(
                    "agent_crashed", f"agent crashed: {self._describe(rc)}", exit_code=rc, level="error"
                )
            if policy == "no" or (policy == "on-failure" and not failed):
                self._finish("crashed" if failed else "stopped", self._describe(rc), exit_code=rc)
                return self._code(rc)
            if self.restarts >= self.cfg.restart.max_restarts:
                self._finish(
                    "crashed", f"{self._describe(rc)}; gave up after {self.restarts} restarts", exit_code=rc
                )
                return self._code(rc)
            consecutive = 0 if ran_s > 30 else consecutive + 1
            delay = min(
                self.cfg.restart.backoff_s * 2 ** max(consecutive - 1, 0), self.cfg.restart.max_backoff_s
            )
            self.restarts += 1
            self.reason = self._describe(rc)
            self._set_state("restarting")
            self.log.info("restart_scheduled", f"restarting in {delay:.2f}s", delay_s=delay)
            if not self._sleep(delay):
                self._finish("stopped", f"stopped ({self.stop_reason}) while restarting", exit_code=rc)
                return self._code(rc)
            if secret_source.source_of(self.cfg) != "none":
                with contextlib.suppress(Exception):  # the current values; else the last ones
                    secrets = secret_source.load(self.cfg, self.client)  # the current values
                    self.secret_names = sorted(secrets)

    def _budget_gone(self) -> bool:
        if self.cfg.budget is None or self.client is not None:
            return False
        return self.total_spent >= self.cfg.budget - 1e-6

    def _code(self, rc: int) -> int:
        return 128 - rc if rc < 0 else rc

    def _describe(self, rc: int) -> str:
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            return f"killed by {name}"
        return f"exit code {rc}"

    def _pid(self) -> int | None:
        return self.child.proc.pid if self.child is not None else None

    # -- spawning ------------------------------------------------------------------------------
    def _child_config(self, secrets: dict[str, str]) -> dict[str, Any]:
        cfg = self.cfg
        remote = self.client is not None
        return {
            "name": self.name,
            "agent_id": self.agent_id,
            "safety_mode": cfg.safety_mode,
            "pii": cfg.pii.model_dump(),
            "breaker": cfg.llm_breaker.model_dump(),
            "breakers": {k: v.model_dump() for k, v in cfg.breakers.items() if k != "llm"},
            "thresholds": cfg.thresholds,
            "budget": None if remote else cfg.budget,
            "carried_spent": 0.0 if remote else self.carried,
            "lease_usd": (cfg.budget or DEFAULT_LEASE_USD) if remote else None,
            "control_panel": cfg.control_panel.url if remote else None,
            "ic_token": self.launch.ic_token if remote else None,
            "outbox_path": str(self.dir.outbox),
            "secrets": secrets,
        }

    def _spawn(self, secrets: dict[str, str]) -> None:
        ctl_r, ctl_w = os.pipe()
        ev_r, ev_w = os.pipe()
        env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
        env[CTL_FD_ENV] = str(ctl_r)
        env[EVENTS_FD_ENV] = str(ev_w)
        env["IRON_CAGE_AGENT_ID"] = self.agent_id
        capture = self.launch.detached
        if not capture:  # piped (`iron-cage demo | tee`), the agent's lines still arrive as printed
            env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = [self.launch.python, "-m", "iron_cage.run", self.launch.script, *self.launch.args]
        proc = subprocess.Popen(
            cmd,
            env=env,
            pass_fds=(ctl_r, ev_w),
            stdin=subprocess.DEVNULL if capture else None,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
        os.close(ctl_r)
        os.close(ev_w)
        os.set_blocking(ev_r, False)
        child = _Child(proc=proc, ctl=ctl_w, events=ev_r, started=time.monotonic())
        if capture:
            for stream_name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
                assert pipe is not None
                os.set_blocking(pipe.fileno(), False)
                child.outputs[pipe.fileno()] = (stream_name, bytearray())
        self.child = child
        self.dir.write_pid("pid", proc.pid)
        self.metrics.start_mark()
        self._send_ctl(json.dumps(self._child_config(secrets)) + "\n")

    def _send_ctl(self, line: str) -> None:
        child = self.child
        if child is None:
            return
        data = line.encode()
        with contextlib.suppress(OSError):
            while data:
                n = os.write(child.ctl, data)
                data = data[n:]

    # -- waiting -------------------------------------------------------------------------------
    def _wait_child(self) -> int:
        child = self.child
        assert child is not None
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        sel.register(child.events, selectors.EVENT_READ, "events")
        for fd in child.outputs:
            sel.register(fd, selectors.EVENT_READ, "output")
        next_beat = 0.0
        try:
            while True:
                rc = child.proc.poll()
                if rc is not None:
                    self._drain(child)
                    return rc
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = now + HEARTBEAT_S
                self._check_stop_requests()
                if self.stop_deadline is not None and now >= self.stop_deadline and not self.forced:
                    self._force("the grace period is over")
                for key, _ in sel.select(timeout=0.1):
                    if key.data == "wake":
                        self._read_signals()
                    elif key.data == "events":
                        self._read_events(child)
                    else:
                        self._read_output(child, key.fd)
                self._write_status()
                self._push_metrics()
        finally:
            sel.close()

    def _sleep(self, seconds: float) -> bool:
        """Waits, handling signals; False when a stop was asked for meanwhile."""
        end = time.monotonic() + seconds
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while self.stop_reason is None:
                left = end - time.monotonic()
                if left <= 0:
                    return True
                if sel.select(timeout=min(left, 0.1)):
                    self._read_signals()
                self._check_stop_requests()
        finally:
            sel.close()
        return False

    def _drain(self, child: _Child) -> None:
        self._read_events(child)
        for fd in list(child.outputs):
            self._read_output(child, fd, final=True)

    def _read_events(self, child: _Child) -> None:
        while True:
            try:
                chunk = os.read(child.events, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not chunk:
                break
            child.buf.extend(chunk)
        while True:
            nl = child.buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(child.buf[:nl])
            del child.buf[: nl + 1]
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict):
                self._on_message(child, msg)

    def _read_output(self, child: _Child, fd: int, final: bool = False) -> None:
        assert self.log is not None
        stream_name, buf = child.outputs[fd]
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                final = True
                break
            buf.extend(chunk)
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            text = bytes(buf[:nl]).decode("utf-8", "replace")
            del buf[: nl + 1]
            self.log.info("output", text, stream=stream_name)
        if final and buf:
            self.log.info("output", bytes(buf).decode("utf-8", "replace"), stream=stream_name)
            buf.clear()

    # -- messages from the agent ---------------------------------------------------------------
    def _unit_label(self) -> str:
        unit = self.metrics.unit
        singular = unit[:-1] if unit.endswith("s") and len(unit) > 1 else unit
        return f"{singular} #{self.metrics.done + 1}"

    def _on_message(self, child: _Child, msg: dict[str, Any]) -> None:
        assert self.log is not None
        kind = msg.get("t")
        if kind == "usage":
            child.spent = float(msg.get("spent") or 0.0)
            child.reserved = float(msg.get("reserved") or 0.0)
            if msg.get("call") and self._pending_pii:
                kinds = ", ".join(dict.fromkeys(self._pending_pii))
                self.log.warning(
                    "pii_redacted" if self.cfg.safety_mode == "redact" else "pii_detected",
                    f"PII {'redacted' if self.cfg.safety_mode == 'redact' else 'found'} in a reply at "
                    f"{self._unit_label()} ({kinds}); the agent never saw the values"
                    if self.cfg.safety_mode == "redact"
                    else f"PII found in a reply at {self._unit_label()} ({kinds})",
                    entities=list(dict.fromkeys(self._pending_pii)),
                    unit_index=self.metrics.done + 1,
                )
                self._pending_pii.clear()
            self._check_thresholds()
        elif kind == "hello":
            child.lease_id = msg.get("lease_id")
            self.log.debug(
                "agent_ready", "agent runtime ready", lease_id=child.lease_id, limit_usd=msg.get("limit_usd")
            )
        elif kind == "progress":
            self.metrics.progress(int(msg["done"]), msg.get("total"), str(msg.get("unit") or "items"))
            child.spent = float(msg.get("spent") or child.spent)
            snap = self.metrics.snapshot(self.total_spent, self.cfg.budget)
            done, total = self.metrics.done, self.metrics.total
            every = max(1, (total or 100) // 10)
            level = self.log.info if done % every == 0 or done == total else self.log.debug
            level(
                "progress",
                f"progress {snap['progress']}, {_money(self.total_spent)} spent, {snap['throughput']}",
                **snap,
            )
        elif kind == "outcome":
            self.metrics.outcome(bool(msg.get("success")))
        elif kind == "event":
            self._on_runtime_event(msg.get("event") or {})
        elif kind == "stop_requested":
            self.request_stop(f"stopped from the {msg.get('by') or 'Control Panel'}")
        elif kind == "reload_request":
            self.reload()
        elif kind == "reloaded":
            names = ", ".join(msg.get("names") or []) or "(none)"
            self.log.info(
                "secrets_reloaded",
                f"secrets reloaded in the agent's environment: {names}",
                names=msg.get("names") or [],
                generation=msg.get("generation"),
            )
        elif kind == "stopping":
            child.stopping_acked = True
            self.log.debug(
                "agent_stopping",
                "the agent is finishing its call in flight",
                reserved_usd=msg.get("reserved"),
            )
        elif kind == "exiting":
            child.exit_msg = msg
            child.spent = float(msg.get("spent") or child.spent)
            child.reserved = 0.0
        elif kind == "fatal":
            child.fatal = str(msg.get("error") or "unknown error")

    def _on_runtime_event(self, event: dict[str, Any]) -> None:
        assert self.log is not None
        kind = event.get("type")
        if kind == "pii_detected":
            self._pending_pii.append(str(event.get("entity")))
        elif kind == "breaker_state":
            name = event.get("name") or event.get("breaker") or "llm"
            old, new = event.get("from"), event.get("to") or event.get("state")
            level = self.log.warning if new == "open" else self.log.info
            extra = "; calls to it fall back" if new == "open" else ""
            level(
                "breaker_state",
                f"circuit breaker {name} {old} -> {new} at {self._unit_label()}{extra}",
                breaker=name,
                from_state=old,
                to_state=new,
                unit_index=self.metrics.done + 1,
            )
        elif kind == "llm_refused":
            self.log.warning(
                "llm_refused", f"call refused before sending: {event.get('message')}", code=event.get("code")
            )
        elif kind == "llm_error":
            self.log.info(
                "llm_error",
                f"provider error {event.get('status')}",
                **{k: v for k, v in event.items() if k != "type"},
            )

    def _check_thresholds(self) -> None:
        assert self.log is not None
        budget = self.cfg.budget
        if budget is None:
            return
        spent = self.total_spent
        crossed = [t for t in self.cfg.thresholds if t not in self.fired and spent >= t * budget]
        if not crossed:
            return
        self.fired.update(crossed)
        t = max(crossed)
        inc = recommended_increase(budget)
        self.log.warning(
            "budget_threshold",
            f"budget {t:.0%} crossed at {self._unit_label()}: {_money(spent)} of {_money(budget)} spent; "
            f"recommended action: approve a {_money(inc)} increase",
            threshold=t,
            spent_usd=round(spent, 6),
            budget_usd=budget,
            recommended_increase_usd=inc,
            unit_index=self.metrics.done + 1,
        )

    # -- stopping ------------------------------------------------------------------------------
    def request_stop(self, reason: str, grace_s: float | None = None, signum: int = signal.SIGTERM) -> None:
        assert self.log is not None
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        grace = grace_s if grace_s is not None else self.cfg.restart.grace_s
        self.stop_deadline = time.monotonic() + grace
        self._set_state("stopping")
        self.log.info("agent_stopping", f"stopping ({reason}); grace period {grace:g}s", grace_s=grace)
        child = self.child
        if child is not None and child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signum)

    def _force(self, why: str) -> None:
        assert self.log is not None
        self.forced = True
        child = self.child
        if child is not None and child.proc.poll() is None:
            self.log.warning("agent_killed", f"SIGKILL: {why}")
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()

    def _check_stop_requests(self) -> None:
        if (self.dir.path / "stop.json").exists():
            self.request_stop("iron-cage stop", self.dir.take_stop_request())
        if self._cp_stop.is_set():
            self.request_stop("stopped from the Control Panel")

    # -- signals -------------------------------------------------------------------------------
    def _install_signals(self) -> None:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        for fd in (self._wake_r, self._wake_w):
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._old_handlers = {}
        for sig in (*_STOP_SIGNALS, signal.SIGUSR1, signal.SIGCHLD):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)  # handled in the loop (the wakeup fd woke it)

    def _restore_signals(self) -> None:
        with contextlib.suppress(Exception):
            signal.set_wakeup_fd(self._old_wakeup)
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)

    def _read_signals(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 512):
                pass
        pending, self._signals = self._signals, []
        for signum in pending:
            if signum in _STOP_SIGNALS:
                if self.stop_reason is None:
                    name = signal.Signals(signum).name
                    self.request_stop(f"{name} to the supervisor", signum=signum)
                elif signum == signal.SIGINT and not self.forced:
                    self._force("a second Ctrl-C")
            elif signum == signal.SIGUSR1:
                self.reload()

    # -- secrets -------------------------------------------------------------------------------
    def reload(self) -> None:
        """Reads the secrets again and updates the agent's ``os.environ`` in place."""
        assert self.log is not None
        try:
            values = secret_source.load(self.cfg, self.client)
        except Exception as exc:
            self.log.error("secrets_reload_failed", f"secrets not reloaded: {exc}")
            return
        removed = sorted(set(self.secret_names) - set(values))
        self.secret_names = sorted(values)
        self.generation += 1
        self.log.info(
            "secrets_reload", f"reloading {len(values)} secrets into the agent", names=self.secret_names
        )
        self._send_ctl(
            json.dumps({"t": "secrets", "values": values, "removed": removed, "generation": self.generation})
            + "\n"
        )

    # -- settling a finished process ------------------------------------------------------------
    def _settle_child(self, child: _Child, rc: int) -> None:
        assert self.log is not None
        clean = child.exit_msg is not None
        lost = 0.0 if clean else child.reserved
        if lost > 0:
            self.log.warning(
                "unsettled_call",
                f"the agent died with {_money(lost)} reserved for a call in flight: counted as spent",
                reserved_usd=round(lost, 6),
            )
        if self.client is not None and not clean and child.lease_id:
            lease_id = child.lease_id
            request_id = f"supervisor-{self.agent_id}-{self.restarts}-{child.proc.pid}"

            def settle() -> None:
                assert self.client is not None
                self.client.settle_lease(lease_id, lost, request_id)

            try:
                settle()  # before a restart leases again
            except ControlPanelError as exc:
                self.log.warning("lease_not_settled", f"the dead process's lease was not returned: {exc}")
        self.carried += child.spent + lost
        child.spent = child.reserved = 0.0
        for fd in (child.ctl, child.events):
            with contextlib.suppress(OSError):
                os.close(fd)
        for pipe in (child.proc.stdout, child.proc.stderr):
            if pipe is not None:
                pipe.close()
        self.dir.write_pid("pid", None)
        self._pending_pii.clear()

    def _finish(
        self, state: str, reason: str, exit_code: int | None = None, event: str = "agent_stopped"
    ) -> None:
        """The final state; a crash was reported as ``agent_crashed`` when it happened."""
        self.reason = reason
        self._set_state(state)
        self._event(
            event,
            f"agent {state.replace('_', ' ')}: {reason}; spent {_money(self.total_spent)}",
            exit_code=exit_code,
            final_state=state,
            spent_usd=round(self.total_spent, 6),
            level="info" if state == "stopped" else "warning",
        )

    # -- status, Control Panel -------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self._write_status(force=True)
        self._heartbeat()

    def status(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "script": self.launch.script,
            "args": self.launch.args,
            "state": self.state,
            "reason": self.reason,
            "pid": self._pid() if self.state in ("running", "stopping") else None,
            "supervisor_pid": os.getpid(),
            "started_at": self._started_at,
            "updated_at": now_iso(),
            "restarts": self.restarts,
            "restart_policy": self.cfg.restart.policy,
            "max_restarts": self.cfg.restart.max_restarts,
            "last_exit_code": self.last_exit,
            "budget_usd": self.cfg.budget,
            "spent_usd": round(self.total_spent, 6),
            "reserved_usd": round(self.child.reserved, 6) if self.child is not None else 0.0,
            "safety_mode": self.cfg.safety_mode,
            "environment": self.cfg.environment,
            "control_panel": self.cfg.control_panel.url if self.client else None,
            "secrets": self.secret_names,
            "log_file": str(self.dir.log_file),
            "metrics": self.metrics.snapshot(self.total_spent, self.cfg.budget),
        }

    def _write_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status_write < 0.5:
            return
        self._last_status_write = now
        self.dir.write_status(self.status())

    def _event(self, event: str, message: str, level: str = "info", **fields: Any) -> None:
        assert self.log is not None
        getattr(self.log, level)(event, message, **fields)
        if self.client is not None:
            body = self._process_body(event=event, reason=message)
            self._cp_queue.put(lambda: self._cp_process(body))

    def _process_body(self, event: str | None = None, reason: str | None = None) -> dict[str, Any]:
        return {
            "local_id": self.agent_id,
            "state": self.state,
            "pid": self._pid(),
            "restarts": self.restarts,
            "event": event,
            "reason": (reason or self.reason)[:500],
            "spent_usd": f"{self.total_spent:.6f}",
        }

    def _heartbeat(self) -> None:
        if self.client is None:
            return
        body = self._process_body()
        self._cp_queue.put(lambda: self._cp_process(body))

    def _cp_process(self, body: dict[str, Any]) -> None:
        assert self.client is not None and self.log is not None
        answer = self.client.process(body)
        if answer.get("stop") and self.state in ("running", "starting", "restarting"):
            self._cp_stop.set()
            os.write(self._wake_w, b"\0")

    def _push_metrics(self, force: bool = False) -> None:
        if not self.metrics.changed and not force:
            return
        now = time.monotonic()
        if not force and now - self._last_metrics_push < 1.0:
            return
        self._last_metrics_push = now
        self.metrics.changed = False
        if self.client is not None:
            body = metrics_body(self.metrics.snapshot(self.total_spent, self.cfg.budget))
            self._cp_queue.put(lambda: self.client.metrics(body) if self.client else None)

    def _cp_worker(self) -> None:
        while True:
            job = self._cp_queue.get()
            if job is None:
                return
            try:
                job()
                self._cp_error = ""
            except Exception as exc:
                text = str(exc)
                if text != self._cp_error and self.log is not None:
                    self.log.warning("control_panel_error", f"Control Panel: {text}")
                self._cp_error = text
