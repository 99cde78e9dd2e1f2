"""Config files (TOML and YAML), their errors, and the precedence flags > env > file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from faker import Faker

import iron_cage as ic
from iron_cage.supervisor import config

from .conftest import ECHO, WORKER, Env


def test_bad_files_are_clear_errors_before_anything_starts(env: Env, tmp_path: Path) -> None:
    toml = tmp_path / "agent.toml"
    toml.write_text('budget = 5\n[restart]\npolicy = "sometimes"\n[breakers.llm]\ncolour = 1\n')
    out = env.cli("config", "check", str(toml))
    assert out.returncode == 2
    assert f"{toml}: restart.policy: 'sometimes' is not allowed; use one of" in out.stderr
    assert (
        "breakers.llm.colour: unknown key 'colour'; allowed keys here: cooldown_s, failure_threshold"
        in out.stderr
    )
    yaml = tmp_path / "agent.yaml"
    yaml.write_text("budget: lots\nsafety_mode: redact\n")
    out = env.cli("start", "--config", str(yaml), ECHO)
    assert out.returncode == 2 and f"{yaml}: budget:" in out.stderr and "'lots'" in out.stderr
    assert not (env.home / "agents").exists()  # nothing started
    good = tmp_path / "good.yaml"
    good.write_text("budget: 5\nenvironment: prod\nrestart: {policy: always, max_restarts: 2}\n")
    ok = env.cli("config", "check", str(good))
    assert ok.returncode == 0 and "OK" in ok.stdout and "restart always up to 2" in ok.stdout
    flag = env.cli("start", "--safety-mode", "loud", ECHO)
    assert flag.returncode == 2 and "--safety-mode: safety_mode: 'loud' is not allowed" in flag.stderr


def test_flags_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('budget = 1.0\nsafety_mode = "warn"\nenvironment = "staging"\n')
    cfg = config.build(
        file=f, environ={"IRON_CAGE_BUDGET": "2.5", "IRON_CAGE_ENV": "prod"}, flags={("budget",): 7.0}
    )
    assert cfg.budget == 7.0 and cfg.environment == "prod" and cfg.safety_mode == "warn"
    assert config.build(environ={}).restart.policy == "on-failure"
    with pytest.raises(ic.ConfigError, match=r"\$IRON_CAGE_MAX_RESTARTS: restart.max_restarts"):
        config.build(environ={"IRON_CAGE_MAX_RESTARTS": "-1"})
    with pytest.raises(ic.ConfigError, match="unknown config format"):
        config.build(file=tmp_path / "c.toml.bak" if (tmp_path / "c.toml.bak").write_text("") == 0 else f)


def test_the_request_policy_reaches_the_supervised_agent(env: Env, tmp_path: Path) -> None:
    email = Faker().email()
    prompt = {"AGENT_PROMPT": f"write to {email}"}
    out = env.cli("start", "--restart", "no", WORKER, "1", **prompt)
    assert out.returncode == 0, out.stdout + out.stderr
    off = tmp_path / "off.toml"
    off.write_text('[pii]\negress = "off"\n')
    out = env.cli("start", "--restart", "no", "--config", str(off), WORKER, "1", **prompt)
    assert out.returncode == 0, out.stdout + out.stderr
    sent = [r["body"]["messages"][0]["content"] for r in env.provider.requests()]
    assert sent == ["write to <EMAIL_1>", f"write to {email}"]
    bad = env.cli("start", WORKER, "1", IRON_CAGE_EGRESS="scramble")
    assert bad.returncode == 2 and "$IRON_CAGE_EGRESS: pii.egress" in bad.stderr, bad.stderr
