"""The Policies page (allowed models and providers, PII actions per developer and per agent)
in Debian's Chromium against an embedded Control Panel on a SQLite file: what admins save
reaches the API and shows as applied, developers read their own agents' only, viewers read
every agent's, and the page fits a 390 px screen.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, Route

from iron_cage.control_panel.embedded import EmbeddedControlPanel

from .conftest import ADMIN_EMAIL, PASSWORD
from .test_dashboard import admin, agent_with_token, log_in, new_page


def people(api: httpx.Client) -> dict[str, int]:
    ids = {}
    for role in ("developer", "viewer"):
        body = {"email": f"{role}@example.com", "name": role, "role": role, "password": PASSWORD}
        ids[role] = int(api.post("/users", json=body).json()["user"]["id"])
    return ids


def add_pii(page: Page, direction: str, entity: str, action: str) -> None:
    block = page.locator(f"[data-pii={direction}]")
    block.locator("input[name=entity]").fill(entity)
    block.locator("select[name=new-action]").select_option(action)
    block.locator("[data-add-pii]").click()
    block.locator(f'tr[data-pii-row="{entity}"]').wait_for()


def test_an_admin_sets_a_developers_and_an_agents_policies(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    dev = people(api)["developer"]
    agent, _ = agent_with_token(api, "lead-gen", 10, owner_id=dev)
    page, refused = new_page(browser)
    log_in(page, panel.url)
    page.click("[data-tab='/admin/policies']")
    page.wait_for_url(f"**/admin/policies?agent={agent}")  # the first agent, in the URL
    page.locator("[data-models] h3:has-text('lead-gen')").wait_for()
    page.locator("select[name=subject]").select_option(f"user:{dev}")
    page.wait_for_url(f"**/admin/policies?user={dev}")
    page.locator("[data-models] h3:has-text('developer@example.com')").wait_for()

    # The developer's lists: lower case, each once.
    form = page.locator("form[data-model-form]")
    form.locator("input[name=allowed-models]").fill("gpt-4o-mini, GPT-4o gpt-4o-mini")
    form.locator("input[name=allowed-providers]").fill("openai")
    form.locator("[data-save-models]").click()
    page.locator("[data-saved]:has-text('Model policy saved')").wait_for()
    assert api.get(f"/users/{dev}/model-policy").json() == {
        "allowed_models": ["gpt-4o", "gpt-4o-mini"],  # each once, stored sorted
        "allowed_providers": ["openai"],
    }
    # A name the API refuses: the server's reason, and the form stays.
    form.locator("input[name=allowed-models]").fill("gpt-4o, not!a-model")
    form.locator("[data-save-models]").click()
    page.locator("[data-error]").wait_for()
    assert form.locator("input[name=allowed-models]").input_value() == "gpt-4o, not!a-model"
    assert api.get(f"/users/{dev}/model-policy").json()["allowed_models"] == ["gpt-4o", "gpt-4o-mini"]

    # The developer's PII policy: per entity and a default, requests and replies.
    add_pii(page, "egress", "email", "block")
    add_pii(page, "egress", "default", "redact")
    add_pii(page, "ingress", "API_KEY", "block")
    page.click("[data-save-pii]")
    page.locator("[data-saved]:has-text('PII policy saved')").wait_for()
    assert api.get(f"/users/{dev}/pii-policy").json() == {
        "egress": {"EMAIL": "block", "default": "redact"},
        "ingress": {"API_KEY": "block"},
    }
    # A malformed entity is refused before anything is sent.
    add_pii(page, "egress", "e-mail", "warn")
    page.click("[data-save-pii]")
    assert "e-mail" in page.locator("[data-error]").inner_text()
    assert "EMAIL" in api.get(f"/users/{dev}/pii-policy").json()["egress"]
    page.locator('[data-pii=egress] tr[data-pii-row="e-mail"] [data-remove-pii]').click()

    # The agent: its own lists narrow the developer's; per entity the stricter action applies.
    page.locator("select[name=subject]").select_option(f"agent:{agent}")
    page.wait_for_url(f"**/admin/policies?agent={agent}")
    page.locator("[data-developer-models]:text-is('gpt-4o, gpt-4o-mini')").wait_for()
    page.locator("form[data-model-form] input[name=allowed-models]").fill("gpt-4o-mini")
    page.click("[data-save-models]")
    page.locator("[data-effective-models]:text-is('gpt-4o-mini')").wait_for()
    assert page.locator("[data-effective-providers]").inner_text() == "openai"
    add_pii(page, "egress", "EMAIL", "warn")
    add_pii(page, "egress", "PHONE", "pseudonymize")
    page.click("[data-save-pii]")
    page.locator("[data-saved]:has-text('PII policy saved')").wait_for()
    # EMAIL: the developer's block over the agent's warn; PHONE: the developer's default
    # (redact) is stricter than the agent's pseudonymize, so the default covers it.
    applied = page.locator("[data-effective-pii=egress]").inner_text()
    assert applied == "EMAIL: block, default: redact", applied
    assert page.locator("[data-developer-pii=egress]").inner_text() == "EMAIL: block, default: redact"
    assert page.locator("[data-effective-pii=ingress]").inner_text() == "API_KEY: block"
    assert api.get(f"/agents/{agent}/pii-policy").json()["agent"]["egress"] == {
        "EMAIL": "warn",
        "PHONE": "pseudonymize",
    }

    # A reload keeps the subject (it is in the URL); a row removed and saved is gone.
    page.reload()
    page.locator('[data-pii=egress] tr[data-pii-row="PHONE"] [data-remove-pii]').click()
    page.click("[data-save-pii]")
    page.locator("[data-saved]:has-text('PII policy saved')").wait_for()
    assert api.get(f"/agents/{agent}/pii-policy").json()["agent"]["egress"] == {"EMAIL": "warn"}
    assert refused == []
    page.close()
    api.close()


def test_developers_read_their_own_agents_policies_and_viewers_every_agents(
    browser: Browser, panel: EmbeddedControlPanel
) -> None:
    api = admin(panel)
    ids = people(api)
    mine, _ = agent_with_token(api, "mine", 10, owner_id=ids["developer"])
    theirs, _ = agent_with_token(api, "theirs", 10)
    assert (
        api.put(f"/agents/{mine}/model-policy", json={"allowed_models": ["gpt-4o-mini"]}).status_code == 200
    )
    assert api.put(f"/agents/{mine}/pii-policy", json={"egress": {"EMAIL": "block"}}).status_code == 200

    page, _ = new_page(browser)
    log_in(page, panel.url, "developer@example.com", PASSWORD)
    page.click("[data-tab='/admin/policies']")
    page.locator("[data-own-models]:text-is('gpt-4o-mini')").wait_for()
    options = page.locator("select[name=subject] option:not([disabled])").all_inner_texts()
    assert options == ["mine"], options  # neither the other agent nor any developer
    assert page.locator("[data-pii=egress] tr[data-pii-row=EMAIL] [data-action]").inner_text() == "block"
    assert page.locator("[data-model-form], [data-save-pii], [data-add-pii], [data-remove-pii]").count() == 0
    page.goto(f"{panel.url}/admin/policies?agent={theirs}")
    assert "another developer" in page.locator("[data-error]").inner_text()
    assert page.locator("[data-models]").count() == 0
    page.close()

    page, _ = new_page(browser)
    log_in(page, panel.url, "viewer@example.com", PASSWORD)
    page.goto(f"{panel.url}/admin/policies?agent={theirs}")
    page.locator("[data-models] h3:has-text('theirs')").wait_for()
    assert page.locator("[data-own-models]").inner_text() == "any"
    options = page.locator("select[name=subject] option:not([disabled])").all_inner_texts()
    assert options == ["mine", "theirs"], options
    assert page.locator("[data-model-form], [data-save-pii], [data-add-pii]").count() == 0
    page.close()
    api.close()


def test_empty_loading_and_error_states(browser: Browser, panel: EmbeddedControlPanel) -> None:
    api = admin(panel)
    people(api)
    page, _ = new_page(browser)
    log_in(page, panel.url, "viewer@example.com", PASSWORD)
    page.click("[data-tab='/admin/policies']")
    page.locator("[data-no-subjects]:has-text('No agents')").wait_for()
    assert page.locator("[data-models], [role=alert]").count() == 0
    page.close()

    agent, _ = agent_with_token(api, "slow", 10)
    page, _ = new_page(browser)
    log_in(page, panel.url)
    held: list[Route] = []
    page.route(f"**/api/v1/agents/{agent}/pii-policy", lambda route: held.append(route))
    page.goto(f"{panel.url}/admin/policies?agent={agent}")
    page.locator("main .empty:text-is('Loading…')").wait_for()
    page.wait_for_function("() => true")
    assert len(held) == 1
    held[0].continue_()
    page.locator("[data-models] h3:has-text('slow')").wait_for()
    page.locator("[data-pii=egress] td.empty:has-text('No policy')").wait_for()
    page.goto(f"{panel.url}/admin/policies?agent=999999")
    assert "999999" in page.locator("[data-error]").inner_text()
    assert page.locator("[data-models]").count() == 0
    page.close()
    api.close()


def test_the_policies_page_fits_a_390px_screen(browser: Browser, panel: EmbeddedControlPanel) -> None:
    api = admin(panel)
    agent, _ = agent_with_token(api, "an-agent-with-a-rather-long-name-indeed", 10)
    models = [f"a-rather-long-model-name-{i}" for i in range(8)]
    me = next(u["id"] for u in api.get("/users").json() if u["email"] == ADMIN_EMAIL)
    assert api.put(f"/users/{me}/model-policy", json={"allowed_models": models}).status_code == 200
    body = {"egress": {f"ENTITY_WITH_A_LONG_NAME_{i}": "pseudonymize" for i in range(6)}}
    assert api.put(f"/agents/{agent}/pii-policy", json=body).status_code == 200
    page, _ = new_page(browser, width=390)
    log_in(page, panel.url)
    page.goto(f"{panel.url}/admin/policies?agent={agent}")
    page.locator("[data-pii=egress] tbody tr").first.wait_for()
    page.locator("[data-developer-models]:has-text('model-name-7')").wait_for()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.evaluate("() => window.innerWidth"), width
    page.close()
    api.close()
