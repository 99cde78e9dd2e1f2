"""The few Control Panel calls the supervisor makes with its agent's IC token (stdlib HTTP,
so a supervisor needs no extra package): secrets, process status, metrics, and settling the
lease of an agent process that died. The token is sent in a header and never appears in a
message, a log or an exception."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from iron_cage._exceptions import ControlPanelError

API = "/api/v1"


class SupervisorClient:
    def __init__(self, url: str, ic_token: str, *, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        if self.url.endswith(API):
            self.url = self.url[: -len(API)]
        self._token = ic_token
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"SupervisorClient({self.url!r})"

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + API + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                raw = r.read()
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())["error"]
                detail = f"{err['code']}: {err['message']}"
            except (ValueError, KeyError, TypeError):
                detail = exc.reason
            raise ControlPanelError(
                f"{method} {API}{path} answered HTTP {exc.code} ({detail})", status=exc.code
            ) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ControlPanelError(f"the Control Panel at {self.url} cannot be reached: {reason}") from None
        return json.loads(raw) if raw else None

    # -- secrets ---------------------------------------------------------------------------------
    def secrets(self, environment: str, names: list[str] | None = None) -> dict[str, str]:
        """Every live secret of ``environment`` (or only ``names``) by name, with its value."""
        listed = self._call("GET", f"/secrets?environment={environment}")
        values: dict[str, str] = {}
        for item in listed:
            if names is not None and item["name"] not in names:
                continue
            full = self._call("GET", f"/secrets/{int(item['id'])}")
            if full.get("value") is not None:
                values[str(full["name"])] = str(full["value"])
        return values

    # -- process status and metrics ----------------------------------------------------------------
    def process(self, body: dict[str, Any]) -> dict[str, Any]:
        """Reports the agent process's state; the answer says whether the agent was stopped."""
        result: dict[str, Any] = self._call("POST", "/runtime/process", body)
        return result

    def metrics(self, body: dict[str, Any]) -> None:
        self._call("POST", "/runtime/metrics", body)

    # -- the lease of a process that died ------------------------------------------------------------
    def settle_lease(self, lease_id: str, unreported_usd: float, request_id: str) -> None:
        """Charges what a dead process had reserved (its worst case: it may have been billed) and
        returns the rest of its lease, so a restarted process leases the allocation's remainder."""
        if unreported_usd > 0:
            report = {
                "request_id": request_id,
                "model": "unknown (in flight when the process died)",
                "cost_usd": f"{unreported_usd:.6f}",
                "status": "error",
            }
            try:
                self._call("POST", "/budget/report", {"lease_id": lease_id, "reports": [report]})
            except ControlPanelError as exc:
                if exc.status not in (409, 410):  # past the grant, or the lease closed meanwhile
                    raise
        self._call("POST", "/budget/return", {"lease_id": lease_id})
