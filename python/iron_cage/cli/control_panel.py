"""``iron-cage control-panel serve|unlock|reset-admin``: the Control Panel under uvicorn, and
admin recovery on its host."""

from __future__ import annotations

import errno
import socket
import sys
import webbrowser
from pathlib import Path
from typing import Any

import click

from iron_cage._exceptions import ConfigError
from iron_cage.cli import _output as out
from iron_cage.cli._errors import CliError, Exit
from iron_cage.cli._params import PORT

API = "/api/v1"


def _server_modules() -> Any:
    try:
        import uvicorn

        from iron_cage.control_panel import ControlPanel, Settings, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the Control Panel needs its extra dependencies ({exc.name} is missing): "
            "pip install 'iron-cage[control-panel]'"
        ) from None
    return uvicorn, ControlPanel, Settings, create_app


database_option = click.option(
    "--database-url",
    metavar="URL",
    default=None,
    help="sqlite:///path.db (default: $IRON_CAGE_DATABASE_URL, else ~/.iron-cage/control-panel.db) "
    "or postgresql+psycopg://user:pw@host/db.",
)


def _settings(database_url: str | None) -> Any:
    _, _, settings_cls, _ = _server_modules()
    settings = settings_cls()
    if database_url:
        settings.database_url = database_url
    return settings


def _where_database(settings: Any) -> str:
    path = settings.sqlite_path
    if path is not None:
        return str(path)
    return str(settings.database_url).split("@")[-1]  # never print a database password


def _where_master_key(settings: Any) -> str:
    if settings.master_key:
        return "$IRON_SECRETS_MASTER_KEY"
    path = settings.sqlite_path
    return f"{path}.master-key (mode 0600; back it up)" if path else "unset"


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything claims to serve: a port in use is an error
    here, not after the banner."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # so, and with Nagle on, a keep-alive client waits ~40 ms (delayed ACK) for every answer's
    # body, which uvicorn writes after the headers.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"port {port} on {host} is in use (another Control Panel?)",
                "stop it, or pick another port with --port (0: any free one)",
                Exit.UNAVAILABLE,
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME) or isinstance(exc, socket.gaierror):
            raise CliError(
                f"cannot listen on {host}: not an address of this machine",
                "use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
                Exit.USAGE,
            ) from None
        if exc.errno == errno.EACCES:
            raise CliError(
                f"not allowed to listen on port {port}",
                "ports below 1024 need root: use e.g. 8700",
                Exit.UNAVAILABLE,
            ) from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.group("control-panel")
def control_panel() -> None:
    """The Control Panel service: run it, and recover admin access on its host.

    \b
    Examples:
      iron-cage control-panel serve --open
      iron-cage control-panel unlock admin@example.com
      iron-cage control-panel reset-admin
    """


@control_panel.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface)."
)
@click.option(
    "--port", type=PORT, default=8700, show_default=True, help="Port to listen on (0: any free one)."
)
@database_option
@click.option("--replica", default=None, help="This replica's name in /health and events (default cp-1).")
@click.option(
    "--sweep-interval", type=click.FloatRange(min=0), default=None, help="Seconds between lease sweeps (5)."
)
@click.option(
    "--lease-ttl", type=click.IntRange(min=1), default=None, help="Lease lifetime in seconds (900)."
)
@click.option(
    "--lease-grace",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds past expiry before release (60).",
)
@click.option(
    "--max-failed-logins",
    type=click.IntRange(min=1),
    default=None,
    help="Failed logins from one address before that address is locked out of the account "
    "(5; $IRON_CAGE_MAX_FAILED_LOGINS).",
)
@click.option(
    "--lockout",
    "lockout_s",
    type=click.IntRange(min=1),
    default=None,
    help="Seconds failed logins are counted over, and a lock lasts (900; $IRON_CAGE_LOCKOUT_S).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="The server log's level.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser once serving.")
def serve(
    host: str,
    port: int,
    database_url: str | None,
    replica: str | None,
    sweep_interval: float | None,
    lease_ttl: int | None,
    lease_grace: float | None,
    max_failed_logins: int | None,
    lockout_s: int | None,
    log_level: str,
    open_browser: bool,
) -> int:
    """Run the Control Panel: the API, the dashboard and /ws (SQLite by default).

    Prints the dashboard's and the API docs' addresses and where the database and the
    master key are. On first run it creates the admin ($IRON_CAGE_ADMIN_EMAIL, else
    admin@localhost) with a one-time password ($IRON_CAGE_ADMIN_PASSWORD, else printed).

    \b
    Examples:
      iron-cage control-panel serve
      iron-cage control-panel serve --port 8080 --open
      iron-cage control-panel serve --host 0.0.0.0 --database-url postgresql+psycopg://cp:pw@db/cp
    """
    uvicorn, control_panel_cls, _, create_app = _server_modules()
    settings = _settings(database_url)
    for name, value in (
        ("replica_name", replica),
        ("sweep_interval_s", sweep_interval),
        ("lease_ttl_s", lease_ttl),
        ("lease_grace_s", lease_grace),
        ("max_failed_logins", max_failed_logins),
        ("lockout_s", lockout_s),
    ):
        if value is not None:
            setattr(settings, name, value)
    sock = _listen(host, port)
    try:
        cp = control_panel_cls(settings)
        password = cp.bootstrap_admin()
        bound = sock.getsockname()[1]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{bound}"
        dashboard = Path(__file__).parents[1] / "control_panel" / "static" / "index.html"
        lines = [
            f"Control Panel serving on {host}:{bound}"
            + (" (every interface)" if host in ("0.0.0.0", "::") else ""),
            f"  dashboard   {base}/" + ("" if dashboard.is_file() else "  (not built: run `make dashboard`)"),
            f"  API docs    {base}{API}/docs",
            f"  API         {base}{API}",
            f"  database    {_where_database(settings)}",
            f"  master key  {_where_master_key(settings)}",
            f"  logins      {settings.max_failed_logins} failures from an address lock it out of an account "
            f"for {settings.lockout_s} s",
        ]
        print("\n".join(lines), flush=True)
        if password is not None:
            email = settings.admin_email or "admin@localhost"
            out.note(
                f"created the first admin {email} with the one-time password: {password}\n"
                f"  log in and change it: iron-cage login --server {base} --email {email}; "
                "iron-cage user passwd\n"
                "  (it is not shown again; lost: `iron-cage control-panel reset-admin`)"
            )
        print("Ctrl-C to stop", flush=True)
        if open_browser:
            webbrowser.open(f"{base}/")
        config = uvicorn.Config(
            create_app(control_panel=cp),
            log_level=log_level,
            access_log=False,
            ws_max_size=settings.ws_max_bytes,  # /ws reads nothing a client sends
            forwarded_allow_ips=settings.trusted_proxies,  # whose X-Forwarded-For names the client
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


@control_panel.command()
@click.argument("email")
@click.option(
    "--address",
    metavar="IP",
    default=None,
    help="Also clear this client address's lock (too many failures there, any accounts).",
)
@database_option
def unlock(email: str, address: str | None, database_url: str | None) -> int:
    """Clear EMAIL's failed logins and locks (on the server host: database access is the authority).

    \b
    Examples:
      iron-cage control-panel unlock admin@example.com
      iron-cage control-panel unlock admin@example.com --address 10.0.0.7
    """
    from iron_cage.control_panel import recovery

    _, control_panel_cls, _, _ = _server_modules()
    cp = control_panel_cls(_settings(database_url))
    try:
        done = recovery.unlock(cp, email, address)
    finally:
        cp.close()
    what = f"{done.counts_cleared} failed-login count{'s' if done.counts_cleared != 1 else ''} cleared"
    if address:
        what += f"; address {address} " + ("unlocked" if done.address_cleared else "was not locked")
    print(f"{done.email}: {what}; it can log in again")
    return 0


@control_panel.command("reset-admin")
@click.option(
    "--email", default=None, help="The admin to reset (made an admin, or created; default: the first admin)."
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input (else one is generated).",
)
@database_option
def reset_admin(email: str | None, password_stdin: bool, database_url: str | None) -> int:
    """Give an admin a new password on the server host, when it is forgotten or the admin is locked out.

    The account is made an active admin, its sessions end and its failed logins are
    cleared; without --password-stdin a one-time password is generated and printed.

    \b
    Examples:
      iron-cage control-panel reset-admin
      iron-cage control-panel reset-admin --email ops@example.com
      printf '%s\\n' "$NEW_PASSWORD" | iron-cage control-panel reset-admin --password-stdin
    """
    from iron_cage.control_panel import recovery

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        raise CliError("--password-stdin: no password on standard input")
    _, control_panel_cls, _, _ = _server_modules()
    cp = control_panel_cls(_settings(database_url))
    try:
        done = recovery.reset_admin(cp, email, password)
    finally:
        cp.close()
    verb = "created" if done.created else "reset"
    if done.generated:
        print(f"{verb} admin {done.email}; one-time password: {done.password}")
        out.note(
            "log in with it and change it (`iron-cage login`, `iron-cage user passwd`); it is not shown again"
        )
    else:
        print(f"{verb} admin {done.email} with the password given; its sessions ended")
    return 0
