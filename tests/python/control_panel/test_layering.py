"""How the Control Panel's modules depend on each other: the client needs no server library,
route modules share code through service modules only, the async client is generated."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import iron_cage.client
import iron_cage.control_panel
from iron_cage.client import _generate

CLIENT = Path(iron_cage.client.__file__).parent
ROUTES = Path(iron_cage.control_panel.__file__).parent / "routes"
SERVER_ONLY = ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "bcrypt", "jwt", "psycopg")


def test_the_client_imports_and_works_without_any_server_library() -> None:
    """With FastAPI, Starlette, SQLAlchemy, ... unimportable, the client builds its request
    models, sends a call and decodes the answer (through an httpx mock transport)."""
    script = textwrap.dedent(
        f"""
        import sys
        for name in {SERVER_ONLY!r}:
            sys.modules[name] = None  # `import name` now raises ImportError
        import httpx
        from iron_cage.client import AsyncControlPanelClient, ControlPanelClient
        from iron_cage.client import _calls
        from iron_cage.control_panel import wire

        wire.HandshakeIn(requested_usd="1.5", runtime="r")
        wire.AgentIn(name="a", budget_usd=2)
        wire.LimitIn(kind="daily_usd", value=3)
        wire.ChannelIn(kind="email", target="ops@example.com")
        call = _calls.create_agent("lead-gen", "default", "openai", None, "2.5", None)
        assert call.json == {{"name": "lead-gen", "project": "default", "provider": "openai",
                              "budget_usd": "2.5"}}, call.json

        def answer(request: httpx.Request) -> httpx.Response:
            assert request.headers["authorization"] == "Bearer tok"
            return httpx.Response(200, json=[{{"id": 1, "agent_id": None, "kind": "daily_usd",
                "value": 3.0, "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z"}}])

        with ControlPanelClient("http://cp", token="tok", transport=httpx.MockTransport(answer)) as c:
            limits = c.list_limits()
        assert limits[0].kind == "daily_usd" and isinstance(limits[0], wire.LimitOut)
        AsyncControlPanelClient("http://cp", token="tok")
        loaded = sorted(n for n in {SERVER_ONLY!r} if sys.modules.get(n) is not None)
        assert not loaded, loaded
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_route_modules_never_import_each_other() -> None:
    modules = sorted(p for p in ROUTES.glob("*.py") if p.name != "__init__.py")
    assert len(modules) >= 9
    wrong = {
        p.name: sorted(i for i in _imports(p) if i.startswith("iron_cage.control_panel.routes"))
        for p in modules
    }
    assert not any(wrong.values()), f"shared code belongs in a service module beside leasing.py: {wrong}"


def test_the_client_uses_the_wire_schemas_only() -> None:
    for path in CLIENT.glob("*.py"):
        server = sorted(
            i
            for i in _imports(path)
            if i.startswith("iron_cage.control_panel")
            and i not in ("iron_cage.control_panel", "iron_cage.control_panel.wire")
        )
        assert not server, f"{path.name} imports {server}"


def test_the_async_client_is_what_the_generator_makes() -> None:
    expected = _generate.generate((CLIENT / "_operations.py").read_text())
    assert (CLIENT / "_async_operations.py").read_text() == expected, (
        "run python python/iron_cage/client/_generate.py"
    )
    ops = {m for m in dir(iron_cage.client.ControlPanelClient) if not m.startswith("_")}
    async_ops = {m for m in dir(iron_cage.client.AsyncControlPanelClient) if not m.startswith("_")}
    assert "create_agent" in ops and ops - {"close", "tokens"} == async_ops - {"aclose"}
