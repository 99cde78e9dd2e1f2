"""The Vue dashboard in a real headless Chromium (Debian's, driven by Playwright; no browser
download) against an embedded Control Panel on a SQLite file: log in, see the agents'
budgets, and watch a runtime's usage report arrive live over the WebSocket."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from iron_cage.control_panel.dashboard import STATIC
from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (STATIC / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make chromium` installs Debian's package (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[EmbeddedControlPanel]:
    with EmbeddedControlPanel(make_settings(f"sqlite:///{tmp_path / 'cp.db'}")) as cp:
        yield cp


def admin(cp: EmbeddedControlPanel) -> httpx.Client:
    c = httpx.Client(base_url=f"{cp.url}/api/v1")
    r = c.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    r.raise_for_status()
    c.headers["authorization"] = f"Bearer {r.json()['access_token']}"
    return c


def log_in(page: Page, url: str, password: str = ADMIN_PASSWORD) -> None:
    page.goto(url)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_wrong_password_is_refused_with_the_servers_reason(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    page = browser.new_page()
    page.set_default_timeout(15_000)
    log_in(page, panel.url, password="not-the-password")
    alert = page.locator("form.login [role=alert]")
    alert.wait_for()
    assert "password" in alert.inner_text().lower()
    assert page.locator("table.agents").count() == 0
    page.close()


def test_budgets_and_a_runtimes_usage_appear_live(browser: Browser, panel: EmbeddedControlPanel) -> None:
    api = admin(panel)
    agent = api.post("/agents", json={"name": "lead-gen", "budget_usd": 10}).json()
    token = api.post(f"/agents/{agent['id']}/tokens", json={"name": "ci"}).json()["token"]

    page = browser.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []  # the security headers' Content-Security-Policy must not bite the dashboard
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, panel.url)
    row = page.locator('tr[data-agent="lead-gen"]')
    row.wait_for()
    assert "$10.00" in row.inner_text()
    assert row.locator("[data-spent]").inner_text() == "$0.00"
    page.locator("[data-live].live").wait_for()  # the WebSocket is open

    # A runtime leases budget and reports two calls, one with PII, exactly as the lease client does.
    runtime = httpx.Client(base_url=f"{panel.url}/api/v1", headers={"authorization": f"Bearer {token}"})
    lease = runtime.post("/budget/handshake", json={"requested_usd": 5, "runtime": "test"}).json()
    reports = [
        {"request_id": "r1", "model": "gpt-4o-mini", "cost_usd": 1.25, "input_tokens": 900},
        {"request_id": "r2", "model": "gpt-4o-mini", "cost_usd": 1.25, "pii_findings": 2},
    ]
    r = runtime.post("/budget/report", json={"lease_id": lease["lease_id"], "reports": reports})
    assert r.status_code == 200, r.text

    # No reload: the STATE_UPDATE and AGENT_EVENT arrive over /ws.
    page.locator('tr[data-agent="lead-gen"] [data-spent]:text-is("$2.50")').wait_for()
    feed = page.locator("[data-feed]")
    feed.locator("li:has-text('2 call(s), $2.50')").wait_for()
    feed.locator("li:has-text('2 PII finding(s) in 1 call(s)')").wait_for()
    page.locator("[data-total-calls]:text-is('2')").wait_for()

    page.click("[data-tab=calls]")
    page.locator("[data-traces] tbody tr:has-text('gpt-4o-mini')").first.wait_for()
    assert page.locator("[data-traces] tbody tr").count() == 2

    # Stopping the agent from the dashboard stops it on the server.
    page.click("[data-tab=overview]")
    page.locator('tr[data-agent="lead-gen"] button:has-text("Stop")').click()
    page.locator('tr[data-agent="lead-gen"] td.stopped').wait_for()
    assert api.get(f"/agents/{agent['id']}").json()["status"] == "stopped"
    assert not refused, refused
    page.close()
    runtime.close()
    api.close()


def test_the_live_feed_outlives_an_expired_access_token(browser: Browser, tmp_path: Path) -> None:
    """The server closes /ws (4401) when the access token expires; the dashboard refreshes its
    session and reconnects, so usage reported afterwards still arrives live."""
    settings = make_settings(f"sqlite:///{tmp_path / 'cp.db'}", access_token_ttl_s=2, ws_recheck_s=0.2)
    with EmbeddedControlPanel(settings) as panel:
        api = admin(panel)
        agent = api.post("/agents", json={"name": "night-shift", "budget_usd": 10}).json()
        token = api.post(f"/agents/{agent['id']}/tokens", json={"name": "ci"}).json()["token"]
        page = browser.new_page()
        page.set_default_timeout(15_000)
        log_in(page, panel.url)
        page.locator("[data-live].live").wait_for()
        time.sleep(3)  # past the token's expiry: the server has closed the first socket
        page.locator("[data-live].live").wait_for()
        runtime = httpx.Client(base_url=f"{panel.url}/api/v1", headers={"authorization": f"Bearer {token}"})
        lease = runtime.post("/budget/handshake", json={"requested_usd": 5}).json()
        reports = [{"request_id": "late", "model": "gpt-4o-mini", "cost_usd": 1.25}]
        assert runtime.post(
            "/budget/report", json={"lease_id": lease["lease_id"], "reports": reports}
        ).is_success
        page.locator('tr[data-agent="night-shift"] [data-spent]:text-is("$1.25")').wait_for()
        page.close()
        runtime.close()
        api.close()
