"""``iron-cage control-panel serve``: the Control Panel under uvicorn."""

from __future__ import annotations

import argparse
import sys

from iron_cage._exceptions import ConfigError


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from iron_cage.control_panel import ControlPanel, Settings, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the Control Panel needs its extra dependencies ({exc.name} is missing): "
            "pip install 'iron-cage[control-panel]'"
        ) from None
    settings = Settings()
    if args.database_url:
        settings.database_url = args.database_url
    if args.replica:
        settings.replica_name = args.replica
    if args.sweep_interval is not None:
        settings.sweep_interval_s = args.sweep_interval
    if args.lease_ttl is not None:
        settings.lease_ttl_s = args.lease_ttl
    if args.lease_grace is not None:
        settings.lease_grace_s = args.lease_grace
    cp = ControlPanel(settings)
    password = cp.bootstrap_admin()
    if password is not None:
        email = settings.admin_email or "admin@localhost"
        print(
            f"created the first admin {email} with the one-time password: {password}\n"
            "log in and change it (POST /api/v1/users/me/password); it is not shown again",
            file=sys.stderr,
            flush=True,
        )
    where = settings.database_url.split("@")[-1]  # never print a database password
    print(f"Control Panel on http://{args.host}:{args.port}/api/v1 (database {where})", flush=True)
    uvicorn.run(
        create_app(control_panel=cp),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        ws_max_size=settings.ws_max_bytes,  # /ws reads nothing a client sends
        forwarded_allow_ips=settings.trusted_proxies,  # whose X-Forwarded-For names the client
    )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cp = sub.add_parser("control-panel", help="the Control Panel service")
    csub = cp.add_subparsers(dest="cp_command", required=True)
    serve = csub.add_parser("serve", help="run the Control Panel API (SQLite by default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    serve.add_argument(
        "--database-url",
        default=None,
        help="sqlite:///path.db (default ~/.iron-cage/control-panel.db) or postgresql+psycopg://user:pw@host/db",
    )
    serve.add_argument("--replica", default=None, help="this replica's name in /health and events")
    serve.add_argument("--sweep-interval", type=float, default=None, help="seconds between lease sweeps (5)")
    serve.add_argument("--lease-ttl", type=int, default=None, help="lease lifetime in seconds (900)")
    serve.add_argument(
        "--lease-grace", type=float, default=None, help="seconds past expiry before release (60)"
    )
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)
