"""The first code a supervised agent process runs (``python -m iron_cage.run AGENT.py ARGS``).

It reads its settings (budget, safety mode, Control Panel, secrets) from a pipe the
supervisor passed down (never argv), puts the secrets into ``os.environ``, enters an
``AgentRuntime`` with auto-instrumentation, and runs the agent's script as ``__main__`` with
the agent's own ``sys.argv``. Every openai/anthropic call from then on (LangChain, CrewAI and
the Agents SDK included) is priced, reserved, PII-scanned and breaker-guarded.

While it runs, a second pipe carries events to the supervisor: the runtime's events, spend
and reservations, ``ic.progress``/``ic.outcome``, and replies to secret reloads. SIGTERM and
SIGINT stop the agent gracefully: no new LLM call is admitted, the one in flight finishes and
is charged, then ``SystemExit``/``KeyboardInterrupt`` is raised in the agent's main thread,
the runtime returns its lease and flushes its outbox, and the process exits by the signal.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import signal
import sys
import threading
import time
import traceback
from types import FrameType
from typing import IO, Any

CTL_FD_ENV = "IRON_CAGE_SUPERVISOR_CTL_FD"
EVENTS_FD_ENV = "IRON_CAGE_SUPERVISOR_EVENTS_FD"
UNLIMITED_USD = 1_000_000_000.0
_FORWARDED = ("pii_detected", "breaker_state", "llm_refused", "llm_error")


class Channel:
    """JSON lines to the supervisor; a gone supervisor is not the agent's problem."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.broken = False

    def send(self, msg: dict[str, Any]) -> None:
        data = (json.dumps(msg, default=str, separators=(",", ":")) + "\n").encode()
        with self.lock:
            if self.broken:
                return
            try:
                while data:
                    n = os.write(self.fd, data)
                    data = data[n:]
            except OSError:
                self.broken = True


class _Stopper:
    """Graceful stop on SIGTERM/SIGINT: freeze the budget, wait for nothing to be reserved,
    then raise in the main thread (re-signalled until the agent has left)."""

    def __init__(self, runtime: Any, channel: Channel) -> None:
        self.runtime = runtime
        self.channel = channel
        self.signum: int | None = None
        self.raised = False
        self.done = threading.Event()
        self.main_ident = threading.main_thread().ident

    def reserved(self) -> float:
        budget = self.runtime.budget
        return float(budget.reserved_usd) if budget is not None else 0.0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.channel.send({"t": "stopping", "signal": signum, "reserved": self.reserved()})
            budget = self.runtime.budget
            if budget is not None:
                with contextlib.suppress(Exception):
                    budget.set_limit(budget.spent_usd + budget.reserved_usd)  # admit nothing new
            threading.Thread(target=self._watch, name="iron-cage-stop", daemon=True).start()
        if self.raised or self.reserved() > 0:
            return  # a call is in flight: it finishes first
        self.raised = True
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + (self.signum or signal.SIGTERM))

    def _watch(self) -> None:
        # Until the agent has left its code, poke the main thread whenever nothing is reserved
        # (an exception raised inside a callback can be swallowed: poke again).
        while not self.done.wait(0.02):
            if not self.raised and self.reserved() <= 0 and self.main_ident is not None:
                with contextlib.suppress(Exception):
                    signal.pthread_kill(self.main_ident, self.signum or signal.SIGTERM)
                self.done.wait(0.1)
            elif self.raised:
                return


def _read_config(ctl: IO[bytes]) -> dict[str, Any]:
    line = ctl.readline()
    if not line:
        raise SystemExit("iron-cage: the supervisor closed the settings pipe before sending settings")
    config: dict[str, Any] = json.loads(line)
    return config


def _runtime(cfg: dict[str, Any]) -> Any:
    import iron_cage as ic

    mode = cfg["safety_mode"]
    pii = cfg.get("pii") or {}
    scanner = None
    if mode != "off" and (pii.get("entities") or pii.get("allow_domains") or pii.get("allow_values")):
        scanner = ic.PiiScanner(
            mode=mode,
            entities=pii.get("entities"),
            allow_domains=pii.get("allow_domains") or (),
            allow_values=pii.get("allow_values") or (),
        )
    common: dict[str, Any] = {
        "safety_mode": None if scanner is not None else mode,
        "pii": scanner,
        "egress": pii.get("egress", "default"),
        "ingress": pii.get("ingress"),
        "failure_threshold": int(cfg["breaker"]["failure_threshold"]),
        "cooldown_s": float(cfg["breaker"]["cooldown_s"]),
        "name": cfg["name"],
    }
    if cfg.get("control_panel"):
        return ic.AgentRuntime(
            budget=cfg["lease_usd"],
            control_panel=cfg["control_panel"],
            ic_token=cfg["ic_token"],
            outbox_path=cfg["outbox_path"],
            **common,
        )
    # Without a budget the ledger still tracks what is reserved (a graceful stop waits for it),
    # under a ceiling no agent reaches.
    limit = cfg["budget"] if cfg.get("budget") is not None else UNLIMITED_USD
    budget = ic.Budget(limit, thresholds=cfg.get("thresholds") or [0.9], name=cfg["name"])
    carried = float(cfg.get("carried_spent") or 0.0)
    if carried > 0:  # what earlier runs of this agent spent stays spent
        budget.reserve(min(carried, budget.limit_usd)).commit(min(carried, budget.limit_usd))
    return ic.AgentRuntime(budget=budget, **common)


def _exit_by(code: int | None, signum: int | None) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    if signum is not None:  # die by the signal, as an unsupervised python would
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        time.sleep(1)
    return code or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(
            "usage: python -m iron_cage.run AGENT.py [ARGS...] (started by `iron-cage start`)",
            file=sys.stderr,
        )
        return 2
    try:
        ctl_fd, events_fd = int(os.environ.pop(CTL_FD_ENV)), int(os.environ.pop(EVENTS_FD_ENV))
    except (KeyError, ValueError):
        print(
            "iron-cage: this module is started by `iron-cage start AGENT.py`, not directly", file=sys.stderr
        )
        return 2
    for fd in (ctl_fd, events_fd):
        os.set_inheritable(fd, False)  # the agent's own subprocesses get neither pipe
    ctl = os.fdopen(ctl_fd, "rb")
    channel = Channel(events_fd)
    cfg = _read_config(ctl)
    os.environ.update(cfg.pop("secrets", {}) or {})
    carried = float(cfg.get("carried_spent") or 0.0)

    import iron_cage as ic
    from iron_cage.supervisor import agent_api

    try:
        runtime = _runtime(cfg)
    except ic.IronCageError as exc:
        channel.send({"t": "fatal", "error": str(exc), "kind": type(exc).__name__})
        print(f"iron-cage: {exc}", file=sys.stderr)
        return 2
    cfg.pop("ic_token", None)
    local = cfg.get("control_panel") is None

    def run_spent() -> float:
        spent = float(runtime.spent_usd)
        return spent - carried if local else spent

    state = {"budget_refused": False}

    def on_event(event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "llm_call":
            channel.send({"t": "usage", "spent": run_spent(), "reserved": stopper.reserved(), "call": True})
        elif kind in _FORWARDED:
            if kind == "llm_refused" and event.get("code") == "budget_exceeded":
                state["budget_refused"] = True
            channel.send({"t": "event", "event": {k: v for k, v in event.items() if k != "value_hmac"}})

    stopper = _Stopper(runtime, channel)
    runtime.on_event(on_event)
    from iron_cage import _reliability

    _reliability.configure_breakers(cfg.get("breakers") or {})
    _reliability.observe_breakers(
        lambda name, old, new: channel.send(
            {"t": "event", "event": {"type": "breaker_state", "name": name, "from": old, "to": new}}
        )
    )
    agent_api._connect(channel.send, run_spent)

    def sampler() -> None:
        last = (-1.0, -1.0)
        stop_sent = False
        while not stopper.done.wait(0.05):
            now = (run_spent(), stopper.reserved())
            if now != last:
                channel.send({"t": "usage", "spent": now[0], "reserved": now[1]})
                last = now
            lease = runtime.lease
            if lease is not None and not stop_sent and lease.stop_requested:
                # Stopped from the Control Panel: stop as on SIGTERM (the lease admits nothing new).
                channel.send({"t": "stop_requested", "by": "Control Panel"})
                stop_sent = True
                with contextlib.suppress(OSError):
                    os.kill(os.getpid(), signal.SIGTERM)

    def control() -> None:
        for line in ctl:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("t") == "secrets":
                values: dict[str, str] = msg.get("values") or {}
                os.environ.update(values)
                for name in msg.get("removed") or []:
                    os.environ.pop(name, None)
                channel.send({"t": "reloaded", "names": sorted(values), "generation": msg.get("generation")})

    signal.signal(signal.SIGTERM, stopper.handle)
    signal.signal(signal.SIGINT, stopper.handle)
    signal.signal(signal.SIGUSR1, lambda s, f: channel.send({"t": "reload_request"}))

    lease = runtime.lease
    channel.send(
        {
            "t": "hello",
            "pid": os.getpid(),
            "lease_id": lease.lease_id if lease is not None else None,
            "limit_usd": runtime.budget.limit_usd if runtime.budget is not None else None,
        }
    )
    threading.Thread(target=sampler, name="iron-cage-sampler", daemon=True).start()
    threading.Thread(target=control, name="iron-cage-control", daemon=True).start()

    script = argv[0]
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    code: int | None = 0
    reason = "exited"
    try:
        with runtime:
            try:
                runpy.run_path(script, run_name="__main__")
            except SystemExit as exc:
                if isinstance(exc.code, int) or exc.code is None:
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
                if stopper.raised:
                    reason = "stopped"
            except KeyboardInterrupt:
                if stopper.raised:
                    reason = "stopped"
                else:
                    traceback.print_exc()
                code = 130
            except ic.BudgetExceededError:
                traceback.print_exc()
                state["budget_refused"] = True
                code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
    finally:
        stopper.done.set()
        channel.send(
            {
                "t": "exiting",
                "code": code,
                "reason": reason,
                "spent": run_spent(),
                "budget_refused": state["budget_refused"],
                "stop_requested": bool(runtime.lease is not None and runtime.lease.stop_requested),
            }
        )
    return _exit_by(code, stopper.signum if stopper.raised else None)


if __name__ == "__main__":
    raise SystemExit(main())
