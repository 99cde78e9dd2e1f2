"""First run and admin recovery from the CLI, against real Control Panel processes: the serve
banner, a port in use, --open, login prompts, attempts left, lockout and unlock, reset-admin,
`user passwd`, and a login that stopped working."""

from __future__ import annotations

import os
import pty
import select
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, MASTER_KEY
from .servers import ServerProcess

NEW_PASSWORD = "a-brand-new-password-7"


def cli(
    session: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, IRON_CAGE_SESSION=str(session), IRON_SECRETS_MASTER_KEY=MASTER_KEY, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "iron_cage", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        check=False,
    )


def clean(r: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and 1 <= len(lines) <= 2, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cp.db'}"


def test_serve_prints_where_everything_is_and_opens_the_browser(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    server = ServerProcess(sqlite(tmp_path), tmp_path, "cp-1", "--open")
    os.environ["BROWSER"] = str(browser)
    try:
        with server:
            deadline = time.monotonic() + 60  # the port is bound before the banner is printed
            while "Ctrl-C to stop" not in server.log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            banner = server.log_path.read_text()
            base = server.url
            assert f"dashboard   {base}/" in banner and f"API docs    {base}/api/v1/docs" in banner
            assert f"database    {tmp_path / 'cp.db'}" in banner
            assert "master key  $IRON_SECRETS_MASTER_KEY" in banner
            assert "5 failures from an address" in banner
            assert httpx.get(f"{base}/api/v1/docs").status_code == 200
            deadline = time.monotonic() + 30
            while not opened.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert opened.read_text().strip() == f"{base}/"
    finally:
        del os.environ["BROWSER"]


def test_serve_on_a_port_in_use_says_so_before_claiming_to_serve(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli(
            tmp_path / "s.json",
            "control-panel", "serve", "--port", str(port), "--database-url", sqlite(tmp_path),
        )  # fmt: skip
    clean(r, 7, f"port {port} on 127.0.0.1 is in use", "--port")
    assert "serving" not in r.stdout


def test_login_prompts_for_the_email_then_the_password_without_echo(tmp_path: Path) -> None:
    with ServerProcess(sqlite(tmp_path), tmp_path) as server:
        session = tmp_path / "session.json"
        env = dict(os.environ, IRON_CAGE_SESSION=str(session))
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "iron_cage", "login", "--server", server.url],
            stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
        )  # fmt: skip
        os.close(follower)
        seen = b""

        def until(text: bytes) -> None:
            nonlocal seen
            deadline = time.monotonic() + 60
            while text not in seen and time.monotonic() < deadline:
                ready, _, _ = select.select([leader], [], [], 0.5)
                if ready:
                    try:
                        seen += os.read(leader, 4096)
                    except OSError:
                        break
            assert text in seen, seen

        until(b"email: ")
        os.write(leader, ADMIN_EMAIL.encode() + b"\n")
        until(b"password: ")
        os.write(leader, ADMIN_PASSWORD.encode() + b"\n")
        until(b"logged in to")
        assert proc.wait(60) == 0
        os.close(leader)
        assert ADMIN_PASSWORD.encode() not in seen  # not echoed
        assert stat.S_IMODE(session.stat().st_mode) == 0o600


def test_wrong_passwords_count_down_lock_and_are_unlocked_on_the_host(tmp_path: Path) -> None:
    url = sqlite(tmp_path)
    with ServerProcess(url, tmp_path, "cp-1", "--max-failed-logins", "3", "--lockout", "600") as server:
        session = tmp_path / "session.json"
        login = ("login", "--server", server.url, "--email", ADMIN_EMAIL)
        clean(cli(session, *login, stdin="wrong-password-1\n"), 4, "2 attempts left", "10-minute lock")
        clean(cli(session, *login, stdin="wrong-password-2\n"), 4, "1 attempt left")
        clean(cli(session, *login, stdin="wrong-password-3\n"), 4, "last attempt", "locked")
        locked = cli(session, *login, stdin=ADMIN_PASSWORD + "\n")  # the right one, still locked
        clean(locked, 4, "try again in", "iron-cage control-panel unlock EMAIL")
        unlocked = cli(session, "control-panel", "unlock", ADMIN_EMAIL, "--database-url", url)
        assert unlocked.returncode == 0 and "failed-login counts cleared" in unlocked.stdout, unlocked.stderr
        assert cli(session, *login, stdin=ADMIN_PASSWORD + "\n").returncode == 0
        clean(cli(session, "control-panel", "unlock", "nobody@x.com", "--database-url", url), 2, "no user")


def test_reset_admin_passwd_and_a_login_that_stopped_working(tmp_path: Path) -> None:
    url = sqlite(tmp_path)
    with ServerProcess(url, tmp_path) as server:
        session = tmp_path / "session.json"
        login = ("login", "--server", server.url, "--email", ADMIN_EMAIL)
        # A forgotten password: reset on the host, where database access is the authority.
        reset = cli(session, "control-panel", "reset-admin", "--database-url", url)
        assert reset.returncode == 0, reset.stderr
        one_time = reset.stdout.strip().rsplit(" ", 1)[-1]
        assert f"reset admin {ADMIN_EMAIL}" in reset.stdout and len(one_time) >= 20
        clean(cli(session, *login, stdin=ADMIN_PASSWORD + "\n"), 4, "wrong email or password", "reset-admin")
        assert cli(session, *login, stdin=one_time + "\n").returncode == 0
        # Change it from the CLI; every session ends, so the next command says to log in.
        short = cli(session, "user", "passwd", "--password-stdin", stdin=f"{one_time}\nshort\n")
        clean(short, 2, "password too short")
        changed = cli(session, "user", "passwd", "--password-stdin", stdin=f"{one_time}\n{NEW_PASSWORD}\n")
        assert changed.returncode == 0 and "log in again" in changed.stdout, changed.stderr
        clean(cli(session, "agent", "list"), 4, "not logged in", "iron-cage login")
        assert cli(session, *login, stdin=NEW_PASSWORD + "\n").returncode == 0
        assert cli(session, "agent", "list").returncode == 0
        # The session's tokens stop working elsewhere (the password changed from another client).
        with httpx.Client(base_url=f"{server.url}/api/v1") as other:
            token = other.post("/auth/login", json={"email": ADMIN_EMAIL, "password": NEW_PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            body = {"current_password": NEW_PASSWORD, "new_password": ADMIN_PASSWORD}
            assert other.post("/users/me/password", json=body, headers=headers).status_code == 204
        clean(cli(session, "agent", "list"), 4, "login expired or was revoked", "run `iron-cage login`")
        # What the server refuses is worded, with the command's help to read.
        assert cli(session, *login, stdin=ADMIN_PASSWORD + "\n").returncode == 0
        clean(cli(session, "budget", "show", "999"), 5, "refused (404 not_found)", "agent 999 not found")
        clean(cli(session, "agent", "add", "x" * 300), 5, "refused (422", "name is too long")


def test_the_served_socket_sends_small_answers_without_waiting_for_an_ack() -> None:
    """The connections the server accepts have Nagle's algorithm off (TCP_NODELAY), which asyncio
    sets only on sockets made as TCP ones: with it on, a keep-alive client waits for a delayed
    ACK (~40 ms on Linux) on every answer whose body is written after its headers."""
    import asyncio

    from iron_cage.cli.control_panel import _listen

    async def accept_one() -> int:
        sock = _listen("127.0.0.1", 0)
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            _r, w = await asyncio.open_connection(*sock.getsockname())
            nodelay = await asyncio.wait_for(accepted, 10)
            w.close()
            return nodelay

    assert asyncio.run(accept_one()) != 0
