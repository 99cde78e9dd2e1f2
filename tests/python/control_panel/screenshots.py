"""``make screenshots``: the dashboard's pictures in docs/images/, from a supervised demo run.

Runs ``iron-cage demo --supervised`` (the LangChain lead-generation agent, FakeProvider, an
embedded Control Panel), follows it in Debian's Chromium (Playwright, nothing downloaded) and,
once the agent has stopped, photographs the control panel with its notifications, the calls,
the usage charts, the IC tokens page, one call's page, the policies page and the control
panel at 390 px.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.demo import supervised

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-sync",
]
EMAIL = "admin@localhost"


class Camera:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.pw: Playwright | None = None
        self.browser: Browser | None = None
        self.page: Page | None = None

    def ready(self, cp: EmbeddedControlPanel) -> None:
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        self.page = self.log_in(cp, 1366)

    def log_in(self, cp: EmbeddedControlPanel, width: int) -> Page:
        assert self.browser is not None
        page = self.browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
        page.set_default_timeout(20_000)
        page.goto(cp.url)
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", cp.admin_password or "")
        page.click("button[type=submit]")
        page.locator("[data-live].live").wait_for()
        return page

    def shoot(self, page: Page, name: str, full: bool = True) -> None:
        page.wait_for_timeout(800)  # charts finish their entry animation
        path = self.out / f"dashboard-{name}.png"
        page.screenshot(path=str(path), full_page=full)
        print(f"wrote {path}")

    def finished(self, cp: EmbeddedControlPanel) -> None:
        page = self.page
        assert page is not None and self.browser is not None
        page.locator("[data-panel=live] [data-progress]").first.wait_for()
        self.shoot(page, "control-panel")
        while page.locator("[data-notice] [data-close]").count():  # the pop-ups belong to that picture
            page.locator("[data-notice] [data-close]").first.click()
        for path, name in (("/calls", "calls"), ("/usage", "usage"), ("/admin/tokens", "tokens")):
            page.click(f"[data-tab='{path}']")
            page.locator("main h2").first.wait_for()
            if name == "usage":
                page.locator("[data-chart=timeseries] canvas").wait_for()
            self.shoot(page, name, full=name != "calls")  # the calls page: its first screen
        page.click("[data-tab='/calls']")
        rows = page.locator("[data-traces] tr[data-trace]")
        rows.first.wait_for()
        with_pii = rows.filter(has=page.locator("td:nth-child(8)", has_text=re.compile(r"\d")))
        (with_pii if with_pii.count() else rows).first.click()  # a call with PII findings, if any
        page.locator("[data-trace-pii] tbody tr").first.wait_for()
        self.shoot(page, "call")
        page.click("[data-tab='/admin/policies']")
        page.locator("[data-pii=egress] tbody tr").first.wait_for()
        self.shoot(page, "policies")
        phone = self.log_in(cp, 390)
        self.shoot(phone, "390px", full=False)
        self.browser.close()
        assert self.pw is not None
        self.pw.stop()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    camera = Camera(out)
    return supervised.run(rate=5.0, ready=camera.ready, finished=camera.finished)


if __name__ == "__main__":
    raise SystemExit(main())
