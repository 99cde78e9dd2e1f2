"""The CLI's one error path: every command, given bad input, answers with one or two lines on
stderr and an exit code of its kind, never a traceback (docs/cli.md, "Exit codes")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest

from iron_cage.cli import _errors, _params, cli, main


def leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaves(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(leaves(cli))
REMOTE = [(p, c) for p, c in COMMANDS if any(x.name == "server" for x in c.params) and p[0] != "login"]
NAMES = [" ".join(p) for p, _ in COMMANDS]


def arguments(command: click.Command) -> list[str]:
    """Values of the command's arguments that pass the CLI's own checks."""
    values = []
    for p in command.params:
        if p.required:
            value = "1" if isinstance(p.type, click.IntRange | _params.Usd) else "x"
            values += [value] if isinstance(p, click.Argument) else [p.opts[0], value]
    return values


def run(capfd: pytest.CaptureFixture[str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    import io

    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(args))
    finally:
        sys.stdin = old_stdin
    out, err = capfd.readouterr()
    return code, out, err


def assert_clean(err: str, *words: str) -> None:
    """One or two lines, the first `iron-cage: ...`, naming ``words``; no traceback."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err and 1 <= len(lines) <= 2 and lines[0].startswith("iron-cage: "), err
    for w in words:
        assert w.lower() in err.lower(), (w, err)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRON_CAGE_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("IRON_CAGE_HOME", str(tmp_path / "home"))
    for name in ("IRON_CAGE_SERVER_URL", "IRON_CAGE_ACCESS_TOKEN", "IRON_CAGE_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def test_every_command_has_help_text_and_an_example() -> None:
    for path, command in COMMANDS:
        help_text = command.help or ""
        assert help_text.strip() and "Example" in help_text, path
        for p in command.params:
            if isinstance(p, click.Option) and not p.hidden:
                assert p.help, (path, p.name)


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_names_it_and_the_commands_help(
    capfd: pytest.CaptureFixture[str], name: str
) -> None:
    path = name.split()
    command = dict(COMMANDS)[tuple(path)]
    if command.context_settings.get("ignore_unknown_options"):
        pytest.skip("takes unknown options as arguments (`start`'s go to the agent)")
    code, _, err = run(capfd, *path, "--no-such-option")
    assert code == _errors.Exit.USAGE
    assert_clean(err, "no such option", f"iron-cage {name} --help")


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, (_, c) in zip(NAMES, COMMANDS, strict=True)
        if any(isinstance(p, click.Argument) for p in c.params if p.required)
    ],
)
def test_a_missing_argument_is_named(capfd: pytest.CaptureFixture[str], name: str) -> None:
    code, _, err = run(capfd, *name.split())
    assert code == _errors.Exit.USAGE
    assert_clean(err, "missing argument", "--help")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["fake-provider", "--port", "99999"], ["99999 is not a port", "1-65535"]),
        (["router", "--port", "http"], ["not a port number"]),
        (
            ["router", "--upstream", "notaurl"],
            ["http:// or https://", "notaurl", "https://api.openai.com/v1"],
        ),
        (["router", "--budget", "lots"], ["not an amount of USD", "12.50"]),
        (["control-panel", "serve", "--port", "-5"], ["not a port"]),
        (["budget", "set", "1", "-1"], ["use 0 or more"]),
        (["budget", "set", "0", "5"], ["0 is not in the range x>=1"]),
        (["usage", "--since", "last tuesday"], ["is not a time", "yesterday", "7d"]),
        (
            ["agent", "list", "--server", "localhost:44251"],
            ["not an http:// or https:// URL", "http://localhost:44251"],
        ),
        (["agent", "list", "--server", "http://127.0.0.1:99999"], ["bad port"]),
        (["user", "add", "x@example.com", "--role", "boss"], ["'boss' is not one of", "developer"]),
        (["prices", "gpt-4o-mnii"], ["unknown model", "did you mean gpt-4o-mini"]),
        (["prices", "check", "/nonexistent/prices.json"], ["/nonexistent/prices.json"]),
        (["secret", "--remote", "list"], ["which Control Panel", "iron-cage login"]),
        (["status", "nope"], ["not an agent ID"]),
        (["config", "check", "/nonexistent.toml"], ["/nonexistent.toml"]),
        (["login"], ["--email is missing"]),
        (["no-such-command"], ["no such command", "iron-cage --help"]),
    ],
)
def test_bad_values_say_what_is_allowed(
    capfd: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    code, _, err = run(capfd, *args, stdin="")
    assert code == _errors.Exit.USAGE, err
    assert_clean(err, *words)


def test_a_piped_password_is_never_taken_for_the_email(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capfd, "login", "--server", "http://127.0.0.1:1", stdin="hunter2-password\n")
    assert code == _errors.Exit.USAGE and "hunter2" not in out + err
    assert_clean(err, "--email is missing", "pass --email")


@pytest.mark.parametrize("name", [" ".join(p) for p, _ in REMOTE])
def test_every_server_command_explains_an_unreachable_server(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    """The demo's server is gone but the saved login points at it: where the URL came from."""
    session = {"server": "http://127.0.0.1:1", "access_token": "a", "refresh_token": "r"}
    (tmp_path / "session.json").write_text(json.dumps(session))
    command = dict(COMMANDS)[tuple(name.split())]
    code, _, err = run(capfd, *name.split(), *arguments(command), stdin="old-password-1\nnew-password-12\n")
    assert code == _errors.Exit.UNREACHABLE, err
    assert_clean(err, "cannot reach the Control Panel at http://127.0.0.1:1", "login session", "--server")


@pytest.mark.parametrize("name", [" ".join(p) for p, _ in REMOTE])
def test_every_server_command_without_a_login_says_how_to_log_in(
    capfd: pytest.CaptureFixture[str], name: str
) -> None:
    command = dict(COMMANDS)[tuple(name.split())]
    code, _, err = run(capfd, *name.split(), *arguments(command), "--server", "http://127.0.0.1:1", stdin="")
    assert code == _errors.Exit.AUTH, err
    assert_clean(err, "not logged in", "iron-cage login --server http://127.0.0.1:1")


class _Failing(BaseHTTPRequestHandler):
    """A server whose every answer is a 500 in the Control Panel's error shape (or not JSON)."""

    def _answer(self) -> None:
        if self.path.endswith("/agents"):
            body = json.dumps(
                {"error": {"code": "internal_error", "message": "internal error; see the server log"}}
            )
        else:
            body = "<html>Bad Gateway</html>"
        data = body.encode()
        self.send_response(500 if self.path.endswith("/agents") else 502)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_error_is_one_line_and_its_own_exit_code(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "session.json").write_text(json.dumps({"server": url, "access_token": "a"}))
    try:
        code, _, err = run(capfd, "agent", "list")
        assert code == _errors.Exit.SERVER_ERROR
        assert_clean(err, "the Control Panel failed (500)", "internal error; see the server log")
        code, _, err = run(capfd, "user", "list")
        assert code == _errors.Exit.SERVER_ERROR
        assert_clean(err, "(502)", "Bad Gateway")
    finally:
        server.shutdown()
        server.server_close()


def test_debug_shows_the_traceback(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "session.json").write_text(json.dumps({"server": "http://127.0.0.1:1", "access_token": "a"}))
    env = dict(os.environ, IRON_CAGE_SESSION=str(tmp_path / "session.json"))
    cmd = [sys.executable, "-m", "iron_cage", "agent", "list"]
    plain = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    debug = subprocess.run(
        [*cmd, "--debug"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert plain.returncode == _errors.Exit.UNREACHABLE and "Traceback" not in plain.stderr
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConnectError" in debug.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    """`iron-cage prices | head -1`: no BrokenPipeError, exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "iron_cage", "prices"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what head does after its line
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(60) == 0 and first.startswith(b"price table") and err == "", err


def test_piped_output_arrives_line_by_line() -> None:
    """A piped command's first line is readable while it still runs (`iron-cage demo | tee`)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "iron_cage", "fake-provider"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()  # it serves until stopped: only a flush delivers this
        assert line.startswith("FakeProvider serving") and "Ctrl-C to stop" in line
    finally:
        proc.terminate()
        proc.wait(30)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_tables_have_human_headers_and_json_keeps_the_field_names(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capfd, "prices", "list")
    header = out.splitlines()[1].split()
    assert code == 0 and header[:3] == ["Model", "Input", "Output"] and "$2.50" in out
    assert not any(line != line.rstrip() for line in out.splitlines())  # piped: no padding
    code, out, _ = run(capfd, "prices", "--json")
    assert code == 0 and json.loads(out)["gpt-4o"]["standard"]["input"] == 2.5


def test_money_is_shown_to_the_cent_or_to_the_micro_dollar() -> None:
    from iron_cage.cli._output import money

    assert [money(x) for x in (25, 12.5, 0.000125, 1234.5, 0, -0.5, None)] == [
        "$25.00",
        "$12.50",
        "$0.000125",
        "$1,234.50",
        "$0.00",
        "-$0.50",
        "-",
    ]
