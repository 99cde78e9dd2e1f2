"""The Vue dashboard in a real headless Chromium (Debian's, driven by Playwright; no browser
download) against an embedded Control Panel on a SQLite file, fed by a real runtime
(``ic.AgentRuntime`` with the openai SDK against FakeProvider) and by reports sent exactly as the
lease client and the supervisor send them: the seven panels, the notifications and their
buttons, the event history across pages, the admin pages, the role views, 390 px, the API docs.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from playwright.sync_api import Browser, Page

import iron_cage as ic
from iron_cage.control_panel.embedded import EmbeddedControlPanel
from iron_cage.testing import FakeProvider

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, make_settings

PROVIDER_KEY = "sk-fake-provider-key-0123456789"
EMAIL_IN_REPLY = "Write to jane.doe@example.com for the leads."


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(api_key=PROVIDER_KEY) as f:
        yield f


def client_of(
    cp: EmbeddedControlPanel, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> httpx.Client:
    c = httpx.Client(base_url=f"{cp.url}/api/v1", timeout=30)
    r = c.post("/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    c.headers["authorization"] = f"Bearer {r.json()['access_token']}"
    return c


def admin(cp: EmbeddedControlPanel) -> httpx.Client:
    return client_of(cp)


def agent_with_token(api: httpx.Client, name: str, budget_usd: float | str, **extra: Any) -> tuple[int, str]:
    r = api.post("/agents", json={"name": name, "budget_usd": budget_usd, **extra})
    assert r.status_code == 201, r.text
    agent_id = int(r.json()["id"])
    token = api.post(f"/agents/{agent_id}/tokens", json={"name": "ci"}).json()["token"]
    return agent_id, str(token)


def as_runtime(cp: EmbeddedControlPanel, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{cp.url}/api/v1", headers={"authorization": f"Bearer {token}"}, timeout=30)


def report(cp: EmbeddedControlPanel, token: str, calls: list[dict[str, Any]]) -> None:
    """Usage reports exactly as the lease client sends them."""
    with as_runtime(cp, token) as rt:
        need = max(1.0, sum(float(c["cost_usd"]) for c in calls))
        lease = rt.post("/budget/handshake", json={"requested_usd": need, "runtime": "test"})
        assert lease.status_code == 201, lease.text
        r = rt.post("/budget/report", json={"lease_id": lease.json()["lease_id"], "reports": calls})
        assert r.status_code == 200, r.text


def new_page(browser: Browser, width: int = 1280) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(15_000)
    refused: list[str] = []  # the Content-Security-Policy must not bite the dashboard or its charts
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return page, refused


def log_in(page: Page, url: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.locator("[data-live].live").wait_for()  # logged in and the WebSocket is open


def confirm(page: Page, ok: bool) -> None:
    dialog = page.locator("dialog[data-confirm]")
    dialog.wait_for()
    dialog.locator("[data-ok]" if ok else "[data-cancel]").click()


def test_a_wrong_password_is_refused_with_the_servers_reason(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    page, _ = new_page(browser)
    page.goto(panel.url)
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    alert = page.locator("form.login [role=alert]")
    alert.wait_for()
    assert "password" in alert.inner_text().lower()
    assert page.locator("[data-panel]").count() == 0
    page.close()


def test_the_panels_follow_a_real_runtime_and_the_notifications_act(
    browser: Browser, panel: EmbeddedControlPanel, fake: FakeProvider
) -> None:
    api = admin(panel)
    agent_id, token = agent_with_token(api, "lead-gen", "0.0001")
    page, refused = new_page(browser)
    log_in(page, panel.url)
    row = page.locator('[data-panel=live] tr[data-agent="lead-gen"]')
    assert row.locator("[data-status]").inner_text() == "🟢 Active"
    cost = page.locator('[data-panel=cost] tr[data-agent="lead-gen"]')
    assert cost.locator("[data-limit]").inner_text() == "$0.0001"  # significant digits, not $0.00

    # The supervisor reports its process and the agent's progress (iron-cage start does this).
    with as_runtime(panel, token) as sup:
        sup.post("/runtime/process", json={"local_id": "lg-7a3f9c2d", "state": "running", "pid": 4242})
        progress = {
            "unit": "leads",
            "done": 23,
            "total": 100,
            "successes": 23,
            "elapsed_s": 390,
            "spent_usd": "0.00002",
        }
        assert sup.post("/runtime/metrics", json=progress).status_code == 204
    row.locator("[data-status]:text-is('🟢 Running')").wait_for()
    row.locator("[data-progress]:has-text('23 / 100 leads (23%)')").wait_for()
    assert row.locator("[data-success]").inner_text() == "100% (23/23)"

    # A real runtime: the openai SDK through iron-cage against FakeProvider; a reply with an
    # e-mail address is redacted and reported, and the spend crosses the budget thresholds.
    fake.set_cached_tokens(4)
    fake.script_reply(EMAIL_IN_REPLY)
    with ic.AgentRuntime(budget=1, control_panel=panel.url, ic_token=token) as rt:
        client = rt.instrument(openai.OpenAI(base_url=fake.base_url, api_key=PROVIDER_KEY, max_retries=0))
        for i in range(4):  # about $0.00007: past 50% of the budget
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"lead {i}"}], max_tokens=30
            )
        assert rt.lease is not None and rt.lease.flush()
        spent = rt.spent_usd

    # Notifications: PII with a sanitized preview (never the value), a budget warning.
    pii = page.locator("[data-notice=pii]").first
    pii.wait_for()
    assert "[EMAIL]" in pii.inner_text() and "jane.doe" not in pii.inner_text()
    budget = page.locator("[data-notice=budget]").last
    budget.wait_for()
    assert "Approve" in budget.locator("[data-approve]").inner_text()

    # Cost: spent of budget, % used in plain sight, per unit, projection.
    cost.locator("[data-spent]").filter(has_text=re.compile(r"^\$0\.0000[1-9]\d?$")).wait_for()
    used = cost.locator("[data-used]").inner_text()
    assert re.match(r"\d+\.\d% used", used), used
    assert cost.locator("[data-unit-cost]").inner_text().endswith("avg/lead")
    projection = cost.locator("[data-projection]").inner_text()
    assert "budget" in projection or "limit" in projection, projection
    # Protection: the e-mail caught in replies, by entity.
    page.locator("[data-pii-entities] tr[data-entity=EMAIL] [data-reply]").filter(has_not_text="0").wait_for()
    # Performance: latency percentiles and the cache hit rate from the reported calls.
    perf = page.locator('[data-panel=performance] tr[data-agent="lead-gen"]')
    perf.locator("[data-latency]").filter(has_text="/").wait_for()
    assert perf.locator("[data-cache]").inner_text().endswith("%")
    assert perf.locator("[data-uptime]").inner_text() == "6m 30s"

    # The event log: severity colours, [HH:MM:SS], a click shows the details.
    feed = page.locator("[data-feed]")
    warn = feed.locator("li[data-severity=WARN]:has-text('PII finding')").first
    warn.wait_for()
    assert re.match(r"^\[\d\d:\d\d:\d\d\] WARN ", warn.inner_text())
    usage = feed.locator("li[data-severity=INFO]:has-text('call(s)')").first
    usage.click()
    assert '"event": "usage"' in usage.locator("[data-details]").inner_text()

    # The budget warning's button raises the allocation by the recommended increase.
    before = api.get(f"/agents/{agent_id}/budget").json()["limit_usd"]
    budget.locator("[data-approve]").click()
    budget.locator("[data-result]:has-text('Budget raised')").wait_for()
    assert api.get(f"/agents/{agent_id}/budget").json()["limit_usd"] > before
    # Manual close.
    n = page.locator("[data-notice]").count()
    page.locator("[data-notice] [data-close]").first.click()
    assert page.locator("[data-notice]").count() == n - 1

    # Stop asks first; Cancel keeps the agent running, Stop stops it and the log says who.
    row.locator("button:has-text('Stop')").click()
    confirm(page, ok=False)
    assert api.get(f"/agents/{agent_id}").json()["status"] == "active"
    row.locator("button:has-text('Stop')").click()
    confirm(page, ok=True)
    row.locator("[data-status]:text-is('⏹ Stopped')").wait_for()
    feed.locator("li:has-text('stopped by an admin')").wait_for()
    assert api.get(f"/agents/{agent_id}").json()["status"] == "stopped"
    assert spent > 0
    assert not refused, refused
    page.close()
    api.close()


def test_the_projection_mid_run_is_within_5_percent_of_the_demos_final_spend(browser: Browser) -> None:
    """The supervised demo (LangChain agent, 100 leads, FakeProvider) run to completion under its
    budget: the cost panel's projection read between leads 15 and 85 against what the run spent."""
    from iron_cage.demo import supervised

    opened = threading.Event()
    panels: list[EmbeddedControlPanel] = []
    lines: list[str] = []

    def ready(cp: EmbeddedControlPanel) -> None:
        panels.append(cp)
        opened.set()

    run = threading.Thread(
        target=supervised.run,
        kwargs={"triggers": "budget=100", "rate": 4.0, "echo": lines.append, "ready": ready},
        daemon=True,
    )
    run.start()
    assert opened.wait(60), lines
    cp = panels[0]
    page, _ = new_page(browser)
    log_in(page, cp.url, "admin@localhost", cp.admin_password or "")
    LIVE_ROW = '[data-panel=live] tr[data-agent="lead-gen-agent"]'  # noqa: N806
    COST_ROW = '[data-panel=cost] tr[data-agent="lead-gen-agent"]'  # noqa: N806
    row, cost = page.locator(LIVE_ROW), page.locator(COST_ROW)
    seen: tuple[int, float] | None = None
    deadline = time.monotonic() + 120
    while seen is None and time.monotonic() < deadline:
        # one read: the progress and the projection of the same metrics report
        progress, projection = page.evaluate(
            "(sels) => sels.map((s) => document.querySelector(s)?.innerText ?? '')",
            [f"{LIVE_ROW} [data-progress]", f"{COST_ROW} [data-projection]"],
        )
        done = re.match(r"(\d+) / 100 leads", progress)
        if done and 15 <= int(done.group(1)) <= 85 and projection.startswith("$"):
            seen = int(done.group(1)), float(projection[1:].split()[0].replace(",", ""))
        time.sleep(0.2)
    assert seen is not None, (row.inner_text(), cost.inner_text())
    page.close()
    run.join(180)
    assert not run.is_alive()
    summary = next(line for line in lines if line.startswith("control panel:"))
    final = float(re.search(r"\$([\d.,]+) spent", summary).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert "100 calls" in summary, summary
    at, projected = seen
    print(f"projection at lead {at}: ${projected:.2f}; final spend ${final:.2f}")
    assert abs(projected - final) <= 0.05 * final, (at, projected, final)


def test_a_spent_budget_shows_budget_exhausted_and_the_breaker_trip_pops_up(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "scraper", "0.01")
    page, _ = new_page(browser)
    log_in(page, panel.url)
    # The lease client reports a call made while the breaker of the model was open.
    report(
        panel,
        token,
        [
            {
                "request_id": "b1",
                "model": "gpt-4o",
                "provider": "openai",
                "cost_usd": "0.01",
                "breaker_state": "open",
            }
        ],
    )
    breaker = page.locator("[data-notice=breaker]")
    breaker.wait_for()
    assert "Service: openai / gpt-4o" in breaker.inner_text()
    row = page.locator('[data-panel=live] tr[data-agent="scraper"]')
    row.locator("[data-status]:text-is('🟠 Budget exhausted')").wait_for()
    page.locator(
        "[data-feed] li[data-severity=ERROR]:has-text('circuit breaker for gpt-4o is open')"
    ).wait_for()
    breaker.locator("[data-close]").click()
    assert page.locator("[data-notice=breaker]").count() == 0
    page.close()
    api.close()


def test_a_breaker_tripped_by_a_real_runtime_pops_up_with_failures_and_what_it_saved(
    browser: Browser, panel: EmbeddedControlPanel, fake: FakeProvider, tmp_path: Path
) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "flaky", 1)
    page, _ = new_page(browser)
    log_in(page, panel.url)
    with ic.AgentRuntime(
        budget=1,
        control_panel=panel.url,
        ic_token=token,
        outbox_path=tmp_path / "outbox.db",
        failure_threshold=3,
        cooldown_s=600,
    ) as rt:
        client = rt.instrument(openai.OpenAI(base_url=fake.base_url, api_key=PROVIDER_KEY, max_retries=0))

        def ask() -> None:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "lead"}], max_tokens=30
            )

        fake.fail_next(503, times=3)
        for _ in range(3):
            with pytest.raises(openai.InternalServerError):
                ask()
        for _ in range(7):  # refused locally while the breaker is open
            with pytest.raises(ic.CircuitOpenError):
                ask()
        assert rt.lease is not None and rt.lease.flush()
    notice = page.locator("[data-notice=breaker]")
    notice.wait_for()
    page.wait_for_function(
        "() => document.querySelector('[data-notice=breaker]')?.innerText.includes('Calls saved: 7')"
    )
    text = notice.inner_text()
    assert "Service: openai / gpt-4o-mini" in text, text
    assert "Failures: 3" in text, text
    assert re.search(r"Saved: \$0\.\d+", text), text
    page.close()
    api.close()


def test_events_outlive_page_switches_and_a_finished_run_is_there_at_login(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "night-run", 10)
    # The run finished before anyone opened the dashboard.
    report(
        panel,
        token,
        [
            {"request_id": "n1", "model": "gpt-4o-mini", "cost_usd": "0.25"},
            {"request_id": "n2", "model": "gpt-4o-mini", "cost_usd": "0.25", "status": "error"},
        ],
    )
    page, _ = new_page(browser)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    log_in(page, panel.url)
    feed = page.locator("[data-feed]")
    feed.locator("li:has-text('night-run: gpt-4o-mini call ok')").wait_for()
    feed.locator("li[data-severity=ERROR]:has-text('call error')").wait_for()

    report(panel, token, [{"request_id": "n3", "model": "gpt-4o-mini", "cost_usd": "0.5"}])
    feed.locator("li:has-text('1 call(s), $0.50')").wait_for()
    lines = feed.locator("li").count()

    # Calls page (agent names, not ids) and back: the same socket, the same events.
    page.click("[data-tab='/calls']")
    page.wait_for_url("**/calls")
    page.locator("[data-traces] tbody tr[data-trace]:has-text('night-run')").first.wait_for()
    assert page.locator("[data-live].live").count() == 1
    page.click("[data-tab='/']")
    page.locator("[data-feed] li:has-text('1 call(s), $0.50')").wait_for()
    assert page.locator("[data-feed] li").count() == lines
    assert len(sockets) == 1, sockets

    # A reload of /calls is the calls page (history routing), not a JSON 404.
    page.goto(f"{panel.url}/calls")
    page.locator("[data-traces] tbody tr[data-trace]").first.wait_for()
    page.locator("[data-traces] tr[data-trace]").first.click()
    page.locator("[data-trace-detail]:has-text('Request')").wait_for()
    page.close()
    api.close()


def test_secrets_are_masked_revealed_added_edited_and_deleted(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    api.post("/secrets", json={"name": "OPENAI_API_KEY", "value": "sk-proj-abcdefghijklmnopxyz"})
    page, _ = new_page(browser)
    log_in(page, panel.url)
    secrets = page.locator("[data-panel=secrets]")
    row = secrets.locator('tr[data-secret="OPENAI_API_KEY"]')
    value = row.locator("[data-value]")
    value.wait_for()
    assert "abcdefghijklmnop" not in value.inner_text()  # masked by default
    row.locator("[data-reveal]").click()
    row.locator("[data-value]:text-is('sk-proj-abcdefghijklmnopxyz')").wait_for()

    page.click("[data-add-secret]")
    form = page.locator("dialog[data-secret-form]")
    form.locator("input[name=name]").fill("CLEARBIT_KEY")
    form.locator("select[name=environment]").select_option("development")
    form.locator("input[name=value]").fill("pk_test_4567890123")
    form.locator("button[type=submit]").click()
    added = secrets.locator('tr[data-secret="CLEARBIT_KEY"]')
    added.wait_for()
    assert "development" in added.inner_text()

    added.locator("[data-edit]").click()
    value_input = form.locator("input[name=value]")
    page.wait_for_function("() => document.querySelector('dialog[data-secret-form] input[name=value]').value")
    assert value_input.input_value() == "pk_test_4567890123"  # the current value, pre-filled
    value_input.fill("pk_test_new_value_99")
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => !document.querySelector('dialog[data-secret-form]').open")
    listed = {s["name"]: s for s in api.get("/secrets").json()}
    assert listed["CLEARBIT_KEY"]["version"] == 2

    added.locator("[data-delete]").click()
    confirm(page, ok=True)
    added.wait_for(state="detached")
    assert "CLEARBIT_KEY" not in {s["name"] for s in api.get("/secrets").json()}
    page.close()
    api.close()


def test_admin_pages_users_tokens_keys_and_budget_requests(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    agent_id, _ = agent_with_token(api, "billing-bot", 5)
    api.post("/providers/keys", json={"provider": "openai", "key": "sk-live-0123456789abcdefghij"})
    page, _ = new_page(browser)
    log_in(page, panel.url)

    page.click("[data-tab='/admin/users']")
    form = page.locator("form[data-user-form]")
    form.locator("input[name=email]").fill("dev@example.com")
    form.locator("input[name=name]").fill("Dev")
    form.locator("button[type=submit]").click()
    page.locator("[data-shown-once]:has-text('Password of dev@example.com')").wait_for()
    row = page.locator('tr[data-user="dev@example.com"]')
    row.locator("[data-suspend]").click()
    confirm(page, ok=True)
    row.locator("[data-user-status]:text-is('suspended')").wait_for()

    page.click("[data-tab='/admin/tokens']")
    tokens = page.locator("form[data-token-form]")
    tokens.locator("select[name=agent]").select_option(str(agent_id))
    tokens.locator("input[name=token-name]").fill("prod")
    tokens.locator("button[type=submit]").click()
    once = page.locator("[data-shown-once] [data-once-value]")
    once.wait_for()
    token = once.inner_text()
    assert token.startswith("ic_")
    with as_runtime(panel, token) as rt:
        assert rt.get(f"/agents/{agent_id}").status_code == 200
    newest = page.locator("[data-tokens] tbody tr").first
    assert "billing-bot" in newest.inner_text() and token not in page.locator("[data-tokens]").inner_text()
    newest.locator("[data-revoke]").click()
    confirm(page, ok=True)
    page.locator("[data-tokens] tbody tr.revoked").first.wait_for()
    with as_runtime(panel, token) as rt:
        assert rt.get(f"/agents/{agent_id}").status_code == 401

    page.click("[data-tab='/admin/keys']")
    masked = page.locator("[data-keys] tr[data-key=openai] [data-masked]").inner_text()
    assert "0123456789abcdef" not in masked

    r = api.post("/budget/requests", json={"agent_id": agent_id, "amount_usd": 2.5, "reason": "more leads"})
    page.click("[data-tab='/admin/requests']")
    req = page.locator(f'tr[data-request="{r.json()["id"]}"]')
    req.locator("[data-approve]").click()
    req.locator("[data-request-status]:text-is('approved')").wait_for()
    assert api.get(f"/agents/{agent_id}/budget").json()["limit_usd"] == 7.5
    page.close()
    api.close()


def test_allocations_and_limits_are_set_from_the_dashboard(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    agent_id, token = agent_with_token(api, "capped", 5)
    page, _ = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/admin/limits']")
    row = page.locator('[data-allocations] tr[data-agent="capped"]')
    row.locator("input[name=allocation]").fill("12.5")
    row.locator("button[type=submit]").click()
    row.locator("[data-allocation]:text-is('$12.50')").wait_for()
    assert api.get(f"/agents/{agent_id}/budget").json()["limit_usd"] == 12.5

    form = page.locator("form[data-limit-form]")
    form.locator("select[name=kind]").select_option("max_cost_per_request_usd")
    form.locator("input[name=value]").fill("0.5")
    form.locator("select[name=agent]").select_option(str(agent_id))
    form.locator("button[type=submit]").click()
    limit = page.locator("[data-limits] tr[data-limit=max_cost_per_request_usd]")
    limit.locator("[data-limit-value]:text-is('0.5')").wait_for()
    limit.locator("[data-edit-limit]").click()
    limit.locator("input[name=limit-value]").fill("0.25")
    limit.locator("button[type=submit]").click()  # PUT /limits/{id}
    limit.locator("[data-limit-value]:text-is('0.25')").wait_for()
    # The runtime gets it with its lease.
    with as_runtime(panel, token) as rt:
        lease = rt.post("/budget/handshake", json={"requested_usd": 1}).json()
        assert lease["limits"]["max_cost_per_request_usd"] == 0.25
    limit.locator("[data-delete-limit]").click()
    confirm(page, ok=True)
    limit.wait_for(state="detached")
    assert api.get("/limits").json() == []
    page.close()
    api.close()


def test_roles_developers_see_their_agents_viewers_change_nothing(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    for role in ("developer", "viewer"):
        body = {"email": f"{role}@example.com", "name": role, "role": role, "password": PASSWORD}
        assert api.post("/users", json=body).status_code == 201
    dev_id = next(u["id"] for u in api.get("/users").json() if u["role"] == "developer")
    agent_with_token(api, "theirs", 5, owner_id=dev_id)
    agent_with_token(api, "admins-own", 5)
    api.post("/secrets", json={"name": "SHARED", "value": "super-secret-value-1"})

    page, _ = new_page(browser)
    log_in(page, panel.url, "developer@example.com", PASSWORD)
    page.locator('[data-panel=live] tr[data-agent="theirs"]').wait_for()
    assert page.locator('[data-panel=live] tr[data-agent="admins-own"]').count() == 0
    assert page.locator("[data-tab='/admin/users']").count() == 0
    page.close()

    page, _ = new_page(browser)
    log_in(page, panel.url, "viewer@example.com", PASSWORD)
    page.locator('[data-panel=live] tr[data-agent="admins-own"]').wait_for()
    assert page.locator("[data-panel=live] button").count() == 0  # no Stop
    page.locator('[data-panel=secrets] tr[data-secret="SHARED"]').wait_for()
    assert page.locator("[data-reveal], [data-add-secret]").count() == 0
    assert "super-secret" not in page.locator("[data-panel=secrets]").inner_text()
    assert page.locator("[data-tab='/admin/tokens']").count() == 0
    page.close()
    api.close()


def test_a_super_user_sees_their_budgets_and_usage_only(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    body = {"email": "su@example.com", "name": "su", "role": "super_user", "password": PASSWORD}
    su = api.post("/users", json=body).json()["user"]["id"]
    assert api.put(f"/users/{su}/budget", json={"limit_usd": 5}).status_code == 200
    page, _ = new_page(browser)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(panel.url)
    page.fill("input[name=email]", "su@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.locator("[data-my-pools] [data-pool-limit]:text-is('$5.00')").wait_for()
    assert page.locator("[data-panel]").count() == 0  # no agents' panels: not theirs to see
    assert page.locator("[data-tab='/calls'], [data-tab='/admin/keys']").count() == 0
    page.click("[data-tab='/usage']")
    page.locator("main h2:has-text('Usage')").wait_for()
    assert page.locator("[role=alert]").count() == 0
    assert sockets == []  # super users get no live events: the dashboard does not dial /ws
    page.close()
    api.close()


def test_every_page_fits_a_390px_screen(browser: Browser, panel: EmbeddedControlPanel) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "a-rather-long-agent-name-for-phones", 2000)
    report(panel, token, [{"request_id": "p1", "model": "gpt-4o-mini", "cost_usd": "1234.5"}])
    page, _ = new_page(browser, width=390)
    log_in(page, panel.url)
    page.locator("[data-panel=cost] [data-spent]:text-is('$1,234.50')").wait_for()
    for path in ("/", "/calls", "/usage", "/admin/users", "/admin/tokens", "/admin/limits", "/account"):
        page.goto(f"{panel.url}{path}")
        page.locator("main h2").first.wait_for()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    page.close()
    api.close()


def test_usage_charts_draw_from_the_reports(browser: Browser, panel: EmbeddedControlPanel) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "charted", 50)
    report(
        panel,
        token,
        [
            {"request_id": "c1", "model": "gpt-4o-mini", "cost_usd": "1.5"},
            {"request_id": "c2", "model": "gpt-4o", "cost_usd": "3"},
        ],
    )
    page, refused = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/usage']")
    for chart in ("timeseries", "breakdown"):
        page.locator(f"[data-chart={chart}] canvas").wait_for()
    rows = page.locator("[data-breakdown] tbody tr")
    assert rows.first.inner_text().startswith("gpt-4o\t") and "$3.00" in rows.first.inner_text()
    page.select_option("select[name=by]", "agent")
    page.locator("[data-breakdown] tbody tr:has-text('charted')").wait_for()
    assert not refused, refused
    page.close()
    api.close()


def test_the_api_docs_work_offline(browser: Browser, panel: EmbeddedControlPanel) -> None:
    page, refused = new_page(browser)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(panel.url) else None)
    page.goto(f"{panel.url}/api/v1/docs")
    page.locator(".opblock-summary-path:has-text('/api/v1/agents/{agent_id}/metrics')").first.wait_for()
    assert not outside and not refused, (outside, refused)
    page.close()


def test_the_live_feed_outlives_an_expired_access_token(browser: Browser, tmp_path: Path) -> None:
    """The server closes /ws (4401) when the access token expires; the dashboard refreshes its
    session and reconnects, so usage reported afterwards still arrives live."""
    settings = make_settings(f"sqlite:///{tmp_path / 'cp.db'}", access_token_ttl_s=2, ws_recheck_s=0.2)
    with EmbeddedControlPanel(settings) as panel:
        api = admin(panel)
        _, token = agent_with_token(api, "night-shift", 10)
        page, _ = new_page(browser)
        log_in(page, panel.url)
        time.sleep(3)  # past the token's expiry: the server has closed the first socket
        page.locator("[data-live].live").wait_for()
        report(panel, token, [{"request_id": "late", "model": "gpt-4o-mini", "cost_usd": 1.25}])
        page.locator(
            '[data-panel=cost] tr[data-agent="night-shift"] [data-spent]:text-is("$1.25")'
        ).wait_for()
        page.close()
        api.close()


def test_one_changes_ones_own_password_and_logs_in_again_with_it(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    email, new_password = "dev-pw@example.com", "a-new-long-password-42"
    body = {"email": email, "name": "Dev", "role": "developer", "password": PASSWORD}
    assert api.post("/users", json=body).status_code == 201
    api.close()
    page, _ = new_page(browser)
    log_in(page, panel.url, email, PASSWORD)
    page.click("[data-account]")
    page.wait_for_url(re.compile(r"/account$"))
    form = page.locator("[data-password-form]")

    def submit(current: str, new: str, again: str) -> None:
        form.locator("input[name=current]").fill(current)
        form.locator("input[name=new]").fill(new)
        form.locator("input[name=again]").fill(again)
        form.locator("button[type=submit]").click()

    submit(PASSWORD, new_password, new_password + "x")
    assert "differ" in page.locator("[data-password-error]").inner_text()
    submit("not-my-password", new_password, new_password)
    page.locator("[data-password-error]", has_text="current password is wrong").wait_for()
    submit(PASSWORD, "short", "short")
    page.locator("[data-password-error]", has_text="at least").wait_for()
    submit(PASSWORD, new_password, new_password)
    page.locator("[data-password-changed]").wait_for()
    page.click("[data-login-again]")
    page.locator("input[name=email]").wait_for()
    # The old password no longer opens the account; the new one does.
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.locator("form.login [role=alert]").wait_for()
    log_in(page, panel.url, email, new_password)
    assert page.locator("[data-account]").inner_text() == email
    page.close()
