"""`iron-cage start` end to end, with real processes and real signals, against FakeProvider."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ECHO, WORKER, Env, wait_for

ID = re.compile(r"^wo-[0-9a-f]{8}$")


def test_the_agent_keeps_its_argv_main_stdin_stdout_and_exit_code(env: Env) -> None:
    out = env.cli("start", "--restart", "no", ECHO, "--", "7", "--flag", stdin="one\ntwo\n")
    assert out.returncode == 7, out.stderr
    assert out.stdout.splitlines() == [
        f"argv={[ECHO, '7', '--flag']!r} name=__main__",
        "echo one",
        "echo two",
    ]
    # The supervisor's own lines go to stderr, each with the agent ID.
    agent_id = re.search(r"\b(ec-[0-9a-f]{8})\b", out.stderr)
    assert agent_id is not None, out.stderr
    for line in out.stderr.strip().splitlines():
        assert re.match(r"^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR) +ec-[0-9a-f]{8} ", line), line
    st = env.status(agent_id.group(1))
    assert st["state"] == "crashed" and st["last_exit_code"] == 7 and st["restarts"] == 0
    records = env.log_records(agent_id.group(1))
    assert {"agent_started", "agent_crashed", "agent_stopped"} <= {r["event"] for r in records}
    for r in records:
        assert set(r) >= {"ts", "level", "agent_id", "event", "message", "fields"}
        assert r["agent_id"] == agent_id.group(1)


def test_every_call_is_governed_and_the_budget_stops_the_agent(env: Env) -> None:
    out = env.cli("start", "--budget", "0.00008", "--log-format", "json", WORKER, "0")
    assert "refused: budget" in out.stdout, out.stdout + out.stderr
    # The agent's own traceback shares stderr with the supervisor's JSON lines.
    lines = [json.loads(x) for x in out.stderr.splitlines() if x.startswith("{")]
    assert "BudgetExceededError" in out.stderr
    agent_id = lines[0]["agent_id"]
    st = env.status(agent_id)
    assert st["state"] == "budget_exhausted", st
    assert 0 < st["spent_usd"] <= 0.00008
    calls = len([x for x in out.stdout.splitlines() if x.endswith(" ok")])
    assert env.provider.request_count == calls  # the refused call was never sent
    assert st["metrics"]["done"] == calls and st["metrics"]["unit"] == "leads"


def test_stop_lets_the_call_in_flight_finish_and_charges_it(env: Env) -> None:
    # Each call takes 4 s, far longer than starting the `stop` command on a loaded machine, so
    # the second call is still in flight when the signal arrives.
    env.provider.set_latency(4.0)
    agent_id = env.start("--budget", "1", WORKER, "0")
    assert ID.match(agent_id)
    ps = env.cli("ps")
    assert agent_id in ps.stdout and "running" in ps.stdout
    wait_for("a call in flight", lambda: env.provider.request_count >= 2, timeout=30)
    stop = env.cli("stop", agent_id, "--timeout", "15")
    assert stop.returncode == 0, stop.stderr
    st = env.status(agent_id)
    assert st["state"] == "stopped" and st["restarts"] == 0, st
    out = env.output(agent_id)
    assert "call 2 ok" in out, out  # the call in flight when stop came finished
    assert env.provider.request_count == 2  # and no new one was sent after it
    charged = env.status(agent_id)["spent_usd"]
    assert charged > 0 and st["metrics"]["done"] == 2
    assert not any("FAILED" in line for line in out)


def test_kill_9_restarts_within_5s_and_the_budget_continues(env: Env) -> None:
    env.provider.set_latency(0.0)
    # One gpt-4o-mini call costs ~$0.00002: a budget of about ten calls.
    agent_id = env.start("--budget", "0.0002", "--max-restarts", "3", WORKER, "0", AGENT_PAUSE="0.15")
    wait_for("five calls", lambda: env.provider.request_count >= 5, timeout=30)
    before = env.status(agent_id)
    pid = before["pid"]
    spent_before = before["spent_usd"]
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    st = wait_for(
        "the restarted agent's first line",
        lambda: (
            (s := env.status(agent_id))["restarts"] == 1
            and sum(1 for x in env.output(agent_id) if x.startswith("argv=")) == 2
            and s
        ),
        timeout=10,
    )
    elapsed = time.monotonic() - killed
    assert elapsed < 5.0, elapsed
    assert st["pid"] != pid and st["spent_usd"] >= spent_before
    restarted = [r for r in env.log_records(agent_id) if r["event"] == "agent_restarted"]
    assert len(restarted) == 1 and "killed by SIGKILL" in restarted[0]["fields"]["reason"]
    final = wait_for(
        "the budget to run out", lambda: (s := env.status(agent_id))["state"] == "budget_exhausted" and s
    )
    assert final["spent_usd"] <= 0.0002
    # Ten-odd calls in all: the restarted process did not get a fresh budget.
    ok = sum(1 for x in env.output(agent_id) if x.endswith(" ok"))
    assert ok == env.provider.request_count
    one = final["spent_usd"] / ok
    assert ok <= 0.0002 / one + 1
    assert final["restarts"] == 1


def test_a_failing_agent_is_restarted_up_to_the_cap(env: Env) -> None:
    out = env.cli("start", "--max-restarts", "2", "--restart", "on-failure", ECHO, "3", stdin="")
    assert out.returncode == 3
    assert out.stderr.count("agent restarted") == 2 and "gave up after 2 restarts" in out.stderr


def test_sigterm_to_a_foreground_supervisor_stops_the_agent(env: Env) -> None:
    env.provider.set_latency(1.0)
    proc = env.popen("start", WORKER, "0")
    try:
        wait_for("a call in flight", lambda: env.provider.request_count >= 1, timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "call 1 ok" in out, out + err  # in flight at the signal: finished
    assert "stopped (SIGTERM to the supervisor)" in err
    assert env.provider.request_count == 1


def test_reload_and_status_commands_and_bad_ids(env: Env) -> None:
    bad = env.cli("status", "nope")
    assert bad.returncode == 2 and "not an agent ID" in bad.stderr
    missing = env.cli("stop", "ab-00000000")
    assert missing.returncode == 2 and "no agent ab-00000000" in missing.stderr
    script = env.cli("start", "does-not-exist.py")
    assert script.returncode == 2 and "no such agent script" in script.stderr


@pytest.mark.parametrize("which", ["runtime"])
def test_ic_runtime_starts_watches_and_stops_an_agent(env: Env, which: str) -> None:
    code = f"""
import json, os, time
import iron_cage as ic
rt = ic.Runtime(budget=1.0)
agent_id = rt.start_agent({WORKER!r}, ["0"])
while rt.get_metrics(agent_id).get("done", 0) < 3:
    time.sleep(0.05)
m = rt.get_metrics(agent_id)
st = rt.status(agent_id)
final = rt.stop_agent(agent_id)
print(json.dumps({{"id": agent_id, "m": m, "st": st["state"], "final": final["state"]}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env.vars, "AGENT_PAUSE": "0.05"},
        timeout=90,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert ID.match(result["id"]) and result["st"] == "running" and result["final"] == "stopped"
    m = result["m"]
    assert m["done"] >= 3 and m["unit"] == "leads" and m["successes"] >= 3 and m["success_rate"] == 1.0
    assert m["throughput_per_hour"] > 0 and m["cost_per_unit_usd"] > 0 and m["latency_s"]["p50"] > 0
    assert m["spent_usd"] > 0 and m["budget_usd"] == 1.0


def test_progress_and_outcome_are_no_ops_outside_a_supervised_run() -> None:
    import iron_cage as ic

    ic.progress(3, 10, unit="leads")
    ic.outcome(True)
    with pytest.raises(ic.ConfigError, match="whole number"):
        ic.progress(-1)
