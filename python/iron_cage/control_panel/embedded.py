"""A Control Panel in this process (uvicorn on a thread): for the demo, examples and tests."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from iron_cage.control_panel.app import create_app
from iron_cage.control_panel.settings import Settings
from iron_cage.control_panel.state import ControlPanel


class EmbeddedControlPanel:
    """``with EmbeddedControlPanel(Settings(database_url=...)) as cp: cp.url`` — the API at ``cp.url``.

    ``admin_password`` is the generated one-time password when the database had no users
    and the settings named none.
    """

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.panel = ControlPanel(settings)
        self.admin_password = self.panel.bootstrap_admin() or settings.admin_password
        self.host = host
        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = int(s.getsockname()[1])
        self.port = port
        config = uvicorn.Config(
            create_app(control_panel=self.panel),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            ws_max_size=settings.ws_max_bytes,
            forwarded_allow_ips=settings.trusted_proxies,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="iron-cage-control-panel", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> EmbeddedControlPanel:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the embedded Control Panel did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.panel.close()

    def __enter__(self) -> EmbeddedControlPanel:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
