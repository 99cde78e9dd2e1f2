"""The dashboard's teams & pools page and the alert channels in Debian's Chromium against an
embedded Control Panel on a SQLite file: what admins change reaches the API, developers see
their own pools only, viewers change nothing, and each page fits a 390 px screen.
"""

from __future__ import annotations

from playwright.sync_api import Browser

from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import PASSWORD
from .test_dashboard import admin, confirm, log_in, new_page


def test_an_admin_creates_a_team_adds_a_member_and_sets_its_pool(
    browser: Browser,
    panel: EmbeddedControlPanel,
) -> None:
    api = admin(panel)
    body = {"email": "dev@example.com", "name": "dev", "role": "developer", "password": PASSWORD}
    dev = api.post("/users", json=body).json()["user"]["id"]
    page, refused = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/admin/teams']")
    page.locator("[data-pools] td.empty").wait_for()  # no pools yet
    page.fill("form[data-team-form] input[name=team-name]", "growth")
    page.click("form[data-team-form] button[type=submit]")
    row = page.locator('[data-teams] tr[data-team="growth"]')
    row.locator("select[name=member]").select_option(str(dev))
    row.locator("[data-add-member]").click()
    row.locator('[data-member="dev@example.com"]').wait_for()
    row.locator("input[name=team-budget]").fill("250")
    row.locator("[data-set-team-budget]").click()
    row.locator("[data-team-pool]:text-is('$250.00')").wait_for()
    pool = page.locator('[data-pools] tr[data-pool="team growth"]')
    pool.locator("[data-pool-limit]:text-is('$250.00')").wait_for()

    team = next(t for t in api.get("/teams").json() if t["name"] == "growth")
    assert team["member_ids"] == [dev]
    pools = api.get("/budgets/pools").json()
    assert [(p["team_id"], p["limit_usd"]) for p in pools] == [(team["id"], 250.0)]

    # A second team of the same name: the server's reason is shown.
    page.fill("form[data-team-form] input[name=team-name]", "growth")
    page.click("form[data-team-form] button[type=submit]")
    assert "growth" in page.locator("[data-error]").inner_text()

    row.locator("[data-remove-member]").click()
    confirm(page, ok=True)
    row.locator('[data-member="dev@example.com"]').wait_for(state="detached")
    assert next(t for t in api.get("/teams").json() if t["name"] == "growth")["member_ids"] == []
    assert refused == []
    page.close()
    api.close()


def test_developers_see_their_own_pools_and_viewers_every_pool_read_only(
    browser: Browser,
    panel: EmbeddedControlPanel,
) -> None:
    api = admin(panel)
    ids = {}
    for role in ("developer", "viewer"):
        body = {"email": f"{role}@example.com", "name": role, "role": role, "password": PASSWORD}
        ids[role] = api.post("/users", json=body).json()["user"]["id"]
    other = api.post(
        "/users", json={"email": "other@example.com", "name": "o", "role": "developer", "password": PASSWORD}
    )
    assert api.put(f"/users/{ids['developer']}/budget", json={"limit_usd": 40}).status_code == 200
    assert api.put(f"/users/{other.json()['user']['id']}/budget", json={"limit_usd": 70}).status_code == 200

    page, _ = new_page(browser)
    log_in(page, panel.url, "developer@example.com", PASSWORD)
    page.click("[data-tab='/admin/teams']")
    page.locator("[data-pools] [data-pool-limit]:text-is('$40.00')").wait_for()
    assert page.locator("[data-pools] tbody tr").count() == 1  # not the other developer's
    assert (
        page.locator("form[data-team-form], form[data-user-pool-form], [data-set-team-budget]").count() == 0
    )
    assert page.locator("[role=alert]").count() == 0
    page.close()

    page, _ = new_page(browser)
    log_in(page, panel.url, "viewer@example.com", PASSWORD)
    page.click("[data-tab='/admin/teams']")
    page.locator("[data-pools] [data-pool-limit]:text-is('$70.00')").wait_for()
    assert page.locator("[data-pools] tbody tr").count() == 2
    assert page.locator("form, [data-remove-member]").count() == 0
    page.click("[data-tab='/alerts']")
    page.locator("main h2:has-text('Alerts')").wait_for()
    assert page.locator("[data-channels], [data-channel-form]").count() == 0  # channels are admins'
    page.close()
    api.close()


def test_an_admin_adds_and_deletes_an_alert_channel(
    browser: Browser,
    panel: EmbeddedControlPanel,
) -> None:
    api = admin(panel)
    page, _ = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/alerts']")
    page.locator("[data-channels] td.empty").wait_for()
    form = page.locator("form[data-channel-form]")
    form.locator("select[name=kind]").select_option("webhook")
    form.locator("input[name=target]").fill("ftp://not-a-webhook")
    form.locator("button[type=submit]").click()
    assert "http" in page.locator("[data-channel-error]").inner_text()  # the server's reason
    hook = "https://hooks.example.com/budget"
    form.locator("input[name=target]").fill(hook)
    form.locator("button[type=submit]").click()
    row = page.locator(f'[data-channels] tr[data-channel="{hook}"]')
    row.wait_for()
    assert [(c["kind"], c["target"]) for c in api.get("/alerts/channels").json()] == [("webhook", hook)]

    row.locator("[data-delete-channel]").click()
    confirm(page, ok=False)  # cancelled: still there
    assert api.get("/alerts/channels").json() != []
    row.locator("[data-delete-channel]").click()
    confirm(page, ok=True)
    row.wait_for(state="detached")
    assert api.get("/alerts/channels").json() == []
    page.close()
    api.close()


def test_the_admin_pages_fit_a_390px_screen(
    browser: Browser,
    panel: EmbeddedControlPanel,
) -> None:
    api = admin(panel)
    team = api.post("/teams", json={"name": "a-team-with-a-rather-long-name"}).json()
    assert api.put(f"/teams/{team['id']}/budget", json={"limit_usd": 12345}).status_code == 200
    api.post("/alerts/channels", json={"kind": "webhook", "target": "https://hooks.example.com/" + "x" * 80})
    page, _ = new_page(browser, width=390)
    log_in(page, panel.url)
    for path in ("/admin/teams", "/alerts"):
        page.goto(f"{panel.url}{path}")
        page.locator("main h2").first.wait_for()
        page.locator("main table").last.wait_for()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        inner = page.evaluate("() => window.innerWidth")
        assert width <= inner, (path, width, inner)
    page.close()
    api.close()
