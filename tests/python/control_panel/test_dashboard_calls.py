"""A call's own page (``/calls/<id>``) in Debian's Chromium against an embedded Control Panel
on a SQLite file: opened from the Calls list and by its URL, with the call's PII findings
(entity, direction, action; never a value), its exact cost, and who may see it.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, Route

from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import PASSWORD
from .test_dashboard import admin, agent_with_token, log_in, new_page, report

HMAC = "ab" * 16
FINDING = {"entity": "EMAIL", "severity": "medium", "start": 3, "end": 20, "value_hmac": HMAC}
CALL: dict[str, Any] = {
    "request_id": "req-with-pii",
    "model": "gpt-4o",
    "provider": "openai",
    "input_tokens": 1234,
    "cached_tokens": 200,
    "output_tokens": 56,
    "cost_usd": "0.012345",
    "latency_ms": 850,
    "breaker_state": "half_open",
    "pii_findings": 1,
    "pii": [FINDING, {**FINDING, "entity": "SSN", "direction": "request", "action": "redacted"}],
}


def trace_id(api: httpx.Client, request_id: str) -> int:
    return int(next(t["id"] for t in api.get("/traces").json() if t["request_id"] == request_id))


def test_a_call_opens_its_own_page_which_a_reload_keeps(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "lead-gen", 10)
    report(panel, token, [CALL, {"request_id": "plain", "model": "gpt-4o-mini", "cost_usd": "0.5"}])
    tid = trace_id(api, "req-with-pii")
    page, refused = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/calls']")
    page.locator(f"[data-traces] tr[data-trace='{tid}']").click()
    page.wait_for_url(f"**/calls/{tid}")
    for _ in range(2):  # as opened from the list, then after a reload (history routing)
        detail = page.locator("[data-trace-detail]")
        detail.wait_for()
        assert detail.locator("[data-agent]").inner_text() == "lead-gen"
        assert detail.locator("[data-model]").inner_text() == "gpt-4o (openai)"
        assert detail.locator("[data-cost]").inner_text() == "$0.012345"  # not $0.01
        assert detail.locator("[data-tokens]").inner_text() == "1,234 in (200 cached), 56 out"
        assert detail.locator("[data-latency]").inner_text() == "850 ms"
        assert detail.locator("[data-breaker]").inner_text() == "half_open"
        assert detail.locator("[data-status]").inner_text() == "ok"
        assert detail.locator("[data-request]").inner_text() == "req-with-pii"
        assert detail.locator("[data-occurred]").inner_text().startswith("20")
        rows = page.locator("[data-trace-pii] tbody tr")
        found = [
            (
                r.get_attribute("data-entity"),
                r.locator("[data-direction]").inner_text(),
                r.locator("[data-action]").inner_text(),
            )
            for r in rows.all()
        ]
        assert found == [("EMAIL", "in the reply", "\u2013"), ("SSN", "in the request", "redacted")]
        assert HMAC not in page.content()  # neither the value nor its keyed hash
        page.reload()
    page.click("[data-back]")
    page.wait_for_url("**/calls")
    page.locator("[data-traces] tr[data-trace]").nth(1).wait_for()

    # A call without findings says so.
    page.goto(f"{panel.url}/calls/{trace_id(api, 'plain')}")
    page.locator("[data-trace-pii] td.empty:has-text('No PII')").wait_for()
    assert page.locator("[data-cost]").inner_text() == "$0.50"
    assert refused == []
    page.close()
    api.close()


def test_loading_then_the_servers_reason_for_a_missing_or_malformed_call(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    page, _ = new_page(browser)
    log_in(page, panel.url)
    held: list[Route] = []
    page.route("**/api/v1/traces/999999", lambda route: held.append(route))
    page.goto(f"{panel.url}/calls/999999")
    page.locator("main .empty:text-is('Loading…')").wait_for()
    page.wait_for_function("() => true")  # let the held request's handler run
    assert len(held) == 1
    held[0].continue_()
    alert = page.locator("main [role=alert][data-error]")
    alert.wait_for()
    assert "999999" in alert.inner_text()
    page.goto(f"{panel.url}/calls/not-a-number")
    assert "not a call" in page.locator("main [role=alert]").inner_text()
    page.close()


def test_developers_open_their_own_calls_only_and_viewers_any(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    ids = {}
    for role in ("developer", "viewer"):
        body = {"email": f"{role}@example.com", "name": role, "role": role, "password": PASSWORD}
        ids[role] = api.post("/users", json=body).json()["user"]["id"]
    _, mine = agent_with_token(api, "mine", 10, owner_id=ids["developer"])
    _, theirs = agent_with_token(api, "theirs", 10)
    report(panel, mine, [{**CALL, "request_id": "mine-1"}])
    report(panel, theirs, [{**CALL, "request_id": "theirs-1"}])
    own, other = trace_id(api, "mine-1"), trace_id(api, "theirs-1")

    page, _ = new_page(browser)
    log_in(page, panel.url, "developer@example.com", PASSWORD)
    page.click("[data-tab='/calls']")
    page.locator(f"[data-traces] tr[data-trace='{own}']").wait_for()
    assert page.locator(f"[data-traces] tr[data-trace='{other}']").count() == 0
    page.goto(f"{panel.url}/calls/{own}")
    page.locator("[data-trace-detail] [data-agent]:text-is('mine')").wait_for()
    page.goto(f"{panel.url}/calls/{other}")
    assert "another developer" in page.locator("main [role=alert]").inner_text()
    assert page.locator("[data-trace-detail]").count() == 0
    page.close()

    page, _ = new_page(browser)
    log_in(page, panel.url, "viewer@example.com", PASSWORD)
    page.goto(f"{panel.url}/calls/{other}")
    page.locator("[data-trace-detail] [data-agent]:text-is('theirs')").wait_for()
    assert page.locator("main button, main form").count() == 0  # nothing to change here
    page.close()
    api.close()


def test_a_calls_page_fits_a_390px_screen(browser: Browser, panel: EmbeddedControlPanel) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "an-agent-with-a-rather-long-name", 10)
    report(panel, token, [{**CALL, "request_id": "r-" + "x" * 90}])
    page, _ = new_page(browser, width=390)
    log_in(page, panel.url)
    page.goto(f"{panel.url}/calls/{trace_id(api, 'r-' + 'x' * 90)}")
    page.locator("[data-trace-pii] tbody tr").first.wait_for()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.evaluate("() => window.innerWidth"), width
    page.close()
    api.close()


def test_a_collapsed_refusal_shows_why_how_many_calls_and_what_it_saved(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    _, token = agent_with_token(api, "breaker-hit", 10)
    refused = {
        "request_id": "breaker-open-1",
        "model": "gpt-4o",
        "provider": "openai",
        "cost_usd": "0",
        "status": "breaker_open",
        "reason": "circuit breaker 'openai' is open; retry in 30 s",
        "count": 1234,
        "saved_usd": "0.61",
    }
    report(panel, token, [refused])
    tid = trace_id(api, "breaker-open-1")
    page, errors = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/calls']")
    row = page.locator(f"[data-traces] tr[data-trace='{tid}']")
    assert row.locator("[data-count]").inner_text().strip() == "\u00d71,234"
    row.click()
    detail = page.locator("[data-trace-detail]")
    detail.wait_for()
    assert detail.locator("[data-status]").inner_text() == "breaker_open"
    assert detail.locator("[data-reason]").inner_text() == refused["reason"]
    assert detail.locator("[data-count]").inner_text() == "1,234 identical calls in one record"
    assert detail.locator("[data-saved]").inner_text().startswith("$0.61")
    assert detail.locator("[data-cost]").inner_text() == "$0.00"
    assert errors == []
    page.close()
    api.close()
