"""What the Control Panel answers outside the API: the dashboard at every page path (history
routing), JSON 404s under /api, and the API docs from the dashboard's build (no CDN)."""

from __future__ import annotations

import pytest

from iron_cage.control_panel.dashboard import STATIC

from .conftest import Api

pytestmark = pytest.mark.skipif(
    not (STATIC / "index.html").is_file(), reason="needs the dashboard's build (make dashboard)"
)


def test_page_paths_answer_the_app_and_api_paths_stay_json_404s(api: Api) -> None:
    app = (STATIC / "index.html").read_text()
    for path in ("/", "/calls", "/agents/3", "/admin/users"):
        r = api.client.get(path)
        assert r.status_code == 200, path
        assert r.text == app and r.headers["content-type"].startswith("text/html"), path
    for path in ("/api/v1/nothing-here", "/api/v2/agents", "/api"):
        r = api.client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found", path
    # A file that is not there is not the app either (a stale asset must not parse HTML as JS).
    assert api.client.get("/assets/gone-1234.js").status_code == 404


def test_the_api_docs_load_swagger_ui_from_this_server(api: Api) -> None:
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/api-docs/swagger-ui-bundle.js" in page.text and "http" not in page.text
    for asset in ("/api-docs/swagger-ui-bundle.js", "/api-docs/swagger-ui.css", "/api-docs/init.js"):
        r = api.client.get(asset)
        assert r.status_code == 200 and len(r.content) > 0, asset
    assert "/api/v1/openapi.json" in api.client.get("/api-docs/init.js").text
